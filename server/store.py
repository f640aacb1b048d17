"""The one data-access module: feedback, statistics (and admin data) in SQLite.

Blueprints and the CLI talk to `Store`, never to SQL, so a PostgreSQL backend can replace this
module without touching them. Draft text is stored only in feedback rows whose author consented.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

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


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=15)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        finally:
            db.close()

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
