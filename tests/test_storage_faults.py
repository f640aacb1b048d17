"""Disk full or read-only: a clear JSON 507/503, nothing half-written, /healthz degraded, and
recovery by itself. Counts survive a graceful restart.

SQLite's own errors are produced for real: each connection the store opens gets a page limit
at the database's current size (SQLITE_FULL as soon as it would grow) or is made query-only
(SQLITE_READONLY). File writes fail at fsync with ENOSPC, where a full disk reports them.
"""
import errno
import os
import shutil
import signal
import sqlite3

import pytest
import requests

from conftest import ADMIN_TOKEN, app_config, start_server
from server import create_app, store as store_module
from server.store import Store

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LONG_CONSENTED_TEXT = "The vpn password is Falcon-2024, do not share it. " * 200  # needs new pages


@pytest.fixture
def client(models_dir, tmp_path):
    return create_app(app_config(models_dir, tmp_path / "data")).test_client()


@pytest.fixture
def storage(monkeypatch):
    """`storage.fill()` / `storage.make_read_only()` break the database; `storage.repair()` ends it."""
    connect = sqlite3.connect

    class Fault:
        pragma = None

        def fill(self):
            self.pragma = "full"

        def make_read_only(self):
            self.pragma = "read-only"

        def repair(self):
            self.pragma = None

    fault = Fault()

    def faulty_connect(*args, **kwargs):
        db = connect(*args, **kwargs)
        if fault.pragma == "full":
            db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        elif fault.pragma == "read-only":
            db.execute("PRAGMA query_only = 1")
        return db

    monkeypatch.setattr(store_module.sqlite3, "connect", faulty_connect)
    return fault


def _row_counts(client) -> dict:
    with Store(client.application.config["DATABASE"]).connect() as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("feedback", "examples", "audit", "jobs")}


def test_a_full_disk_is_a_507_that_saves_nothing_and_health_says_degraded(client, storage):
    before = _row_counts(client)
    storage.fill()
    feedback = client.post("/v1/feedback", json={"kind": "missed", "consent": True, "text": LONG_CONSENTED_TEXT,
                                                  "categories": ["security"]})
    examples = client.post("/v1/admin/examples", headers=AUTH, json={"examples": [
        {"text": f"Project Heron ships in May, batch {n}. " * 20, "labels": ["confidential"]} for n in range(50)]})
    for response in (feedback, examples):
        assert response.status_code == 507, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "insufficient_storage" and "disk is full" in error["message"]
        assert "nothing was saved" in error["message"]
    storage.repair()
    assert _row_counts(client) == before
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and "disk is full" in health["detail"]
    assert client.post("/v1/check", json={"text": "the door code is 4512"}).status_code == 200

    # Space freed: the next write succeeds and health recovers by itself.
    assert client.post("/v1/feedback", json={"kind": "dismissed"}).status_code == 201
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_a_read_only_database_is_a_503_on_every_write_and_checks_go_on(client, storage):
    before = _row_counts(client)
    policy = client.get("/v1/admin/policy", headers=AUTH).get_json()
    storage.make_read_only()
    writes = [
        client.post("/v1/feedback", json={"kind": "dismissed"}),
        client.post("/v1/admin/examples", headers=AUTH,
                    json={"examples": [{"text": "Project Heron ships in May", "labels": ["confidential"]}]}),
        client.put("/v1/admin/policy", headers=AUTH, json=policy),
        client.post("/v1/admin/train", headers=AUTH),
    ]
    for response in writes:
        assert response.status_code == 503, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "storage_unavailable" and "read-only" in error["message"]
    assert client.post("/v1/check", json={"text": "the door code is 4512"}).status_code == 200
    assert client.get("/healthz").get_json()["status"] == "degraded"
    storage.repair()
    assert _row_counts(client) == before
    # The policy edit was undone with its audit entry: still the version it was.
    assert client.get("/v1/admin/policy", headers=AUTH).get_json()["version"] == policy["version"]


def test_a_policy_file_that_cannot_be_written_changes_nothing(client, monkeypatch):
    data_dir = client.application.config["DATA_DIR"]
    policy = client.get("/v1/admin/policy", headers=AUTH).get_json()
    files_before = sorted(p.name for p in data_dir.iterdir())

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    response = client.put("/v1/admin/policy", headers=AUTH, json={**policy, "name": "Edited while the disk is full"})
    monkeypatch.undo()
    assert response.status_code == 507 and response.get_json()["error"]["code"] == "insufficient_storage"
    assert sorted(p.name for p in data_dir.iterdir()) == files_before, "no temporary file left behind"
    assert client.get("/v1/admin/policy", headers=AUTH).get_json() == policy
    assert client.get("/healthz").get_json()["status"] == "degraded"


def test_health_reports_a_data_folder_short_of_space(client, monkeypatch):
    assert client.get("/healthz").get_json()["status"] == "ok"
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1024))
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["detail"] == "the data folder's disk is full"


def test_a_worker_restarted_while_the_disk_is_full_still_answers_checks(models_dir, tmp_path, storage):
    data_dir = tmp_path / "data"
    create_app(app_config(models_dir, data_dir))  # the database exists, as on a running server
    storage.make_read_only()
    client = create_app(app_config(models_dir, data_dir)).test_client()
    assert client.post("/v1/check", json={"text": "hello team"}).status_code == 200


def test_counts_are_flushed_when_the_server_stops_gracefully(models_dir, tmp_path):
    (tmp_path / "data").mkdir()
    # Counts would otherwise reach the database only after an hour.
    server = start_server(models_dir, tmp_path / "data", DRAFTGUARD_STATS_FLUSH_SECONDS="3600")
    for n in range(12):
        assert requests.post(server.url + "/v1/check", json={"text": f"hello {n}"}, timeout=10).ok
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    with Store(tmp_path / "data" / "draftguard.sqlite3").connect() as db:
        counts = dict(db.execute("SELECT metric, SUM(count) FROM daily_counts GROUP BY metric").fetchall())
    assert counts.get("checks") == 12
