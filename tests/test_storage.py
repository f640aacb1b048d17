"""The storage layer, on SQLite and on PostgreSQL: migrations (and adopting a database made
before there were any), exactly one migrating process, each repository's behaviour, and a check
path that never queries the database."""
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from conftest import ROOT, app_config, on_both_databases
from engine.dataset import Example
from server import config, create_app
from server.storage import Conflict, NotFound, Storage, migrate, sqlite_url
from server.storage.schema import metadata

SCHEMA_BEFORE_MIGRATIONS = ROOT / "tests" / "data" / "schema-before-migrations.sql"


@pytest.fixture
def storage(database_url) -> Storage:
    storage = Storage(database_url)
    storage.migrate()
    assert storage.database.failure is None
    return storage


# SQLAlchemy cannot read an expression index back from SQLite, so autogenerate leaves
# one_live_job out there; test_the_first_migration_creates_the_schema_from_before_migrations
# compares it, and PostgreSQL's comparison includes it.
def schema_differences(storage: Storage) -> list:
    """What Alembic's autogenerate would change to make the database match schema.py."""
    with storage.database.reading() as conn, warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*expression-based index")
        return compare_metadata(MigrationContext.configure(conn), metadata)


# --- migrations ----------------------------------------------------------------------------

@on_both_databases
def test_migrations_create_the_schema_the_code_queries(storage):
    assert migrate.current_revision(storage.database) == migrate.head_revision()
    assert schema_differences(storage) == []
    assert migrate.upgrade(storage.database) is False  # the next start finds nothing to do


def legacy_database(path: Path) -> Path:
    """A database as the code before migrations made it, with a row in every table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA_BEFORE_MIGRATIONS.read_text())
    rows = {
        "feedback": "(created, kind, categories, text) VALUES ('2026-11-01T09:00:00+00:00', 'missed', '[\"privacy\"]', 'Jo is off sick')",
        "daily_counts": "VALUES ('2026-11-01', 'checks', 41)",
        "examples": "(created, text, text_key, labels, source, added_by) VALUES "
                    "('2026-11-01T09:00:00+00:00', 'Heron ships in May', 'heron ships in may', '[\"confidential\"]', 'api', 'alice')",
        "audit": "(at, actor, action, detail) VALUES ('2026-11-01T09:00:00+00:00', 'alice', 'examples.add', '{\"count\": 1}')",
        "jobs": "(id, created, requested_by, state, heartbeat) VALUES ('j1', '2026-11-01T09:00:00+00:00', 'alice', 'running', 1e12)",
        "admins": "VALUES ('alice', 'scrypt:hash', '2026-11-01T09:00:00+00:00')",
        "admin_sessions": "VALUES ('sha', 'alice', 1e12)",
        "pending_uploads": "VALUES ('u1', 'alice', 1e12, 'a.csv', x'00ff')",
        "evaluations": "VALUES ('v1', 'key', '{\"metrics\": {}}')",
    }
    for table, values in rows.items():
        db.execute(f"INSERT INTO {table} {values}")
    db.commit()
    db.close()
    return path


def sqlite_schema(path: Path) -> dict:
    """Every table's columns, keys and indexes as SQLite sees them."""
    db = sqlite3.connect(path)
    schema = {}
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT IN "
                                "('sqlite_sequence', 'alembic_version')"):
        # SQLAlchemy writes NOT NULL on primary keys, which the old DDL left out (and an INTEGER
        # PRIMARY KEY is never NULL anyway): compared as "not null or key".
        columns = [(c[1], c[2], bool(c[3] or c[5]), c[4], c[5]) for c in db.execute(f"PRAGMA table_info({name})")]
        indexes = {}
        for index in db.execute(f"PRAGMA index_list({name})"):
            index_sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (index[1],)).fetchone()[0]
            key = index[1] if index[3] == "c" else f"{index[3]}:{[c[2] for c in db.execute(f'PRAGMA index_info({index[1]})')]}"
            indexes[key] = (index[2], index[4], "".join((index_sql or "").replace("IF NOT EXISTS", "").split()))
        schema[name] = {"columns": columns, "indexes": indexes, "autoincrement": "AUTOINCREMENT" in sql}
    db.close()
    return schema


