"""Check counts per UTC day and metric (checks, flagged, flagged:<category>): numbers only.
server/stats.py adds a worker's counts every few seconds, never once per check."""
from __future__ import annotations

import sqlalchemy as sa

from server.storage.database import Database
from server.storage.schema import daily_counts


class DailyCounts:
    def __init__(self, database: Database):
        self.database = database

    def add(self, day: str, counts: dict[str, int]) -> None:
        """Add to the day's totals; several workers and hosts add to the same rows."""
        with self.database.writing() as conn:
            for metric, count in counts.items():
                if count:
                    conn.execute(self.database.upsert(
                        daily_counts, ["day", "metric"], {"day": day, "metric": metric, "count": count},
                        {"count": lambda excluded: daily_counts.c["count"] + excluded["count"]}))

    def since(self, first_day: str) -> list[dict]:
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(daily_counts).where(daily_counts.c.day >= first_day)
                                .order_by(daily_counts.c.day, daily_counts.c.metric)).all()
        return [row._asdict() for row in rows]
