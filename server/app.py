"""The Flask application factory, after the Flask tutorial (reached as `server.create_app`)."""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.registry import watch_active_model
from server import admin, api, cli, config, console, logs
from server.extensions import csrf, limiter
from server.passwords import ScryptPasswords
from server.replication import Replica, SharedPolicy, SharedRegistry
from server.service import AdminService
from server.stats import CheckCounter
from server.storage import Storage
from server.web import register_error_handlers


def create_app(test_config: Optional[dict] = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config.from_env())
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.persistent_secret_key(app.config["DATA_DIR"])
    # Oversized bodies are refused before they are read (413); the text limit itself is
    # checked in the API so the message can name it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_TEXT_CHARS"] * 4 + 64 * 1024
    app.json.ensure_ascii = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs.install()

    storage = Storage(app.config["DATABASE_URL"])
    storage.migrate()
    # This host's folders are its copy of what the database records for every host.
    registry = SharedRegistry(app.config["MODELS_DIR"], storage.shared)
    policy = SharedPolicy(app.config["DATA_DIR"], storage.shared)
    replica = Replica(registry, policy, storage.shared)
    replica.catch_up()
    model = watch_active_model(registry)
    replica.follow(app.config["REPLICA_POLL_SECONDS"], then=model.current)
    app.extensions["draftguard"] = {
        # What the admin API, the console and the CLI call, for reads and changes alike.
        "service": AdminService(app.config, storage=storage, registry=registry, model=model, policy=policy,
                                passwords=ScryptPasswords(), replica=replica),
        # What the check API and /healthz read directly (and tests, to look behind the service).
        "registry": registry,
        "model": model,
        "policy": policy,
        "storage": storage,
        "replica": replica,
        "counter": CheckCounter(storage.counts, app.config["STATS_FLUSH_SECONDS"]),
    }

    register_error_handlers(app)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"] or "memory://"
    # Redis out of reach must not stop checks: each worker counts in memory meanwhile.
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True
    limiter.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        # Limits, the audit log and the access log then see the client, not the load balancer.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    # Ahead of CSRF protection, which reads the form (and so the body) in its own hook.
    app.before_request(admin.allow_large_uploads)
    csrf.init_app(app)
    csrf.exempt(api.bp)
    csrf.exempt(admin.bp)
    # The extension's API only: the admin API is for scripts and the same-origin console, so no
    # extension (nor any page) gets CORS headers for it.
    CORS(app, resources={r"/v1/(?!admin(/|$)).*": {"origins": app.config["CORS_ORIGINS"]}},
         allow_headers=["Content-Type", "Authorization"], max_age=600)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(console.bp)
    cli.register(app)
    return app
