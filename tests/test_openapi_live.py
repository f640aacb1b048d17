"""schemathesis against the real server (gunicorn, as `make run` starts it): for every operation
of /v1/openapi.json, a bounded and deterministic set of generated requests, valid and invalid.
No answer may be a 5xx or one the document does not describe; tests/schemathesis.toml holds the
settings and the checks.

schemathesis runs as its CLI: its pytest loader for a schema that exists only once a fixture has
started the server (schemathesis.pytest.from_fixture) fails under pytest 9.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, start_server, stop_server

API_TOKEN = "live-ext-token"


@pytest.fixture(scope="module")
def token_server(trained_models, tmp_path_factory):
    """A server of its own (the run fills its feedback table), with an API token as in production."""
    base = tmp_path_factory.mktemp("openapi-live")
    shutil.copytree(trained_models, base / "models")
    (base / "data").mkdir()
    server = start_server(base / "models", base / "data", DRAFTGUARD_API_TOKEN=API_TOKEN)
    yield server
    stop_server(server)


def server_log(server) -> str:
    return "".join(path.read_text(errors="replace") for path in server.data_dir.parent.glob("gunicorn-*.log"))


def test_schemathesis_finds_no_5xx_and_no_answer_off_the_document(token_server, tmp_path):
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
         "run", f"{token_server.url}/v1/openapi.json", "--wait-for-schema", "15", "--report", "json", "--report-json-path", str(report)],
        cwd=tmp_path,  # its caches stay out of the work tree
        env={**os.environ, "DRAFTGUARD_API_TOKEN": API_TOKEN, "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, (f"{run.stdout[-20_000:]}\n{run.stderr[-5_000:]}\nserver exit status: "
                                 f"{token_server.process.poll()}; its log:\n{server_log(token_server)[-5_000:]}")
    summary = json.loads(report.read_text(encoding="utf-8"))
    assert summary["complete"] and not summary["failures"] and not summary["errors"]
    # check, policy, feedback, health (schemathesis does not count the route it loaded the document from)
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 4
    assert summary["test_cases"]["generated"] >= 200
