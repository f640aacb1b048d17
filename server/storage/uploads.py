"""Uploads an admin has previewed in the console and not yet confirmed (kept a day)."""
from __future__ import annotations

import time
from typing import Optional

import sqlalchemy as sa

from server.storage.database import Database
from server.storage.schema import pending_uploads

PENDING_UPLOAD_SECONDS = 24 * 3600


class PendingUploads:
    def __init__(self, database: Database):
        self.database = database

    def hold(self, upload_id: str, admin: str, filename: str, data: bytes) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.delete(pending_uploads).where(pending_uploads.c.created < time.time() - PENDING_UPLOAD_SECONDS))
            conn.execute(sa.insert(pending_uploads).values(id=upload_id, admin=admin, created=time.time(),
                                                           filename=filename, data=data))

    def get(self, upload_id: str, admin: str) -> Optional[tuple[str, bytes]]:
        """(file name, bytes) of an upload this admin holds, or None."""
        with self.database.reading() as conn:
            row = conn.execute(sa.select(pending_uploads.c.filename, pending_uploads.c.data).where(
                pending_uploads.c.id == upload_id, pending_uploads.c.admin == admin)).one_or_none()
        return (row.filename, bytes(row.data)) if row else None

    def drop(self, upload_id: str) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.delete(pending_uploads).where(pending_uploads.c.id == upload_id))
