"""Shared fixtures, after the Flask tutorial: `app` and `client`, plus a real server process.

The default model is trained once per test session on the real corpus (the same code path as
`python -m train`); tests that change the registry get their own copy of it.

Apps store their data in a SQLite file by default; a test marked `@on_both_databases` runs twice,
the second time on a fresh database of a real PostgreSQL server started for the session.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Optional

import psycopg
import pytest
import requests

from engine import classifier
from engine.policy import default_pack
from engine.registry import Registry
from server import config, create_app
from server.storage import sqlite_url
from train.training import train_and_register

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token"


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory) -> Path:
    """A models folder holding one active version trained on the default corpus; tests that
    change a registry take `models_dir`, a copy.

    DRAFTGUARD_TEST_MODELS may name a models folder trained the same way beforehand
    (`python -m train --models-dir DIR`): the mutation run (`make mutation`) starts a test
    session per mutant and cannot spend the training time on each."""
    pretrained = os.environ.get("DRAFTGUARD_TEST_MODELS")
    if pretrained:
        return Path(pretrained)
    models_dir = tmp_path_factory.mktemp("trained") / "models"
    defaults = config.from_env()
    train_and_register(Registry(models_dir), default_pack(), defaults["TRAIN_DATA"], defaults["TEST_DATA"],
                       activate=True, secondary_test_paths=defaults["SECONDARY_TEST_DATA"])
    return models_dir


@functools.cache
def active_model(models_dir: Path) -> classifier.Model:
    """The active model of a models folder, loaded once per process: mutmut forks each mutant's
    test session from a process that has loaded it already, which saves seconds per mutant."""
    registry = Registry(models_dir)
    return registry.load(registry.active_version())


@pytest.fixture(scope="session")
def trained_model(trained_models) -> classifier.Model:
    """The active model of `trained_models` (shared: tests read it, never change it)."""
    return active_model(trained_models)


@pytest.fixture(scope="session")
def trained_metadata(trained_models) -> dict:
    registry = Registry(trained_models)
    return registry.metadata(registry.active_version())


@pytest.fixture
def models_dir(trained_models, tmp_path) -> Path:
    """A private copy of the trained models folder, free to tamper with."""
    copy = tmp_path / "models"
    shutil.copytree(trained_models, copy)
    return copy


def app_config(models_dir: Path, data_dir: Path, **overrides) -> dict:
    return {
        "TESTING": True,
        "MODELS_DIR": models_dir,
        "DATA_DIR": data_dir,
        "DATABASE_URL": sqlite_url(data_dir / "draftguard.sqlite3"),
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "CHECK_RATE_LIMIT": "",
        "FEEDBACK_RATE_LIMIT": "",
        "DIAGNOSTICS_RATE_LIMIT": "",
        "ADMIN_AUTH_FAILURE_LIMIT": "",
        "SECRET_KEY": "test-secret",
        # An app in the test process catches up with the database when made, not in a thread of
        # its own beside the test (tests/test_replication.py tests the thread).
        "REPLICA_POLL_SECONDS": 0,
        **overrides,
    }


@pytest.fixture
def app(models_dir, tmp_path, database_url):
    return create_app(app_config(models_dir, tmp_path / "data", DATABASE_URL=database_url))


@pytest.fixture
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    admin_token: str
    models_dir: Path
    data_dir: Path
    process: subprocess.Popen


def start_server(models_dir: Path, data_dir: Path, workers: int = 2, **env_overrides: str) -> LiveServer:
    """The production server (gunicorn, as `make run` starts it) on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "DRAFTGUARD_MODELS_DIR": str(models_dir),
        "DRAFTGUARD_DATA_DIR": str(data_dir),
        "DRAFTGUARD_DATABASE_URL": sqlite_url(data_dir / "draftguard.sqlite3"),
        "DRAFTGUARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "DRAFTGUARD_CHECK_RATE_LIMIT": "",
        "DRAFTGUARD_FEEDBACK_RATE_LIMIT": "",
        "DRAFTGUARD_DIAGNOSTICS_RATE_LIMIT": "",
        "DRAFTGUARD_ADMIN_AUTH_FAILURE_LIMIT": "",
        "DRAFTGUARD_SECRET_KEY": "test-secret",
        **env_overrides,
    }
    log = open(data_dir.parent / f"gunicorn-{port}.log", "wb")
    process = subprocess.Popen(
        # Several servers run side by side; gunicorn's control socket is one path per user.
        [sys.executable, "-m", "gunicorn", "-c", "python:server.serving", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--no-control-socket", "server:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log.name}")
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                return LiveServer(url, ADMIN_TOKEN, models_dir, data_dir, process)
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not become healthy in 30 s; see {log.name}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(trained_models, tmp_path_factory):
    """One production server for the session (browser tests, HTTP tests)."""
    base = tmp_path_factory.mktemp("live")
    models_dir = base / "models"
    shutil.copytree(trained_models, models_dir)
    (base / "data").mkdir()
    server = start_server(models_dir, base / "data")
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """A real Redis server (Debian's redis-server, which `make test` installs) on loopback."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make test` installs it (tests/services/setup.sh)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(folder)], stdout=open(folder / "redis.log", "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


# --- databases -------------------------------------------------------------------------------

# initdb and postgres refuse to run as root (as the tests do here and in CI): the server runs as
# this unprivileged user, in a folder it owns.
POSTGRES_USER = "nobody"
on_both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@dataclass
class PostgresServer:
    """A PostgreSQL server listening only on a unix socket in its own temporary folder; made by
    `new_postgres_server()`, it can be stopped and started again on the same data."""
    socket_dir: Path
    process: Optional[subprocess.Popen] = None
    _names = count(1)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://draftguard@/{database}?host={self.socket_dir}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(host=str(self.socket_dir), user="draftguard", dbname="postgres", autocommit=True) as db:
            db.execute(sql)

    def create_database(self) -> str:
        name = f"test_{next(self._names)}"
        self.execute(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE {name} WITH (FORCE)")  # and end the connections apps left open

    def start(self) -> None:
        log_path = self.socket_dir / "postgres.log"
        # Durability is no concern for a test server; speed is.
        self.process = subprocess.Popen(
            [postgres_bin() / "postgres", "-D", self.socket_dir / "data", "-k", self.socket_dir,
             "-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=300"],
            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, cwd=self.socket_dir, **_as_postgres_user())
        deadline = time.monotonic() + 30
        while True:
            try:
                self.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    pytest.fail(f"PostgreSQL did not start: {log_path.read_text(errors='replace')}")
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown: does not wait for clients to leave
        self.process.wait(timeout=30)


def fill_postgres_disk(conn, tables: tuple[str, ...]) -> None:
    """Make every insert or update of `tables` fail as on a full disk: a trigger raises disk_full
    (53100), the error PostgreSQL gives when it cannot extend a file. `DROP FUNCTION disk_full()
    CASCADE` frees the space again. `conn`: a SQLAlchemy connection in a transaction."""
    conn.exec_driver_sql("CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                         "RAISE EXCEPTION 'could not extend file: No space left on device' "
                         "USING ERRCODE = 'disk_full'; END $$")
    for table in tables:
        conn.exec_driver_sql(f"CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON {table} "
                             "FOR EACH ROW EXECUTE FUNCTION disk_full()")


def postgres_bin() -> Path:
    """The newest PostgreSQL's binaries (Debian's layout: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres): "
                    "`make test` installs it (tests/services/setup.sh)")
    return found[-1].parent


