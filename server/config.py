"""All configuration in one place: defaults, overridden by DRAFTGUARD_* environment variables.

`create_app(test_config)` applies a mapping on top, the way the Flask tutorial does.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from server.storage.database import sqlite_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The extension's own origins; a page on linkedin.com never calls the server directly
# (the extension's service worker does), so no website origin is allowed by default.
DEFAULT_CORS_ORIGINS = (
    r"^chrome-extension://[a-p]{32}$",
    r"^moz-extension://[0-9a-f-]{36}$",
)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def from_env(env: os._Environ | dict = os.environ) -> dict:
    """The configuration mapping, read from the environment with sensible defaults."""

    def get(name: str, default: str = "") -> str:
        return env.get(f"DRAFTGUARD_{name}", default)

    data_dir = Path(get("DATA_DIR", str(PROJECT_ROOT / "instance")))
    return {
        # Trained artifacts and registry.json, which records the active version.
        "MODELS_DIR": Path(get("MODELS_DIR", str(PROJECT_ROOT / "models"))),
        # The SQLite database (unless DATABASE_URL names another), the admin's edited policy pack.
        "DATA_DIR": data_dir,
        # Where feedback, counts and the admin's data live: a SQLAlchemy URL, e.g.
        # postgresql+psycopg://draftguard@db.internal/draftguard when several hosts serve. By
        # default a SQLite file (DRAFTGUARD_DATABASE, or draftguard.sqlite3 in DATA_DIR), which
        # needs no server.
        "DATABASE_URL": get("DATABASE_URL") or sqlite_url(Path(get("DATABASE", str(data_dir / "draftguard.sqlite3")))),
        # Bearer token the extension must send to /v1/*; empty means the check API is open
        # (fine on loopback, set it in production).
        "API_TOKEN": get("API_TOKEN"),
        # Bearer token for /v1/admin/*; empty means the admin API is closed.
        "ADMIN_TOKEN": get("ADMIN_TOKEN"),
        "CORS_ORIGINS": _split(get("CORS_ORIGINS")) or list(DEFAULT_CORS_ORIGINS),
        "MAX_TEXT_CHARS": int(get("MAX_TEXT_CHARS", "20000")),
        # Per client address (and per worker, unless REDIS_URL is set); "" disables (benchmarks).
        "CHECK_RATE_LIMIT": get("CHECK_RATE_LIMIT", "600 per minute"),
        # Where rate limits are counted: a Redis URL (redis://host:6379/0) makes the limits hold
        # across every worker and host; empty counts in each worker's memory.
        "REDIS_URL": get("REDIS_URL"),
        # How many proxies (load balancer, nginx) sit in front and set X-Forwarded-For and
        # X-Forwarded-Proto; 0 trusts none, so a client cannot pick its own address.
        "TRUSTED_PROXIES": int(get("TRUSTED_PROXIES", "0")),
        "FEEDBACK_RATE_LIMIT": get("FEEDBACK_RATE_LIMIT", "60 per minute"),
        "DIAGNOSTICS_RATE_LIMIT": get("DIAGNOSTICS_RATE_LIMIT", "60 per minute"),
        # Signs console sessions and CSRF tokens. Every worker must use the same key: when it is
        # not set, create_app keeps a generated one in DATA_DIR (see persistent_secret_key).
        "SECRET_KEY": get("SECRET_KEY"),
        # The default corpus that admin retraining starts from; the held-out test file, written
        # by writers the corpus has nothing from; and files whose figures are reported second.
        "TRAIN_DATA": [Path(p) for p in _split(get("TRAIN_DATA", ",".join(
            str(PROJECT_ROOT / "train" / "data" / folder) for folder in ("writers", "slices"))))],
        "TEST_DATA": Path(get("TEST_DATA", str(PROJECT_ROOT / "train" / "data" / "unseen-writers.jsonl"))),
        "SECONDARY_TEST_DATA": [Path(p) for p in _split(get("SECONDARY_TEST_DATA", str(PROJECT_ROOT / "train" / "data" / "test.jsonl")))],
        "STATS_FLUSH_SECONDS": float(get("STATS_FLUSH_SECONDS", "5")),
        # How often each worker asks the database whether a model was promoted or the policy
        # edited on any host (server/replication.py); 0 only at start.
        "REPLICA_POLL_SECONDS": float(get("REPLICA_POLL_SECONDS", "0.5")),
        # A client that sends nothing for this long, between any two reads of its request, is
        # disconnected (server/serving.py).
        "READ_TIMEOUT_SECONDS": float(get("READ_TIMEOUT_SECONDS", "10")),
        # Admin console and jobs.
        "ADMIN_UPLOAD_MAX_BYTES": int(get("ADMIN_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024))),
        "LOGIN_RATE_LIMIT": get("LOGIN_RATE_LIMIT", "10 per minute"),
        # Wrong admin API tokens per client before it gets 429 for the rest of the window.
        "ADMIN_AUTH_FAILURE_LIMIT": get("ADMIN_AUTH_FAILURE_LIMIT", "10 per minute"),
        # A console login lasts this long (the server-side session and the cookie alike).
        "PERMANENT_SESSION_LIFETIME": int(float(get("ADMIN_SESSION_HOURS", "8")) * 3600),
        # A training job whose process has not reported for this long is marked failed.
        "JOB_STALE_SECONDS": float(get("JOB_STALE_SECONDS", "90")),
        "SESSION_COOKIE_NAME": "draftguard_admin",
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Set DRAFTGUARD_SECURE_COOKIES=1 when the console is served over HTTPS.
        "SESSION_COOKIE_SECURE": get("SECURE_COOKIES") == "1",
        # A console form stays valid as long as the admin's session does.
        "WTF_CSRF_TIME_LIMIT": None,
    }


def to_env(settings: dict, names: list[str]) -> dict[str, str]:
    """The DRAFTGUARD_* variables that make `from_env` reproduce these settings (for the
    training subprocess, which must see the same folders as the app that started it)."""
    env = {}
    for name in names:
        value = settings[name]
        env[f"DRAFTGUARD_{name}"] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return env


def persistent_secret_key(data_dir: Path) -> str:
    """A random key created once in DATA_DIR and shared by every worker that reads it."""
    path = Path(data_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several workers starting at once, exactly one creates the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may not have written it yet
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it and restart")
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
