"""Disk full or read-only: a clear JSON 507/503, nothing half-written, /healthz degraded, and
recovery by itself. Counts survive a graceful restart. On SQLite and on PostgreSQL.

The databases' own errors are produced for real. SQLite: each connection taken from a pool gets
a page limit at the database's current size (SQLITE_FULL as soon as it would grow) or is made
query-only (SQLITE_READONLY). PostgreSQL: sessions become read-only (read_only_sql_transaction,
25006); for a full disk, a trigger on every table raises disk_full (53100), the error PostgreSQL
gives when it cannot extend a file. File writes fail at fsync with ENOSPC, where a full disk
reports them.
"""
import errno
import os
import shutil
import signal
import sqlite3

import pytest
import requests
import sqlalchemy as sa

from conftest import ADMIN_TOKEN, app_config, fill_postgres_disk, on_both_databases, start_server
from server import create_app
from server.storage import Storage, database as database_module

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LONG_CONSENTED_TEXT = "The vpn password is Falcon-2024, do not share it. " * 200  # needs new pages
TABLES = ("feedback", "examples", "audit", "jobs", "daily_counts", "admins", "admin_sessions", "pending_uploads",
          "evaluations")
# SQLite's own limit on a database's pages, to lift a test's limit again.
SQLITE_MAX_PAGES = sqlite3.connect(":memory:").execute("PRAGMA max_page_count").fetchone()[0]


@pytest.fixture
def client(models_dir, tmp_path, database_url):
    return create_app(app_config(models_dir, tmp_path / "data", DATABASE_URL=database_url)).test_client()


@pytest.fixture
def storage(database_url):
    """`storage.fill()` / `storage.make_read_only()` break the database; `storage.repair()` ends it."""
    is_sqlite = database_url.startswith("sqlite")
    admin = Storage(database_url).database.engine  # an operator's connection, beside the app's

    class Fault:
        kind = None

        def fill(self):
            self.kind = "full"
            if not is_sqlite:
                with admin.begin() as conn:
                    fill_postgres_disk(conn, TABLES)

        def make_read_only(self):
            self.kind = "read-only"

        def repair(self):
            if self.kind == "full" and not is_sqlite:
                with admin.begin() as conn:
                    conn.exec_driver_sql("DROP FUNCTION disk_full() CASCADE")
            self.kind = None

    fault = Fault()

    def on_checkout(dbapi_connection, record, proxy):
        if is_sqlite:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0] if fault.kind == "full" else SQLITE_MAX_PAGES
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")
            dbapi_connection.execute(f"PRAGMA query_only = {int(fault.kind == 'read-only')}")
        else:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET default_transaction_read_only = {'on' if fault.kind == 'read-only' else 'off'}")
            dbapi_connection.commit()  # a setting for the transactions to come

    sa.event.listen(sa.pool.Pool, "checkout", on_checkout)
    yield fault
    sa.event.remove(sa.pool.Pool, "checkout", on_checkout)


def _row_counts(client) -> dict:
    with Storage(client.application.config["DATABASE_URL"]).database.reading() as conn:
        return {table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in TABLES}


@on_both_databases
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


@on_both_databases
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
    monkeypatch.setattr(database_module.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 1024))
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["detail"] == "the data folder's disk is full"


@on_both_databases
def test_a_worker_restarted_while_the_disk_is_full_still_answers_checks(models_dir, tmp_path, storage, database_url):
    settings = app_config(models_dir, tmp_path / "data", DATABASE_URL=database_url)
    create_app(settings)  # the database exists, as on a running server
    storage.make_read_only()
    client = create_app(settings).test_client()
    assert client.post("/v1/check", json={"text": "hello team"}).status_code == 200


@on_both_databases
def test_counts_are_flushed_when_the_server_stops_gracefully(models_dir, tmp_path, database_url):
    (tmp_path / "data").mkdir()
    # Counts would otherwise reach the database only after an hour.
    server = start_server(models_dir, tmp_path / "data", DRAFTGUARD_STATS_FLUSH_SECONDS="3600",
                          DRAFTGUARD_DATABASE_URL=database_url)
    for n in range(12):
        assert requests.post(server.url + "/v1/check", json={"text": f"hello {n}"}, timeout=10).ok
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    counts = {row["metric"]: row["count"] for row in Storage(database_url).counts.since("2000-01-01")}
    assert counts.get("checks") == 12
