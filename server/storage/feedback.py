"""Employees' feedback on warnings (dismissed, false positive, missed) and its review."""
from __future__ import annotations

import json
from collections import Counter
from typing import Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.storage import audit, examples
from server.storage.database import Conflict, Database, NotFound, utc_now
from server.storage.schema import feedback


class FeedbackRepository:
    def __init__(self, database: Database):
        self.database = database

    def add(self, kind: str, categories: list[str], model_version: Optional[str],
            platform: Optional[str], surface: Optional[str], text: Optional[str]) -> int:
        with self.database.writing() as conn:
            result = conn.execute(sa.insert(feedback).values(
                created=utc_now(), kind=kind, categories=json.dumps(categories), model_version=model_version,
                platform=platform, surface=surface, text=text))
        return result.inserted_primary_key[0]

    def recent(self, status: Optional[str] = None, limit: int = 200) -> list[dict]:
        query = sa.select(feedback).order_by(feedback.c.id.desc()).limit(limit)
        if status:
            query = query.where(feedback.c.status == status)
        with self.database.reading() as conn:
            rows = conn.execute(query).all()
        return [{**row._asdict(), "categories": json.loads(row.categories)} for row in rows]

    def summary(self) -> dict:
        """The review queue in numbers: new items per kind, and per kind and category."""
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(feedback.c.kind, feedback.c.categories)
                                .where(feedback.c.status == "new")).all()
        per_category = Counter((category, row.kind) for row in rows for category in json.loads(row.categories))
        categories: dict[str, dict[str, int]] = {}
        for (category, kind), n in sorted(per_category.items()):
            categories.setdefault(category, {})[kind] = n
        return {"by_kind": dict(sorted(Counter(row.kind for row in rows).items())), "by_category": categories}

    def daily(self, first_day: str) -> list[dict]:
        """Feedback reports per day and kind (counts only)."""
        day = sa.func.substr(feedback.c.created, 1, 10).label("day")
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(day, feedback.c.kind, sa.func.count().label("count"))
                                .where(day >= first_day).group_by(day, feedback.c.kind).order_by(day, feedback.c.kind)).all()
        return [row._asdict() for row in rows]

    def label(self, feedback_id: int, labels: Sequence[str], actor: str) -> int:
        """Turn a consented feedback text into a training example; return the example's id."""
        with self.database.writing() as conn:
            row = _new_feedback(conn, feedback_id)
            if row.text is None:
                raise Conflict(f"feedback #{feedback_id} has no text (the employee did not consent to share it), "
                               "so it cannot become an example; discard it instead")
            example_id = examples.insert(conn, row.text, labels, "feedback", actor, feedback_id)
            conn.execute(sa.update(feedback).where(feedback.c.id == feedback_id).values(status="labelled"))
            audit.write(conn, actor, "feedback.label",
                        {"feedback": feedback_id, "labels": sorted(labels), "example": example_id})
        return example_id

    def discard(self, feedback_id: int, actor: str) -> None:
        with self.database.writing() as conn:
            _new_feedback(conn, feedback_id)
            conn.execute(sa.update(feedback).where(feedback.c.id == feedback_id).values(status="discarded"))
            audit.write(conn, actor, "feedback.discard", {"feedback": feedback_id})


def _new_feedback(conn: Connection, feedback_id: int) -> sa.Row:
    row = conn.execute(sa.select(feedback.c.status, feedback.c.text).where(feedback.c.id == feedback_id)).one_or_none()
    if row is None:
        raise NotFound(f"no feedback #{feedback_id}")
    if row.status != "new":
        raise Conflict(f"feedback #{feedback_id} was already {row.status}")
    return row
