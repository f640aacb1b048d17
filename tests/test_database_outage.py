"""A database that cannot be reached: a clear JSON 503 (an HTML page in the console) that saves
nothing, checks answered meanwhile, counts kept for later, /healthz degraded, and recovery by
itself once the database is back.

The outages are real: a PostgreSQL server of the test's own (so that stopping it leaves the
session's server alone) is stopped and started again, a session is ended by the server
(pg_terminate_backend), and a SQLite database's data volume goes missing.
"""
import logging
import shutil

import pytest
import sqlalchemy as sa

from conftest import ADMIN_TOKEN, app_config, new_postgres_server
from server import create_app
from server.storage import Storage
from server.storage.database import DatabaseUnavailable
from server.storage.schema import feedback
from test_admin_console import console_app, login

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DRAFT = "the door code is 4512, tell nobody"


@pytest.fixture
def private_postgres():
    server = new_postgres_server()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()
    shutil.rmtree(server.socket_dir, ignore_errors=True)


def assert_database_unavailable(response, socket_dir):
    assert response.status_code == 503, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["message"].startswith("the database cannot be reached (")
    assert "nothing was saved" in error["message"] and "the check API keeps working" in error["message"]
    assert str(socket_dir) not in error["message"]


def test_postgresql_down_is_a_503_checks_go_on_and_it_recovers_by_itself(models_dir, tmp_path, private_postgres,
                                                                         caplog):
    url = private_postgres.url(private_postgres.create_database())
    # Counts are flushed on every check, so each check meets the outage.
    app = console_app(models_dir, tmp_path, DATABASE_URL=url, STATS_FLUSH_SECONDS=0)
    client, console = app.test_client(), app.test_client()
    assert login(console).status_code == 302
    assert client.post("/v1/feedback", json={"kind": "dismissed"}).status_code == 201
    assert client.post("/v1/check", json={"text": "hello team"}).status_code == 200

    private_postgres.stop()
    caplog.set_level(logging.INFO, logger="draftguard")
    assert_database_unavailable(client.post("/v1/feedback", json={"kind": "missed", "consent": True, "text": DRAFT,
                                                                  "categories": ["security"]}),
                                private_postgres.socket_dir)
    assert_database_unavailable(client.get("/v1/admin/examples", headers=AUTH), private_postgres.socket_dir)
    assert_database_unavailable(client.post("/v1/admin/examples", headers=AUTH, json={
        "examples": [{"text": "Project Heron ships in May", "labels": ["confidential"]}]}), private_postgres.socket_dir)
    page = console.get("/admin/feedback")
    assert page.status_code == 503 and "The database cannot be reached" in page.get_data(as_text=True)
    for n in range(3):
        assert client.post("/v1/check", json={"text": DRAFT}).status_code == 200
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded"
    assert health["detail"] == "the database cannot be reached (no connection could be made)"

    # One short line per failed flush: no statement, no socket path, no draft.
    flushes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not record check counts")]
    assert len(flushes) == 3
    for line in flushes:
        assert line == ("could not record check counts, kept for the next try: "
                        "the database cannot be reached (no connection could be made)")
    assert not [r for r in caplog.records if DRAFT in r.getMessage() or str(private_postgres.socket_dir) in r.getMessage()]

    private_postgres.start()
    assert client.post("/v1/feedback", json={"kind": "dismissed"}).status_code == 201
    assert client.get("/healthz").get_json() == {**health, "status": "ok", "detail": None}
    assert console.get("/admin/feedback").status_code == 200
    assert client.post("/v1/check", json={"text": "hello again"}).status_code == 200
    counts = {row["metric"]: row["count"] for row in Storage(url).counts.since("2000-01-01")}
    assert counts["checks"] == 5, "the counts of the checks during the outage were kept and added later"
    with Storage(url).database.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one() == 2, \
            "nothing was saved during the outage"

    # Restarted while no request came: the pooled connections are dead, yet the next request works.
    private_postgres.stop()
    private_postgres.start()
    assert client.get("/v1/admin/examples", headers=AUTH).status_code == 200
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_a_session_ended_by_the_server_is_unavailable_and_the_next_transaction_reconnects(postgres_server):
    name = postgres_server.create_database()
    database = Storage(postgres_server.url(name)).database
    try:
        with pytest.raises(DatabaseUnavailable, match=r"\(the server is shutting down or restarting\)"):
            with database.writing() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                postgres_server.execute(f"SELECT pg_terminate_backend({pid})")  # 57P01, as at a shutdown
                conn.exec_driver_sql("SELECT 1")
        assert database.storage_problem() == "the database cannot be reached (the server is shutting down or restarting)"
        with database.reading() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
        assert database.storage_problem() is None
    finally:
        database.engine.dispose()
        postgres_server.drop_database(name)


def test_a_worker_started_while_the_sqlite_volume_is_missing_answers_checks_and_503s(models_dir, tmp_path):
    # The data folder is a mount point, here a symbolic link to the volume.
    volume = tmp_path / "volume"
    volume.mkdir()
    (tmp_path / "data").symlink_to(volume)
    settings = app_config(models_dir, tmp_path / "data")
    create_app(settings).extensions["draftguard"]["counter"].flush()  # the database exists, as on a running server
    volume.rename(tmp_path / "unmounted")

    client = create_app(settings).test_client()
    assert client.post("/v1/check", json={"text": DRAFT}).status_code == 200
    response = client.post("/v1/feedback", json={"kind": "dismissed"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "database_unavailable"
    assert "(the database file cannot be opened)" in response.get_json()["error"]["message"]
    assert client.get("/v1/admin/feedback", headers=AUTH).status_code == 503
    assert client.get("/healthz").get_json()["detail"] == "the data folder cannot be read"

    (tmp_path / "unmounted").rename(volume)
    assert client.get("/v1/admin/feedback", headers=AUTH).status_code == 200
    assert client.post("/v1/feedback", json={"kind": "dismissed"}).status_code == 201
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_models_sync_says_when_the_database_cannot_be_reached(tmp_path):
    app = create_app(app_config(tmp_path / "models", tmp_path / "data",
                                DATABASE_URL="postgresql+psycopg://nobody@/draftguard?host=/nonexistent"))
    result = app.test_cli_runner().invoke(args=["models", "sync"])
    assert result.exit_code != 0
    assert "cannot be reached" in result.output
