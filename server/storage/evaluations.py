"""Evaluations of model versions on held-out data: a cache for the compare page, keyed by
version and a hash of the held-out file and the policy pack (server/evaluation.py)."""
from __future__ import annotations

import json
from typing import Optional

import sqlalchemy as sa

from server.storage.database import Database
from server.storage.schema import evaluations


class EvaluationCache:
    def __init__(self, database: Database):
        self.database = database

    def get(self, version: str, data_key: str) -> Optional[dict]:
        with self.database.reading() as conn:
            result = conn.execute(sa.select(evaluations.c.result).where(
                evaluations.c.version == version, evaluations.c.data_key == data_key)).scalar_one_or_none()
        return json.loads(result) if result is not None else None

    def save(self, version: str, data_key: str, result: dict) -> None:
        # Two workers may evaluate the same version at once; the last one's result stays.
        with self.database.writing() as conn:
            conn.execute(self.database.upsert(
                evaluations, ["version", "data_key"],
                {"version": version, "data_key": data_key, "result": json.dumps(result)},
                {"result": lambda excluded: excluded.result}))
