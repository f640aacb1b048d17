"""The connection to the database (SQLite or PostgreSQL) and what its errors mean.

Every repository works in transactions from here: `writing()` commits on success and rolls back
on error; `reading()` only reads. A full disk or a database that refuses writes is raised as
`engine.fileio.StorageError` (JSON 507/503, /healthz degraded) with nothing of the transaction
kept; a database that cannot be reached (PostgreSQL down, restarting or out of connections, a
dropped connection, a SQLite file that cannot be opened) as its subclass DatabaseUnavailable
(JSON 503). Either clears by itself: the next transaction that succeeds ends it.
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
# PostgreSQL's SQLSTATEs for a server that ends or refuses sessions: admin_shutdown (57P01, also
# a session ended by pg_terminate_backend), crash_shutdown (57P02), cannot_connect_now (57P03:
# starting up or shutting down); too_many_connections (53300); class 08, connection_exception.
PG_SHUTTING_DOWN = ("57P01", "57P02", "57P03")
PG_TOO_MANY_CONNECTIONS = "53300"
PG_CONNECTION_EXCEPTION_CLASS = "08"
# How long a connection to PostgreSQL may take to open unless the URL sets connect_timeout:
# libpq's default waits until the operating system gives up (minutes on an unanswered host),
# holding the request, or the check that flushes counts, all that time.
PG_CONNECT_TIMEOUT_SECONDS = 5


class NotFound(LookupError):
    """The row an admin acted on does not exist."""


class Conflict(Exception):
    """The action does not fit the current state (already reviewed, duplicate, ...)."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached; nothing of the transaction was kept. A StorageError, so
    that every caller that undoes a half-done change on one (a policy edit without its audit
    entry) does so here too."""

    def __init__(self, reason: str):
        super().__init__(full=False, message=f"the database cannot be reached ({reason})")


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
        if code == sqlite3.SQLITE_CANTOPEN:  # the data folder vanished, or the file may not be opened
            return DatabaseUnavailable("the database file cannot be opened")
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR):
            return StorageError(full=False)
        return None
    sqlstate = getattr(error, "sqlstate", None)  # psycopg
    if sqlstate == PG_DISK_FULL:
        return StorageError(full=True)
    if sqlstate == PG_READ_ONLY_TRANSACTION:
        return StorageError(full=False)
    reason = _unreachable_reason(exc, sqlstate)
    return DatabaseUnavailable(reason) if reason else None


def _unreachable_reason(exc: sa.exc.DBAPIError, sqlstate: Optional[str]) -> Optional[str]:
    """Why a PostgreSQL error means the server cannot be reached, or None. In our words: the
    driver's message names the host or socket, which /healthz does not show."""
    if sqlstate in PG_SHUTTING_DOWN:
        return "the server is shutting down or restarting"
    if sqlstate == PG_TOO_MANY_CONNECTIONS:
        return "the server accepts no more connections"
    # connection_invalidated: SQLAlchemy saw a disconnect and drops the pool's older connections,
    # so the next transaction opens a new one.
    if exc.connection_invalidated or (sqlstate or "").startswith(PG_CONNECTION_EXCEPTION_CLASS):
        return "the connection failed or was lost"
    if sqlstate is None and isinstance(exc, sa.exc.OperationalError):
        # The driver failed before any answer from a server: refused, no such socket, timed out.
        return "no connection could be made"
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
        # Why the database could not be reached, until a transaction succeeds again.
        self.unreachable: Optional[str] = None
        if self.is_sqlite:
            self.engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
            sa.event.listen(self.engine, "connect", _tune_sqlite_connection)
        else:
            connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
            # A pooled connection may have been closed by a database restart: test it first.
            self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
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
        self._reached()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._faults_as_storage_errors(), self.engine.connect() as conn:
            yield conn
        self._reached()

    def _reached(self) -> None:
        if self.unreachable:
            log.info("storage: the database can be reached again")
            self.unreachable = None

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
        if isinstance(fault, DatabaseUnavailable):
            if not self.unreachable:  # once per outage: every request meanwhile fails the same way
                log.warning("storage: %s", fault)
            self.unreachable = str(fault)
        else:
            self.failure = f"the last write failed: {fault}"

    def storage_problem(self) -> Optional[str]:
        """Why data cannot be saved now (for /healthz), or None. The folder of a SQLite file is
        looked at directly; a PostgreSQL server's disk and whether it is up only show through
        failed transactions: /healthz, probed often by load balancers, does not query it."""
        if self.sqlite_path:
            folder = self.sqlite_path.parent
            try:
                if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
                    return "the data folder's disk is full"
            except OSError:
                return "the data folder cannot be read"
            if not os.access(folder, os.W_OK) or (self.sqlite_path.exists() and not os.access(self.sqlite_path, os.W_OK)):
                return "the data folder is read-only"
        return self.unreachable or self.failure

    def upsert(self, table: sa.Table, keys: list[str], values: dict, update: dict) -> sa.Insert:
        """INSERT ... ON CONFLICT (keys) DO UPDATE SET update: the same statement in both
        dialects, built by each one's own insert()."""
        insert = (sqlite.insert if self.is_sqlite else postgresql.insert)(table).values(**values)
        return insert.on_conflict_do_update(index_elements=keys,
                                            set_={name: value(insert.excluded) for name, value in update.items()})

    def insert_ignoring(self, table: sa.Table, keys: list[str], values: dict) -> sa.Insert:
        """INSERT ... ON CONFLICT (keys) DO NOTHING, in both dialects."""
        insert = (sqlite.insert if self.is_sqlite else postgresql.insert)(table).values(**values)
        return insert.on_conflict_do_nothing(index_elements=keys)


# Connection.info key: whether the current transaction has inserted, updated or deleted a row.
CHANGED_ROWS = "draftguard_changed_rows"


def _note_changed_rows(conn, cursor, statement, parameters, context, executemany) -> None:
    if (context.isinsert or context.isupdate or context.isdelete) and cursor.rowcount:
        conn.info[CHANGED_ROWS] = True


def _tune_sqlite_connection(dbapi_connection, _record) -> None:
    # WAL (set once per file by the migration step) makes NORMAL durable enough and much faster.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
