"""Aggregate check counts per day — numbers only, never texts.

Counting happens in memory on the check path and reaches the database at most every few
seconds, so a busy server does not write the database once per keystroke, and a check never
waits for it.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timezone

from server.storage.counts import DailyCounts

log = logging.getLogger("draftguard")


class CheckCounter:
    def __init__(self, counts: DailyCounts, flush_seconds: float):
        self.counts = counts
        self.flush_seconds = flush_seconds
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        atexit.register(self.flush)

    def count(self, flagged_ids: list[str]) -> None:
        with self._lock:
            self._counts["checks"] += 1
            if flagged_ids:
                self._counts["flagged"] += 1
                for category in flagged_ids:
                    self._counts[f"flagged:{category}"] += 1
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
            self._last_flush = time.monotonic()
        if not counts:
            return
        day = datetime.now(timezone.utc).date().isoformat()
        try:
            self.counts.add(day, dict(counts))
        except Exception as exc:  # statistics must never fail a check
            # One line every few seconds while the database is away: SQLAlchemy's own messages
            # go on with the statement and a link. Counts are numbers only, never a draft's text.
            log.warning("could not record check counts, kept for the next try: %s", str(exc).partition("\n")[0])
            with self._lock:
                self._counts.update(counts)
