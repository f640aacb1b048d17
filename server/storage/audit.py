"""The audit log: who did what, when. Changes to the database write their entry in their own
transaction (`write`); changes elsewhere (policy file, registry) are recorded afterwards."""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.storage.database import Database, utc_now
from server.storage.schema import audit


def write(conn: Connection, actor: str, action: str, detail: dict) -> None:
    conn.execute(sa.insert(audit).values(at=utc_now(), actor=actor, action=action,
                                         detail=json.dumps(detail, ensure_ascii=False, sort_keys=True)))


class AuditLog:
    def __init__(self, database: Database):
        self.database = database

    def record(self, actor: str, action: str, detail: dict) -> None:
        """Audit an action whose effect lives outside the database (policy file, registry)."""
        with self.database.writing() as conn:
            write(conn, actor, action, detail)

    def page(self, limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
        """The newest entries first, and how many there are in all."""
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit).offset(offset)).all()
            total = conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one()
        return [{**row._asdict(), "detail": json.loads(row.detail)} for row in rows], total