def test_the_first_migration_creates_the_schema_from_before_migrations(tmp_path):
    fresh = Storage(sqlite_url(tmp_path / "fresh.sqlite3"))
    fresh.database.prepare_folder()
    with migrate.locked(fresh.database) as conn:
        alembic = migrate.alembic_config()
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, "0001")
    assert sqlite_schema(tmp_path / "fresh.sqlite3") == sqlite_schema(legacy_database(tmp_path / "legacy.sqlite3"))


def test_a_database_from_before_migrations_is_adopted_with_its_data(tmp_path):
    path = legacy_database(tmp_path / "data" / "draftguard.sqlite3")
    storage = Storage(sqlite_url(path))
    assert migrate.upgrade(storage.database) is True
    assert migrate.current_revision(storage.database) == migrate.head_revision()
    assert [e["text"] for e in storage.examples.page()[0]] == ["Heron ships in May"]
    assert storage.feedback.summary() == {"by_kind": {"missed": 1}, "by_category": {"privacy": {"missed": 1}}}
    assert storage.counts.since("2026-11-01") == [{"day": "2026-11-01", "metric": "checks", "count": 41}]
    assert storage.audit.page()[0][0]["detail"] == {"count": 1}
    assert storage.admins.password_hash("alice") == "scrypt:hash" and storage.admins.session_admin("sha") == "alice"
    assert storage.uploads.get("u1", "alice") == ("a.csv", b"\x00\xff")
    assert storage.evaluations.get("v1", "key") == {"metrics": {}}
    # Its rules hold as before: one live job, one example per text; ids go on where they were.
    assert storage.jobs.live()["id"] == "j1" and not storage.jobs.create("j2", "bob", stale_after=60)
    with pytest.raises(Conflict):
        storage.examples.add([Example("x", "Heron ships in May", ("confidential",), "test")], "api", "bob")
    assert storage.feedback.add("dismissed", [], None, None, None, None) == 2
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


MIGRATING_PROCESS = """
import sys
from server.storage import Storage, migrate
database = Storage(sys.argv[1]).database
print("ready", flush=True)
sys.stdin.readline()  # all start migrating at once
print(migrate.upgrade(database))
"""


