"""Schema migrations (Alembic, in migrations/) run when the app starts.

Every worker of every host starts at about the same time. Each looks at the schema's revision
and, if it is not the newest, upgrades in one transaction that first takes the database's
migration lock: PostgreSQL's pg_advisory_xact_lock, SQLite's own write lock (BEGIN IMMEDIATE;
SQLite's DDL is transactional too). The others wait for that lock, and then Alembic, reading
the revision again, finds nothing left to do. So exactly one process migrates, and none serves
on a schema it does not know.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Optional

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from server.storage.database import SQLITE_BUSY_SECONDS, Database

log = logging.getLogger("draftguard")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The key of the advisory lock every Draftguard process takes to migrate (any fixed number).
PG_MIGRATION_LOCK = 0x6472616674  # "draft"
# A SQLite process waits this long for another one's migration (a data migration may be slow).
SQLITE_MIGRATION_WAIT_MS = 10 * 60 * 1000


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(database: Database) -> Optional[str]:
    with database.reading() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(database: Database) -> bool:
    """Bring the schema to the newest revision; True if this process did it, False if it was
    there already (or another process got there first)."""
    database.prepare_folder()
    if current_revision(database) == head_revision():
        return False
    config = alembic_config()
    with locked(database) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        if before == head_revision():
            return False
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    log.info("storage: %s is at revision %s (was %s)", database.describe(), head_revision(), before or "unversioned")
    return True


@contextmanager
def locked(database: Database) -> Iterator[Connection]:
    """A transaction holding the migration lock, committed when the block ends."""
    with database.writing() as conn:
        if database.is_sqlite:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_MIGRATION_WAIT_MS}")
            # Readers never wait for a writer in WAL mode. A property of the file, set once; it
            # cannot change inside a transaction.
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            finally:  # the connection goes back to the pool: the usual wait from now on
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
        else:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
            yield conn
