"""The company's labelled training examples: uploads, API posts and reviewed feedback."""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterable, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.dataset import Example, duplicate_key
from server.storage import audit
from server.storage.database import Conflict, Database, NotFound, utc_now
from server.storage.schema import examples

# Keys per query when looking texts up: SQLite limits the bound variables of one statement.
LOOKUP_CHUNK = 500


def insert(conn: Connection, text: str, labels: Sequence[str], source: str, actor: str,
           feedback_id: Optional[int] = None) -> int:
    """Store one example in the caller's transaction; Conflict if its text is stored already."""
    try:
        result = conn.execute(sa.insert(examples).values(
            created=utc_now(), text=text, text_key=duplicate_key(text), labels=json.dumps(sorted(labels)),
            source=source, feedback_id=feedback_id, added_by=actor))
    except sa.exc.IntegrityError:
        raise Conflict("an example with the same text is already stored") from None
    return result.inserted_primary_key[0]


class ExampleRepository:
    def __init__(self, database: Database):
        self.database = database

    def stored_ids(self, texts: Iterable[str]) -> dict[str, int]:
        """For each text already stored (by duplicate_key), the id of its example."""
        keys = list({duplicate_key(t) for t in texts})
        found: dict[str, int] = {}
        with self.database.reading() as conn:
            for start in range(0, len(keys), LOOKUP_CHUNK):
                chunk = keys[start:start + LOOKUP_CHUNK]
                rows = conn.execute(sa.select(examples.c.id, examples.c.text_key)
                                    .where(examples.c.text_key.in_(chunk))).all()
                found.update((row.text_key, row.id) for row in rows)
        return found

    def add(self, new: Sequence[Example], source: str, actor: str) -> int:
        """Store validated examples, all or none."""
        with self.database.writing() as conn:
            for example in new:
                insert(conn, example.text, example.labels, source, actor)
            labels = Counter(label for e in new for label in e.labels or ["clean"])
            audit.write(conn, actor, "examples.add", {"source": source, "count": len(new), "labels": dict(labels)})
        return len(new)

    def page(self, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """The newest examples first, and how many there are in all."""
        columns = [c for c in examples.c if c.name != "text_key"]
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(*columns).order_by(examples.c.id.desc()).limit(limit).offset(offset)).all()
            total = conn.execute(sa.select(sa.func.count()).select_from(examples)).scalar_one()
        return [{**row._asdict(), "labels": json.loads(row.labels)} for row in rows], total

    def label_counts(self) -> dict[str, int]:
        """How many stored examples carry each label ("clean" for none)."""
        with self.database.reading() as conn:
            labels = conn.execute(sa.select(examples.c.labels)).scalars().all()
        return dict(Counter(label for row in labels for label in json.loads(row) or ["clean"]))

    def delete(self, example_id: int, actor: str) -> None:
        with self.database.writing() as conn:
            row = conn.execute(sa.select(examples.c.labels, examples.c.source)
                               .where(examples.c.id == example_id)).one_or_none()
            if row is None:
                raise NotFound(f"no example #{example_id}")
            conn.execute(sa.delete(examples).where(examples.c.id == example_id))
            audit.write(conn, actor, "examples.delete",
                        {"example": example_id, "labels": json.loads(row.labels), "source": row.source})

    def for_training(self) -> list[Example]:
        """Every stored example in the form training takes; each upload is its own group, so
        thresholds are chosen on scores from models that did not see that upload."""
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(examples.c.id, examples.c.text, examples.c.labels, examples.c.source)
                                .order_by(examples.c.id)).all()
        return [Example(f"company-{row.id}", row.text, tuple(json.loads(row.labels)), f"company:{row.source}")
                for row in rows]