@on_both_databases
def test_exactly_one_of_several_starting_processes_migrates(database_url):
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATING_PROCESS, database_url], cwd=ROOT, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    for process in processes:
        assert process.stdout.readline() == "ready\n", process.communicate()[1]
    results = [process.communicate("go\n", timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 2, [err for _, err in results]
    assert sorted(out.strip() for out, _ in results) == ["False", "True"]
    storage = Storage(database_url)
    assert migrate.current_revision(storage.database) == migrate.head_revision()
    assert schema_differences(storage) == []


def test_the_database_url_defaults_to_the_sqlite_file_in_the_data_folder(tmp_path):
    assert config.from_env({"DRAFTGUARD_DATA_DIR": str(tmp_path)})["DATABASE_URL"] == \
        f"sqlite:///{tmp_path}/draftguard.sqlite3"
    assert config.from_env({"DRAFTGUARD_DATABASE": "/srv/dg.sqlite3"})["DATABASE_URL"] == "sqlite:////srv/dg.sqlite3"
    url = "postgresql://draftguard@db.internal/draftguard"
    assert config.from_env({"DRAFTGUARD_DATABASE": "/srv/dg.sqlite3", "DRAFTGUARD_DATABASE_URL": url})["DATABASE_URL"] == url
    # A libpq-style URL gets the driver Draftguard ships; passwords stay out of messages.
    assert Storage("postgresql://dg:s3cret@db.internal/dg").database.describe() == "postgresql+psycopg://dg:***@db.internal/dg"


# --- repositories --------------------------------------------------------------------------

@on_both_databases
def test_counts_from_many_workers_add_up(storage, database_url):
    def worker():
        counts = Storage(database_url).counts  # each worker and host has its own connections
        for _ in range(10):
            counts.add("2026-12-01", {"checks": 2, "flagged": 1, "flagged:privacy": 0})

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    storage.counts.add("2026-12-02", {"checks": 1})
    assert storage.counts.since("2026-12-01") == [{"day": "2026-12-01", "metric": "checks", "count": 80},
                                                  {"day": "2026-12-01", "metric": "flagged", "count": 40},
                                                  {"day": "2026-12-02", "metric": "checks", "count": 1}]
    assert storage.counts.since("2026-12-02") == [{"day": "2026-12-02", "metric": "checks", "count": 1}]


@on_both_databases
def test_examples_are_stored_all_or_none_and_deletions_audited(storage):
    heron = Example("a", "Project Heron ships in May", ("confidential",), "test")
    lunch = Example("b", "Lovely team lunch", (), "test")
    assert storage.examples.add([heron, lunch], "upload:a.csv", "alice") == 2
    with pytest.raises(Conflict):  # the second one's text is stored already: neither is stored
        storage.examples.add([Example("c", "A new text", (), "test"), Example("d", "project  HERON ships in May", (), "test")],
                             "api", "bob")
    items, total = storage.examples.page()
    assert total == 2 and [e["text"] for e in items] == ["Lovely team lunch", "Project Heron ships in May"]
    assert items[1]["labels"] == ["confidential"] and items[1]["source"] == "upload:a.csv"
    assert storage.examples.label_counts() == {"confidential": 1, "clean": 1}
    assert storage.examples.stored_ids(["PROJECT HERON ships in May", "unknown"]) == {"project heron ships in may": items[1]["id"]}
    assert [(e.text, e.labels, e.group) for e in storage.examples.for_training()] == [
        ("Project Heron ships in May", ("confidential",), "company:upload:a.csv"), ("Lovely team lunch", (), "company:upload:a.csv")]
    storage.examples.delete(items[0]["id"], "alice")
    with pytest.raises(NotFound):
        storage.examples.delete(items[0]["id"], "alice")
    assert [(e["action"], e["actor"]) for e in storage.audit.page()[0]] == [("examples.delete", "alice"), ("examples.add", "alice")]


@on_both_databases
def test_feedback_is_summarised_and_reviewed_once(storage):
    consented = storage.feedback.add("false_positive", ["financial", "privacy"], "v1", "linkedin", "post", "Our Q3 results")
    silent = storage.feedback.add("dismissed", ["financial"], "v1", None, None, None)
    assert storage.feedback.summary() == {"by_kind": {"dismissed": 1, "false_positive": 1}, "by_category": {
        "financial": {"dismissed": 1, "false_positive": 1}, "privacy": {"false_positive": 1}}}
    with pytest.raises(Conflict, match="did not consent"):
        storage.feedback.label(silent, ["financial"], "alice")
    example_id = storage.feedback.label(consented, [], "alice")
    with pytest.raises(Conflict, match="already labelled"):
        storage.feedback.discard(consented, "alice")
    storage.feedback.discard(silent, "alice")
    with pytest.raises(NotFound):
        storage.feedback.discard(silent + 100, "alice")
    assert storage.examples.page()[0][0]["id"] == example_id and storage.examples.page()[0][0]["feedback_id"] == consented
    assert [f["status"] for f in storage.feedback.recent()] == ["discarded", "labelled"]
    assert storage.feedback.recent("new") == [] and storage.feedback.summary() == {"by_kind": {}, "by_category": {}}
    today = storage.feedback.recent()[0]["created"][:10]
    assert storage.feedback.daily(today) == [{"day": today, "kind": "dismissed", "count": 1},
                                             {"day": today, "kind": "false_positive", "count": 1}]


@on_both_databases
def test_a_job_reports_progress_and_its_outcome(storage):
    assert storage.jobs.create("j1", "alice", stale_after=60)
    storage.jobs.progress("j1", "fitting", 0.5, "[  1.0s] 50% fitting")
    storage.jobs.record_candidate("j1", "v2")
    storage.jobs.finish("j1", error="out of memory")
    job = storage.jobs.get("j1")
    assert (job["state"], job["stage"], job["progress"], job["model_version"]) == ("failed", "failed", 0.5, "v2")
    assert job["log"] == "[  1.0s] 50% fitting\nfailed: out of memory\n"
    storage.jobs.progress("j1", "late line", 0.9, "ignored")  # a finished job stays as it ended
    assert storage.jobs.get("j1")["log"] == job["log"]
    for name in ("j2", "j3"):  # within the same second: the newest is still listed first
        assert storage.jobs.create(name, "bob", stale_after=60)
        storage.jobs.finish(name, model_version=f"v-{name}")
    assert [j["id"] for j in storage.jobs.recent()] == ["j3", "j2", "j1"]
    assert storage.jobs.get("j3")["progress"] == 1.0 and storage.jobs.live() is None


@on_both_databases
def test_a_job_that_stopped_beating_is_failed(storage):
    assert storage.jobs.create("ghost", "alice", stale_after=60)
    assert not storage.jobs.create("second", "bob", stale_after=60)
    storage.jobs.heartbeat("ghost")
    storage.jobs.fail_stale(stale_after=60)
    assert storage.jobs.live()["id"] == "ghost"
    time.sleep(0.05)
    assert storage.jobs.create("second", "bob", stale_after=0.01)
    assert storage.jobs.get("ghost")["state"] == "failed" and "stopped responding" in storage.jobs.get("ghost")["error"]
    assert [e["action"] for e in storage.audit.page()[0]] == ["train.start", "train.failed", "train.start"]


@on_both_databases
def test_admin_accounts_and_their_sessions(storage):
    storage.admins.add("alice", "scrypt:1", "cli:root")
    with pytest.raises(Conflict):
        storage.admins.add("alice", "scrypt:2", "cli:root")
    storage.admins.start_session("live", "alice", 3600)
    storage.admins.start_session("expired", "alice", -1)
    assert storage.admins.session_admin("live") == "alice" and storage.admins.session_admin("expired") is None
    storage.admins.set_password("alice", "scrypt:3", "cli:root")
    assert storage.admins.password_hash("alice") == "scrypt:3" and storage.admins.session_admin("live") is None
    storage.admins.start_session("again", "alice", 3600)
    storage.admins.end_session("again", "alice")
    assert storage.admins.session_admin("again") is None
    assert [a["name"] for a in storage.admins.all()] == ["alice"]
    storage.admins.remove("alice", "cli:root")
    with pytest.raises(NotFound):
        storage.admins.set_password("alice", "scrypt:4", "cli:root")
    assert storage.admins.all() == [] and storage.admins.password_hash("alice") is None


@on_both_databases
def test_pending_uploads_and_cached_evaluations(storage):
    data = b"text,labels\n\x00\xff not UTF-8\n"
    storage.uploads.hold("u1", "alice", "a.csv", data)
    assert storage.uploads.get("u1", "alice") == ("a.csv", data)
    assert storage.uploads.get("u1", "bob") is None  # another admin's preview is not theirs to confirm
    storage.uploads.drop("u1")
    assert storage.uploads.get("u1", "alice") is None
    assert storage.evaluations.get("v1", "k") is None
    storage.evaluations.save("v1", "k", {"metrics": {"micro": 0.5}})
    storage.evaluations.save("v1", "k", {"metrics": {"micro": 0.7}})
    assert storage.evaluations.get("v1", "k") == {"metrics": {"micro": 0.7}}


@on_both_databases
def test_a_nul_character_is_stored_as_a_replacement_character(storage):
    # PostgreSQL cannot store NUL in text; a client that sends one gets an answer, not an error.
    storage.feedback.add("missed", [], "v\x00", "linkedin", "post", "door code\x00 4512")
    assert storage.feedback.recent()[0]["text"] == "door code\ufffd 4512"
    assert storage.admins.password_hash("al\x00ice") is None and storage.jobs.get("j\x00") is None


# --- the check path ------------------------------------------------------------------------

def test_the_check_path_never_queries_the_database(models_dir, tmp_path):
    app = create_app(app_config(models_dir, tmp_path / "data", STATS_FLUSH_SECONDS=3600))
    statements = []
    sa.event.listen(app.extensions["draftguard"]["storage"].database.engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *args: statements.append(statement))
    client = app.test_client()
    for text in ("our wifi password is Zebra42!", "lovely weather today"):
        assert client.post("/v1/check", json={"text": text}).status_code == 200
    assert client.get("/v1/policy").status_code == 200 and client.get("/healthz").get_json()["status"] == "ok"
    assert statements == []
    app.extensions["draftguard"]["counter"].flush()  # every few seconds, off the request's path
    assert any("daily_counts" in statement for statement in statements)

