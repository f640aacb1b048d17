"""What the hosts of one Draftguard service share: model versions (their files), the active
version and the policy pack. server/replication.py keeps each host's folders in step with it."""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.storage.database import Database, utc_now
from server.storage.schema import model_versions, shared_values

ACTIVE_MODEL = "active_model"
POLICY_PACK = "policy_pack"
MODEL_VERSIONS = "model_versions"  # its value: the version shared last


class SharedRecord:
    def __init__(self, database: Database):
        self.database = database

    def generations(self) -> dict[str, int]:
        """Each shared value's change counter: what a host polls to notice a change."""
        with self.database.reading() as conn:
            return dict(conn.execute(sa.select(shared_values.c.name, shared_values.c.generation)).all())

    def get(self, name: str) -> Optional[str]:
        with self.database.reading() as conn:
            return conn.execute(sa.select(shared_values.c.value).where(shared_values.c.name == name)).scalar()

    def set(self, name: str, value: Optional[str]) -> None:
        with self.database.writing() as conn:
            self._set(conn, name, value)

    def _set(self, conn: Connection, name: str, value: Optional[str]) -> None:
        conn.execute(self.database.upsert(
            shared_values, ["name"], {"name": name, "value": value, "generation": 1, "changed": utc_now()},
            {"value": lambda new: new.value, "changed": lambda new: new.changed,
             "generation": lambda _: shared_values.c.generation + 1}))

    def model_hashes(self) -> dict[str, str]:
        """Every shared version and its artifact's sha256 (not the artifacts themselves)."""
        with self.database.reading() as conn:
            return dict(conn.execute(sa.select(model_versions.c.version, model_versions.c.sha256)).all())

    def model_files(self, version: str) -> Optional[sa.Row]:
        """A version's sha256, metadata (JSON text), report and artifact bytes."""
        with self.database.reading() as conn:
            return conn.execute(sa.select(model_versions.c.sha256, model_versions.c.metadata,
                                          model_versions.c.report, model_versions.c.artifact)
                                .where(model_versions.c.version == version)).one_or_none()

    def add_model(self, version: str, created: str, sha256: str, metadata: str, report: str, artifact: bytes) -> None:
        """Share a version (once: hosts that offer the same version again change nothing)."""
        insert = self.database.insert_ignoring(model_versions, ["version"], {
            "version": version, "created": created, "sha256": sha256, "metadata": metadata, "report": report,
            "artifact": artifact})
        with self.database.writing() as conn:
            if conn.execute(insert).rowcount:  # new: the other hosts' next poll fetches it
                self._set(conn, MODEL_VERSIONS, version)
