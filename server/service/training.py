"""Training jobs as admins see them: starting one (one at a time, across every worker and host),
its progress, the recent ones. The job's process is server/jobs.py."""
from __future__ import annotations

import secrets
from typing import Mapping, Optional

from server import jobs
from server.service.errors import AlreadyRunning, NotFound, Unavailable
from server.storage import Storage


def public_view(job: dict) -> dict:
    """A job as every surface shows it (the console's pages, the JSON API)."""
    view = {"job_id": job["id"], "state": job["state"], "progress": job["progress"], "stage": job["stage"],
            "created": job["created"], "finished": job["finished"], "requested_by": job["requested_by"],
            "log": job["log"]}
    if job["model_version"]:
        view["model_version"] = job["model_version"]
    if job["error"]:
        view["error"] = job["error"]
    return view


class TrainingActions:
    settings: Mapping
    storage: Storage

    def start_training(self, actor: str) -> str:
        """Queue a training job and start its process; the job's id. AlreadyRunning if a job is
        queued or running, Unavailable if the process cannot be started."""
        job_id = secrets.token_hex(6)
        if not self.storage.jobs.create(job_id, actor, self.settings["JOB_STALE_SECONDS"]):
            live = self.storage.jobs.live() or {"id": "?"}
            raise AlreadyRunning(f"training job {live['id']} is already running; only one runs at a time, "
                                 "wait for it to finish")
        try:
            jobs.launch(job_id, self.storage, self.settings)
        except OSError as exc:
            self.storage.jobs.finish(job_id, error=f"could not start the training process: {exc}")
            raise Unavailable(f"could not start the training process: {exc}") from None
        return job_id

    def job_status(self, job_id: str) -> dict:
        """What the job page polls: a job whose process stopped beating is failed first."""
        self._fail_stale_jobs()
        job = self.storage.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no training job {job_id!r}")
        return public_view(job)

    def recent_jobs(self, limit: int = 20) -> list[dict]:
        """The newest jobs first; none of them shown running if its process stopped beating."""
        self._fail_stale_jobs()
        return [public_view(job) for job in self.storage.jobs.recent(limit)]

    def live_job(self) -> Optional[dict]:
        """The job queued or running, if any (as of the last `recent_jobs` or `job_status`)."""
        job = self.storage.jobs.live()
        return public_view(job) if job else None

    def _fail_stale_jobs(self) -> None:
        self.storage.jobs.fail_stale(self.settings["JOB_STALE_SECONDS"])
