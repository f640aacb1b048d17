"""The one data-access module: feedback, statistics and admin data in SQLite.

Blueprints and the CLI talk to `Store`, never to SQL, so a PostgreSQL backend can replace this
module without touching them. Draft text is stored only in feedback rows whose author consented.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from engine.fileio import StorageError
from engine.dataset import Example, duplicate_key

log = logging.getLogger("draftguard")

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    kind TEXT NOT NULL,
    categories TEXT NOT NULL,          -- JSON list of category ids
    model_version TEXT,
    platform TEXT,
    surface TEXT,
    text TEXT,                         -- only with the employee's consent
    status TEXT NOT NULL DEFAULT 'new' -- new / labelled / discarded
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day TEXT NOT NULL,
    metric TEXT NOT NULL,              -- checks, flagged, flagged:<category>
    count INTEGER NOT NULL,
    PRIMARY KEY (day, metric)
);
"""


# The admin's data. Every change an admin makes is written together with its audit row, in
# one transaction.
ADMIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    text TEXT NOT NULL,
    text_key TEXT NOT NULL UNIQUE,     -- engine.dataset.duplicate_key(text)
    labels TEXT NOT NULL,              -- JSON list of category ids; [] is a clean example
    source TEXT NOT NULL,              -- "upload:<file>", "api", "feedback"
    feedback_id INTEGER,
    added_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL               -- JSON object
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    state TEXT NOT NULL,               -- queued / running / succeeded / failed
    stage TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    log TEXT NOT NULL DEFAULT '',
    model_version TEXT,
    error TEXT,
    finished TEXT,
    heartbeat REAL NOT NULL            -- unix time of the runner's last sign of life
);
-- At most one queued or running job, whichever worker or host asks: the database says no.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_job ON jobs((1)) WHERE state IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS admins (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_sessions (
    token_hash TEXT PRIMARY KEY,       -- sha256 of the cookie's token, never the token itself
    admin TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_uploads (
    id TEXT PRIMARY KEY,
    admin TEXT NOT NULL,
    created REAL NOT NULL,
    filename TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    version TEXT NOT NULL,
    data_key TEXT NOT NULL,            -- hash of the held-out file and the policy pack
    result TEXT NOT NULL,
    PRIMARY KEY (version, data_key)
);
"""

LIVE_JOB_STATES = ("queued", "running")
PENDING_UPLOAD_SECONDS = 24 * 3600


class NotFound(LookupError):
    """The row an admin acted on does not exist."""


class Conflict(Exception):
    """The action does not fit the current state (already reviewed, duplicate, ...)."""


# Below this much free space the data folder counts as full in /healthz: SQLite needs room for
# its journal before a write can succeed.
MIN_FREE_BYTES = 16 * 1024 * 1024


def _storage_fault(exc: sqlite3.OperationalError) -> Optional[StorageError]:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    if code == sqlite3.SQLITE_FULL:
        return StorageError(full=True)
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
        return StorageError(full=False)
    return None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        # Why the last write failed for lack of storage, until a write succeeds again.
        self.failure: Optional[str] = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA + ADMIN_SCHEMA)
        except (StorageError, OSError) as exc:
            # A worker restarted while the disk is full must still answer checks.
            self.failure = f"the database cannot be prepared: {exc}"
            log.warning("storage: %s", self.failure)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error. A full or read-only
        disk raises StorageError (and nothing of the transaction is kept)."""
        try:
            db = sqlite3.connect(self.path, timeout=15)
            try:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA synchronous=NORMAL")
                with db:
                    yield db
                if db.total_changes:
                    self.failure = None
            finally:
                db.close()
        except sqlite3.OperationalError as exc:
            fault = _storage_fault(exc)
            if fault is None:
                raise
            self.note_failure(fault)
            raise fault from exc

    def note_failure(self, fault: StorageError) -> None:
        self.failure = f"the last write failed: {fault}"

    def storage_problem(self) -> Optional[str]:
        """Why data cannot be saved now (for /healthz), or None."""
        folder = self.path.parent
        try:
            if shutil.disk_usage(folder).free < MIN_FREE_BYTES:
                return "the data folder's disk is full"
        except OSError:
            return "the data folder cannot be read"
        if not os.access(folder, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
            return "the data folder is read-only"
        return self.failure

    # --- feedback -----------------------------------------------------------------------

    def add_feedback(self, kind: str, categories: list[str], model_version: Optional[str],
                     platform: Optional[str], surface: Optional[str], text: Optional[str]) -> int:
        with self.connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created, kind, categories, model_version, platform, surface, text)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), kind, json.dumps(categories), model_version, platform, surface, text),
            )
            return int(cursor.lastrowid)

    def list_feedback(self, status: Optional[str] = None, limit: int = 200) -> list[dict]:
        query = "SELECT * FROM feedback"
        params: tuple = ()
        if status:
            query += " WHERE status = ?"
            params = (status,)
        with self.connect() as db:
            rows = db.execute(query + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [{**dict(row), "categories": json.loads(row["categories"])} for row in rows]

    # --- statistics (counts only, never texts) --------------------------------------------

    def add_counts(self, day: str, counts: dict[str, int]) -> None:
        with self.connect() as db:
            db.executemany(
                "INSERT INTO daily_counts (day, metric, count) VALUES (?, ?, ?)"
                " ON CONFLICT(day, metric) DO UPDATE SET count = count + excluded.count",
                [(day, metric, n) for metric, n in counts.items() if n],
            )

    def daily_counts(self, since_day: str) -> list[dict]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT day, metric, count FROM daily_counts WHERE day >= ? ORDER BY day, metric",
                (since_day,),
            ).fetchall()
        return [dict(row) for row in rows]

    # --- audit ----------------------------------------------------------------------------

    @staticmethod
    def _audit(db: sqlite3.Connection, actor: str, action: str, detail: dict) -> None:
        db.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                   (utc_now(), actor, action, json.dumps(detail, ensure_ascii=False, sort_keys=True)))

    def record(self, actor: str, action: str, detail: dict) -> None:
        """Audit an action whose effect lives outside the database (policy file, registry)."""
        with self.connect() as db:
            self._audit(db, actor, action, detail)

    def list_audit(self, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
            total = db.execute("SELECT count(*) FROM audit").fetchone()[0]
        return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows], total

    # --- the company's training examples ---------------------------------------------------

    def stored_example_ids(self, texts: Iterable[str]) -> dict[str, int]:
        """For each text already stored (by duplicate_key), the id of its example."""
        keys = list({duplicate_key(t) for t in texts})
        found: dict[str, int] = {}
        with self.connect() as db:
            for start in range(0, len(keys), 500):  # SQLite's limit on bound variables
                chunk = keys[start:start + 500]
                rows = db.execute(f"SELECT id, text_key FROM examples WHERE text_key IN ({','.join('?' * len(chunk))})",
                                  chunk).fetchall()
                found.update((row["text_key"], row["id"]) for row in rows)
        return found

    @staticmethod
    def _insert_example(db: sqlite3.Connection, text: str, labels: Sequence[str], source: str, actor: str,
                        feedback_id: Optional[int] = None) -> int:
        try:
            cursor = db.execute(
                "INSERT INTO examples (created, text, text_key, labels, source, feedback_id, added_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), text, duplicate_key(text), json.dumps(sorted(labels)), source, feedback_id, actor),
            )
        except sqlite3.IntegrityError:
            raise Conflict("an example with the same text is already stored") from None
        return int(cursor.lastrowid)

    def add_examples(self, examples: Sequence[Example], source: str, actor: str) -> int:
        """Store validated examples, all or none."""
        with self.connect() as db:
            for example in examples:
                self._insert_example(db, example.text, example.labels, source, actor)
            labels = Counter(label for e in examples for label in e.labels or ["clean"])
            self._audit(db, actor, "examples.add", {"source": source, "count": len(examples), "labels": dict(labels)})
        return len(examples)

    def list_examples(self, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        with self.connect() as db:
            rows = db.execute("SELECT id, created, text, labels, source, feedback_id, added_by FROM examples"
                              " ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
            total = db.execute("SELECT count(*) FROM examples").fetchone()[0]
        return [{**dict(row), "labels": json.loads(row["labels"])} for row in rows], total

    def example_label_counts(self) -> dict[str, int]:
        """How many stored examples carry each label ("clean" for none)."""
        with self.connect() as db:
            rows = db.execute("SELECT labels FROM examples").fetchall()
        return dict(Counter(label for row in rows for label in json.loads(row["labels"]) or ["clean"]))

    def rename_label(self, old: str, new: str, actor: str, detail: dict) -> dict[str, int]:
        """Relabel stored examples and feedback from category `old` to `new`, with its audit
        row, in one transaction; return how many rows of each changed."""
        changed = {"examples": 0, "feedback": 0}
        with self.connect() as db:
            for table, column in (("examples", "labels"), ("feedback", "categories")):
                for row in db.execute(f"SELECT id, {column} FROM {table}").fetchall():
                    ids = json.loads(row[column])
                    if old in ids:
                        renamed = sorted({new if i == old else i for i in ids})
                        db.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (json.dumps(renamed), row["id"]))
                        changed[table] += 1
            self._audit(db, actor, "policy.rename_category", {**detail, "relabelled": changed})
        return changed

    def delete_example(self, example_id: int, actor: str) -> None:
        with self.connect() as db:
            row = db.execute("SELECT labels, source FROM examples WHERE id = ?", (example_id,)).fetchone()
            if row is None:
                raise NotFound(f"no example #{example_id}")
            db.execute("DELETE FROM examples WHERE id = ?", (example_id,))
            self._audit(db, actor, "examples.delete",
                        {"example": example_id, "labels": json.loads(row["labels"]), "source": row["source"]})

    def training_examples(self) -> list[Example]:
        """Every stored example in the form training takes; each upload is its own group, so
        thresholds are chosen on scores from models that did not see that upload."""
        with self.connect() as db:
            rows = db.execute("SELECT id, text, labels, source FROM examples ORDER BY id").fetchall()
        return [Example(f"company-{row['id']}", row["text"], tuple(json.loads(row["labels"])), f"company:{row['source']}")
                for row in rows]

    # --- feedback review -------------------------------------------------------------------

    def label_feedback(self, feedback_id: int, labels: Sequence[str], actor: str) -> int:
        """Turn a consented feedback text into a training example; return the example's id."""
        with self.connect() as db:
            row = self._new_feedback(db, feedback_id)
            if row["text"] is None:
                raise Conflict(f"feedback #{feedback_id} has no text (the employee did not consent to share it), "
                               "so it cannot become an example; discard it instead")
            example_id = self._insert_example(db, row["text"], labels, "feedback", actor, feedback_id)
            db.execute("UPDATE feedback SET status = 'labelled' WHERE id = ?", (feedback_id,))
            self._audit(db, actor, "feedback.label",
                        {"feedback": feedback_id, "labels": sorted(labels), "example": example_id})
        return example_id

    def discard_feedback(self, feedback_id: int, actor: str) -> None:
        with self.connect() as db:
            self._new_feedback(db, feedback_id)
            db.execute("UPDATE feedback SET status = 'discarded' WHERE id = ?", (feedback_id,))
            self._audit(db, actor, "feedback.discard", {"feedback": feedback_id})

    @staticmethod
    def _new_feedback(db: sqlite3.Connection, feedback_id: int) -> sqlite3.Row:
        row = db.execute("SELECT status, text FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        if row is None:
            raise NotFound(f"no feedback #{feedback_id}")
        if row["status"] != "new":
            raise Conflict(f"feedback #{feedback_id} was already {row['status']}")
        return row

    def feedback_summary(self) -> dict:
        """The review queue in numbers: new items per kind, and per kind and category."""
        with self.connect() as db:
            kinds = db.execute("SELECT kind, count(*) AS n FROM feedback WHERE status = 'new' GROUP BY kind").fetchall()
            per_category = db.execute(
                "SELECT c.value AS category, f.kind, count(*) AS n FROM feedback f, json_each(f.categories) c"
                " WHERE f.status = 'new' GROUP BY c.value, f.kind ORDER BY c.value").fetchall()
        categories: dict[str, dict[str, int]] = {}
        for row in per_category:
            categories.setdefault(row["category"], {})[row["kind"]] = row["n"]
        return {"by_kind": {row["kind"]: row["n"] for row in kinds}, "by_category": categories}

    def feedback_daily(self, since_day: str) -> list[dict]:
        """Feedback reports per day and kind (counts only)."""
        with self.connect() as db:
            rows = db.execute(
                "SELECT substr(created, 1, 10) AS day, kind, count(*) AS count FROM feedback"
                " WHERE substr(created, 1, 10) >= ? GROUP BY day, kind ORDER BY day", (since_day,)).fetchall()
        return [dict(row) for row in rows]

    # --- training jobs ---------------------------------------------------------------------

    def create_job(self, job_id: str, actor: str, stale_after: float) -> bool:
        """Queue a job unless one is queued or running; False when the database refused."""
        with self.connect() as db:
            self._fail_stale_jobs(db, stale_after)
            try:
                db.execute("INSERT INTO jobs (id, created, requested_by, state, stage, heartbeat)"
                           " VALUES (?, ?, ?, 'queued', 'starting the training process', ?)",
                           (job_id, utc_now(), actor, time.time()))
            except sqlite3.IntegrityError:  # the one_live_job index: another job is live
                return False
            self._audit(db, actor, "train.start", {"job": job_id})
        return True

    def fail_stale_jobs(self, stale_after: float) -> None:
        with self.connect() as db:
            self._fail_stale_jobs(db, stale_after)

    def _fail_stale_jobs(self, db: sqlite3.Connection, stale_after: float) -> None:
        """A live job whose process stopped beating (killed, host restarted) has failed."""
        stale = db.execute(f"SELECT id, requested_by FROM jobs WHERE state IN {LIVE_JOB_STATES} AND heartbeat < ?",
                           (time.time() - stale_after,)).fetchall()
        for row in stale:
            error = f"the training process stopped responding for {stale_after:.0f} s; nothing was changed"
            db.execute("UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ?",
                       (error, utc_now(), row["id"]))
            self._audit(db, row["requested_by"], "train.failed", {"job": row["id"], "error": error})

    def job(self, job_id: str) -> Optional[dict]:
        with self.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return dict(row) if row else None

    def live_job(self) -> Optional[dict]:
        with self.connect() as db:
            row = db.execute(f"SELECT * FROM jobs WHERE state IN {LIVE_JOB_STATES}").fetchone()
        return dict(row) if row else None

    def list_jobs(self, limit: int = 20) -> list[dict]:
        with self.connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    def job_progress(self, job_id: str, stage: str, progress: float, log_line: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE jobs SET state = 'running', stage = ?, progress = ?, log = log || ? || char(10),"
                       " heartbeat = ? WHERE id = ? AND state IN ('queued', 'running')",
                       (stage, progress, log_line, time.time(), job_id))

    def job_heartbeat(self, job_id: str) -> None:
        with self.connect() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))

    def finish_job(self, job_id: str, model_version: Optional[str] = None, error: Optional[str] = None) -> None:
        """Record the outcome: a model version, or an error (the job failed)."""
        state = "failed" if error else "succeeded"
        outcome = error or f"candidate {model_version} registered, not activated"
        with self.connect() as db:
            row = db.execute("SELECT requested_by, model_version FROM jobs WHERE id = ?", (job_id,)).fetchone()
            # A job that fails after registering its candidate keeps the candidate's version.
            model_version = model_version or row["model_version"]
            db.execute("UPDATE jobs SET state = ?, model_version = ?, error = ?, finished = ?, stage = ?,"
                       " progress = CASE WHEN ? THEN 1.0 ELSE progress END, log = log || ? || char(10)"
                       " WHERE id = ?",
                       (state, model_version, error, utc_now(), "failed" if error else "done",
                        state == "succeeded", f"{state}: {outcome}", job_id))
            # The audit keeps the root cause (the first line), not a list of every bad row.
            detail = {"job": job_id, "model_version": model_version,
                      **({"error": error.splitlines()[0][:500]} if error else {})}
            self._audit(db, row["requested_by"], f"train.{state}", detail)

    def record_candidate(self, job_id: str, version: str) -> None:
        """The job has registered `version`: whatever happens next, that much has changed."""
        with self.connect() as db:
            db.execute("UPDATE jobs SET model_version = ? WHERE id = ?", (version, job_id))

    # --- admin accounts and console sessions -----------------------------------------------

    def add_admin(self, name: str, password_hash: str, actor: str) -> None:
        with self.connect() as db:
            try:
                db.execute("INSERT INTO admins (name, password_hash, created) VALUES (?, ?, ?)",
                           (name, password_hash, utc_now()))
            except sqlite3.IntegrityError:
                raise Conflict(f"an admin named {name!r} already exists") from None
            self._audit(db, actor, "admins.add", {"admin": name})

    def set_admin_password(self, name: str, password_hash: str, actor: str) -> None:
        """Change a password and end that admin's sessions."""
        with self.connect() as db:
            if db.execute("UPDATE admins SET password_hash = ? WHERE name = ?", (password_hash, name)).rowcount == 0:
                raise NotFound(f"no admin named {name!r}")
            db.execute("DELETE FROM admin_sessions WHERE admin = ?", (name,))
            self._audit(db, actor, "admins.password", {"admin": name})

    def remove_admin(self, name: str, actor: str) -> None:
        with self.connect() as db:
            if db.execute("DELETE FROM admins WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no admin named {name!r}")
            db.execute("DELETE FROM admin_sessions WHERE admin = ?", (name,))
            self._audit(db, actor, "admins.remove", {"admin": name})

    def admin_password_hash(self, name: str) -> Optional[str]:
        with self.connect() as db:
            row = db.execute("SELECT password_hash FROM admins WHERE name = ?", (name,)).fetchone()
        return row["password_hash"] if row else None

    def list_admins(self) -> list[dict]:
        with self.connect() as db:
            return [dict(row) for row in db.execute("SELECT name, created FROM admins ORDER BY name")]

    def create_session(self, token_hash: str, name: str, lifetime_seconds: float) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM admin_sessions WHERE expires < ?", (time.time(),))
            db.execute("INSERT INTO admin_sessions (token_hash, admin, expires) VALUES (?, ?, ?)",
                       (token_hash, name, time.time() + lifetime_seconds))
            self._audit(db, name, "login", {})

    def session_admin(self, token_hash: str) -> Optional[str]:
        """The admin a live session belongs to, or None (unknown, expired, logged out)."""
        with self.connect() as db:
            row = db.execute("SELECT admin FROM admin_sessions WHERE token_hash = ? AND expires > ?",
                             (token_hash, time.time())).fetchone()
        return row["admin"] if row else None

    def end_session(self, token_hash: str, name: str) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM admin_sessions WHERE token_hash = ?", (token_hash,))
            self._audit(db, name, "logout", {})

    # --- uploads waiting for the admin's confirmation ----------------------------------------

    def hold_upload(self, upload_id: str, admin: str, filename: str, data: bytes) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM pending_uploads WHERE created < ?", (time.time() - PENDING_UPLOAD_SECONDS,))
            db.execute("INSERT INTO pending_uploads (id, admin, created, filename, data) VALUES (?, ?, ?, ?, ?)",
                       (upload_id, admin, time.time(), filename, data))

    def held_upload(self, upload_id: str, admin: str) -> Optional[tuple[str, bytes]]:
        with self.connect() as db:
            row = db.execute("SELECT filename, data FROM pending_uploads WHERE id = ? AND admin = ?",
                             (upload_id, admin)).fetchone()
        return (row["filename"], bytes(row["data"])) if row else None

    def drop_upload(self, upload_id: str) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM pending_uploads WHERE id = ?", (upload_id,))

    # --- evaluations of model versions on held-out data (a cache) ----------------------------

    def cached_evaluation(self, version: str, data_key: str) -> Optional[dict]:
        with self.connect() as db:
            row = db.execute("SELECT result FROM evaluations WHERE version = ? AND data_key = ?",
                             (version, data_key)).fetchone()
        return json.loads(row["result"]) if row else None

    def save_evaluation(self, version: str, data_key: str, result: dict) -> None:
        with self.connect() as db:
            db.execute("INSERT OR REPLACE INTO evaluations (version, data_key, result) VALUES (?, ?, ?)",
                       (version, data_key, json.dumps(result)))
