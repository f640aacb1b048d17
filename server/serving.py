"""How gunicorn serves Draftguard: one configuration for `make run`, the tests and production.

`gunicorn -c python:server.serving 'server:create_app()'`

Slow clients: an employee's browser, or an attacker, may open a connection and send a request
at a trickle. gevent workers hold each connection in a greenlet that costs a few kilobytes while
it waits, so slow clients never occupy the worker that answers everyone else's checks, and every
connection has a read timeout so none is held for ever. Checks are a few milliseconds of CPU, so
one event loop per core serves them in turn. See docs/admin.md for production behind a proxy.
"""
from __future__ import annotations

from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

# Not `config`: gunicorn reads every name in this module as a setting, and that one is taken.
from server.config import from_env as draftguard_settings

READ_TIMEOUT_SECONDS = draftguard_settings()["READ_TIMEOUT_SECONDS"]


class Worker(GeventWorker):
    """gevent worker whose connections time out when the client stops sending."""

    def handle(self, listener, client, addr):
        # GeventWorker.handle would make the socket wait without limit; a timeout still waits
        # (gevent's sockets yield to other greenlets meanwhile) but bounds each wait.
        client.settimeout(READ_TIMEOUT_SECONDS)
        AsyncWorker.handle(self, listener, client, addr)


# gunicorn settings (this module is read as its configuration file); `make run` adds --bind
# and --workers.
workers = 2
worker_class = "server.serving.Worker"
worker_connections = 1000
# Async workers notify the arbiter from their loop; a check never blocks it for long.
timeout = 30
graceful_timeout = 20
keepalive = 5
logger_class = "server.logs.GunicornLogger"
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
