"""Category ids as the stored data uses them: examples' labels and feedback's categories."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.storage import audit
from server.storage.database import Database
from server.storage.schema import examples, feedback


def _relabel(conn: Connection, table: sa.Table, column: sa.Column, old: str, new: str) -> int:
    changed = 0
    for row_id, stored in conn.execute(sa.select(table.c.id, column)).all():
        ids = json.loads(stored)
        if old in ids:
            renamed = sorted({new if i == old else i for i in ids})
            conn.execute(sa.update(table).where(table.c.id == row_id).values({column.name: json.dumps(renamed)}))
            changed += 1
    return changed


class CategoryLabels:
    def __init__(self, database: Database):
        self.database = database

    def rename(self, old: str, new: str, actor: str, detail: dict) -> dict[str, int]:
        """Relabel stored examples and feedback from category `old` to `new`, with the audit
        row, in one transaction; return how many rows of each changed."""
        with self.database.writing() as conn:
            changed = {"examples": _relabel(conn, examples, examples.c.labels, old, new),
                       "feedback": _relabel(conn, feedback, feedback.c.categories, old, new)}
            audit.write(conn, actor, "policy.rename_category", {**detail, "relabelled": changed})
        return changed
