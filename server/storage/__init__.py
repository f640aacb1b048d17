"""Everything Draftguard stores, in SQLite (the default: a file, no server) or PostgreSQL (several
hosts), through SQLAlchemy Core; the schema evolves by Alembic migrations (migrations/).

    storage = Storage(url)        # connects lazily; create_app then calls storage.migrate()
    storage.examples.add(...)     # one repository per concern:

feedback, counts (checks per day), audit, examples, jobs, admins (accounts and console
sessions), uploads (previews awaiting confirmation), evaluations (the compare page's cache),
labels (renaming a category in stored data), shared (model versions, the active version and the
policy pack that every host serves).
The admin service (server/service/) and the check API use these, never SQL. The check API
never queries the database: its counts are added every few seconds by server/stats.py.
"""
from __future__ import annotations

import logging

from engine.fileio import StorageError
from server.storage.admins import AdminAccounts
from server.storage.audit import AuditLog
from server.storage.counts import DailyCounts
from server.storage.database import Conflict, Database, NotFound, sqlite_url
from server.storage.evaluations import EvaluationCache
from server.storage.examples import ExampleRepository
from server.storage.feedback import FeedbackRepository
from server.storage.jobs import JobRepository
from server.storage.labels import CategoryLabels
from server.storage.shared import SharedRecord
from server.storage.uploads import PendingUploads

__all__ = ["Conflict", "NotFound", "Storage", "sqlite_url"]

log = logging.getLogger("draftguard")


class Storage:
    def __init__(self, url: str):
        self.database = Database(url)
        self.feedback = FeedbackRepository(self.database)
        self.counts = DailyCounts(self.database)
        self.audit = AuditLog(self.database)
        self.examples = ExampleRepository(self.database)
        self.jobs = JobRepository(self.database)
        self.admins = AdminAccounts(self.database)
        self.uploads = PendingUploads(self.database)
        self.evaluations = EvaluationCache(self.database)
        self.labels = CategoryLabels(self.database)
        self.shared = SharedRecord(self.database)

    def migrate(self) -> None:
        """Bring the schema up to date (exactly one process migrates; see migrate.py). A worker
        started while the disk is full or read-only still starts, to answer checks."""
        # Imported here: Alembic is for the processes that migrate, not the training job's.
        from server.storage import migrate

        try:
            migrate.upgrade(self.database)
        except (StorageError, OSError) as exc:
            self.database.failure = f"the database cannot be prepared: {exc}"
            log.warning("storage: %s", self.database.failure)