def _as_postgres_user() -> dict:
    """subprocess arguments that run a PostgreSQL program as POSTGRES_USER when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": POSTGRES_USER, "group": os.getgid(), "extra_groups": []}


def new_postgres_server() -> PostgresServer:
    """A new, not yet started, database cluster in a temporary folder (remove it when done)."""
    folder = Path(tempfile.mkdtemp(prefix="draftguard-pg-"))  # not under pytest's root-only folder
    if os.geteuid() == 0:
        shutil.chown(folder, POSTGRES_USER)
    try:
        subprocess.run([postgres_bin() / "initdb", "-D", folder / "data", "-U", "draftguard", "--auth=trust",
                        "--no-sync", "--encoding=UTF8", "--locale=C"],
                       check=True, capture_output=True, cwd=folder, **_as_postgres_user())
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"initdb failed: {exc.stderr.decode(errors='replace')}")
    return PostgresServer(folder)


@pytest.fixture(scope="session")
def postgres_server():
    server = new_postgres_server()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.socket_dir, ignore_errors=True)


@pytest.fixture
def database_url(request, tmp_path) -> str:
    """Where the test's app stores its data: a SQLite file in the test's data folder, or, for
    tests marked on_both_databases, a fresh database on the session's PostgreSQL server."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield sqlite_url(tmp_path / "data" / "draftguard.sqlite3")
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)
