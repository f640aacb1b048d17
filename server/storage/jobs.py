"""Training jobs: the only channel between the worker that started a job and the job's process
(server/jobs.py). At most one job is queued or running across every worker and host: the
one_live_job index refuses a second one."""
from __future__ import annotations

import time
from typing import Optional

import sqlalchemy as sa

from server.storage import audit
from server.storage.database import Database, utc_now
from server.storage.schema import LIVE_JOB_STATES, jobs

_LIVE = jobs.c.state.in_(LIVE_JOB_STATES)


class JobRepository:
    def __init__(self, database: Database):
        self.database = database

    def create(self, job_id: str, actor: str, stale_after: float) -> bool:
        """Queue a job unless one is queued or running; False when the database refused."""
        self.fail_stale(stale_after)
        try:
            with self.database.writing() as conn:
                conn.execute(sa.insert(jobs).values(id=job_id, created=utc_now(), requested_by=actor, state="queued",
                                                    stage="starting the training process", heartbeat=time.time()))
                audit.write(conn, actor, "train.start", {"job": job_id})
        except sa.exc.IntegrityError:  # the one_live_job index: another job is live
            return False
        return True

    def fail_stale(self, stale_after: float) -> None:
        """A live job whose process stopped beating (killed, host restarted) has failed."""
        error = f"the training process stopped responding for {stale_after:.0f} s; nothing was changed"
        with self.database.writing() as conn:
            stale = conn.execute(sa.select(jobs.c.id, jobs.c.requested_by)
                                 .where(_LIVE, jobs.c.heartbeat < time.time() - stale_after)).all()
            for row in stale:
                conn.execute(sa.update(jobs).where(jobs.c.id == row.id)
                             .values(state="failed", error=error, finished=utc_now()))
                audit.write(conn, row.requested_by, "train.failed", {"job": row.id, "error": error})

    def get(self, job_id: str) -> Optional[dict]:
        return self._one(jobs.c.id == job_id)

    def live(self) -> Optional[dict]:
        return self._one(_LIVE)

    def _one(self, condition) -> Optional[dict]:
        with self.database.reading() as conn:
            row = conn.execute(sa.select(jobs).where(condition)).one_or_none()
        return row._asdict() if row else None

    def recent(self, limit: int = 20) -> list[dict]:
        # `created` has whole seconds; within one second the later job is the one that last
        # showed signs of life (a job can only start once the one before it stopped).
        with self.database.reading() as conn:
            rows = conn.execute(sa.select(jobs).order_by(jobs.c.created.desc(), jobs.c.heartbeat.desc())
                                .limit(limit)).all()
        return [row._asdict() for row in rows]

    def progress(self, job_id: str, stage: str, progress: float, log_line: str) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id, _LIVE).values(
                state="running", stage=stage, progress=progress, log=jobs.c.log + (log_line + "\n"),
                heartbeat=time.time()))

    def heartbeat(self, job_id: str) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(heartbeat=time.time()))

    def record_candidate(self, job_id: str, version: str) -> None:
        """The job has registered `version`: whatever happens next, that much has changed."""
        with self.database.writing() as conn:
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(model_version=version))

    def finish(self, job_id: str, model_version: Optional[str] = None, error: Optional[str] = None) -> None:
        """Record the outcome: a model version, or an error (the job failed)."""
        state = "failed" if error else "succeeded"
        outcome = error or f"candidate {model_version} registered, not activated"
        with self.database.writing() as conn:
            row = conn.execute(sa.select(jobs.c.requested_by, jobs.c.model_version).where(jobs.c.id == job_id)).one()
            # A job that fails after registering its candidate keeps the candidate's version.
            model_version = model_version or row.model_version
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(
                state=state, model_version=model_version, error=error, finished=utc_now(),
                stage="failed" if error else "done", progress=jobs.c.progress if error else 1.0,
                log=jobs.c.log + f"{state}: {outcome}\n"))
            # The audit keeps the root cause (the first line), not a list of every bad row.
            detail = {"job": job_id, "model_version": model_version,
                      **({"error": error.splitlines()[0][:500]} if error else {})}
            audit.write(conn, row.requested_by, f"train.{state}", detail)
