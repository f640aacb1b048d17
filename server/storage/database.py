"""The connection to the database (SQLite or PostgreSQL) and what its errors mean.

Every repository works in transactions from here: `writing()` commits on success and rolls back
on error; `reading()` only reads. A full disk or a database that refuses writes is raised as
`engine.fileio.StorageError` (JSON 507/503, /healthz degraded) with nothing of the transaction
kept.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from engine.fileio import StorageError

log = logging.getLogger("draftguard")

# Below this much free space a SQLite database's folder counts as full in /healthz: SQLite
# needs room for its journal before a write can succeed.
MIN_FREE_BYTES = 16 * 1024 * 1024
# How long a SQLite connection waits for another process's write to finish.
SQLITE_BUSY_SECONDS = 15
# PostgreSQL's SQLSTATEs for "no space left" and "this server or transaction is read-only".
PG_DISK_FULL = "53100"
PG_READ_ONLY_TRANSACTION = "25006"


class NotFound(LookupError):
    """The row an admin acted on does not exist."""


class Conflict(Exception):
    """The action does not fit the current state (already reviewed, duplicate, ...)."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sqlite_url(path: Path) -> str:
    return sa.URL.create("sqlite", database=str(path)).render_as_string(hide_password=False)


def storage_fault(exc: sa.exc.DBAPIError) -> Optional[StorageError]:
    """The StorageError a driver error amounts to, or None for other errors (a bug, a conflict)."""
    error = exc.orig
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
        if code == sqlite3.SQLITE_FULL:
            return StorageError(full=True)
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
            return StorageError(full=False)
        return None
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate == PG_DISK_FULL:
        return StorageError(full=True)
    if sqlstate == PG_READ_ONLY_TRANSACTION:
        return StorageError(full=False)
    return None


class Database:
    def __init__(self, url: str):
        url = make_url(url)
        if url.drivername == "postgresql":  # a libpq-style URL: psycopg 3 is the driver we ship
            url = url.set(drivername="postgresql+psycopg")
        self.url = url
        self.sqlite_path = Path(url.database) if self.is_sqlite and url.database else None
        # Why the last write failed for lack of storage, until a write succeeds again.
        self.failure: Optional[str] = None
        if self.is_sqlite:
            self.engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
            sa.event.listen(self.engine, "connect", _tune_sqlite_connection)
        else:
            # A pooled connection may have been closed by a database restart: test it first.
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(self.engine, "after_cursor_execute", _note_changed_rows)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        """The URL without its password, for logs and messages."""
        return self.url.render_as_string(hide_password=True)

    def prepare_folder(self) -> None:
        """SQLite creates the file, not the folder it goes in."""
        if self.sqlite_path:
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends, rolled back if it raises."""
        with self._faults_as_storage_errors(), self.engine.begin() as conn:
            conn.info[CHANGED_ROWS] = False
            yield conn
            changed = conn.info[CHANGED_ROWS]
        if changed:  # the database took a write: whatever failed before is over
            self.failure = None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._faults_as_storage_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _faults_as_storage_errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            fault = storage_fault(exc)
            if fault is None:
                raise
            self.note_failure(fault)
            raise fault from exc

    def note_failure(self, fault: StorageError) -> None:
        self.failure = f"the last write failed: {fault}"

    def storage_problem(self) -> Optional[str]:
        """Why data cannot be saved now (for /healthz), or None. The folder of a SQLite file is
        looked at directly; a PostgreSQL server's disk only shows through failed writes."""
        if self.sqlite_path:
            folder = self.sqlite_path.parent
            try:
                if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
                    return "the data folder's disk is full"
            except OSError:
                return "the data folder cannot be read"
            if not os.access(folder, os.W_OK) or (self.sqlite_path.exists() and not os.access(self.sqlite_path, os.W_OK)):
                return "the data folder is read-only"
        return self.failure

    def upsert(self, table: sa.Table, keys: list[str], values: dict, update: dict) -> sa.Insert:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET update: the same statement in both
        dialects, built by each one's own insert()."""
        insert = (sqlite.insert if self.is_sqlite else postgresql.insert)(table).values(**values)
        return insert.on_conflict_do_update(index_elements=keys,
                                            set_={name: value(insert.excluded) for name, value in update.items()})


# Connection.info key: whether the current transaction has inserted, updated or deleted a row.
CHANGED_ROWS = "draftguard_changed_rows"


def _note_changed_rows(conn, cursor, statement, parameters, context, executemany) -> None:
    if (context.isinsert or context.isupdate or context.isdelete) and cursor.rowcount:
        conn.info[CHANGED_ROWS] = True


def _tune_sqlite_connection(dbapi_connection, _record) -> None:
    # WAL (set once per file by the migration step) makes NORMAL durable enough and much faster.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
