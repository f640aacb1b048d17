"""All configuration in one place: defaults, overridden by DRAFTGUARD_* environment variables.

`create_app(test_config)` applies a mapping on top, the way the Flask tutorial does.
"""
from __future__ import annotations

import os
from pathlib import Path

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
        # SQLite database, the admin's edited policy pack, uploaded examples.
        "DATA_DIR": data_dir,
        "DATABASE": Path(get("DATABASE", str(data_dir / "draftguard.sqlite3"))),
        # Bearer token the extension must send to /v1/*; empty means the check API is open
        # (fine on loopback, set it in production).
        "API_TOKEN": get("API_TOKEN"),
        # Bearer token for /v1/admin/*; empty means the admin API is closed.
        "ADMIN_TOKEN": get("ADMIN_TOKEN"),
        "CORS_ORIGINS": _split(get("CORS_ORIGINS")) or list(DEFAULT_CORS_ORIGINS),
        "MAX_TEXT_CHARS": int(get("MAX_TEXT_CHARS", "20000")),
        # Per client address and worker; "" disables (benchmarks).
        "CHECK_RATE_LIMIT": get("CHECK_RATE_LIMIT", "600 per minute"),
        "FEEDBACK_RATE_LIMIT": get("FEEDBACK_RATE_LIMIT", "60 per minute"),
        "SECRET_KEY": get("SECRET_KEY") or os.urandom(32).hex(),
        # The default corpus that admin retraining starts from, and the held-out test file.
        "TRAIN_DATA": [Path(p) for p in _split(get("TRAIN_DATA", str(PROJECT_ROOT / "train" / "data" / "slices")))],
        "TEST_DATA": Path(get("TEST_DATA", str(PROJECT_ROOT / "train" / "data" / "test.jsonl"))),
        "STATS_FLUSH_SECONDS": float(get("STATS_FLUSH_SECONDS", "5")),
    }
