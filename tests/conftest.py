"""Shared fixtures, after the Flask tutorial: `app` and `client`, plus a real server process.

The default model is trained once per test session on the real corpus (the same code path as
`python -m train`); tests that change the registry get their own copy of it.
"""
from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from server import classifier, config, create_app
from server.policy import default_pack
from server.registry import Registry
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
        "DATABASE": data_dir / "draftguard.sqlite3",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "CHECK_RATE_LIMIT": "",
        "FEEDBACK_RATE_LIMIT": "",
        "ADMIN_AUTH_FAILURE_LIMIT": "",
        "SECRET_KEY": "test-secret",
        **overrides,
    }


@pytest.fixture
def app(models_dir, tmp_path):
    return create_app(app_config(models_dir, tmp_path / "data"))


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
        "DRAFTGUARD_DATABASE": str(data_dir / "draftguard.sqlite3"),
        "DRAFTGUARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "DRAFTGUARD_CHECK_RATE_LIMIT": "",
        "DRAFTGUARD_FEEDBACK_RATE_LIMIT": "",
        "DRAFTGUARD_ADMIN_AUTH_FAILURE_LIMIT": "",
        "DRAFTGUARD_SECRET_KEY": "test-secret",
        **env_overrides,
    }
    log = open(data_dir.parent / f"gunicorn-{port}.log", "wb")
    process = subprocess.Popen(
        # Several servers run side by side; gunicorn's control socket is one path per user.
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--no-control-socket", "--access-logfile", "-", "--logger-class", "server.logs.GunicornLogger",
         "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms', "server:create_app()"],
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
