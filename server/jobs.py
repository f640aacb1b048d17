"""Background training: one job at a time across every worker (and every host sharing the
database), in its own low-priority process so the check API keeps answering at full speed.

    launch(job_id, storage, settings)   the admin service, once the job's row is queued
    main(job_id)                        the job process itself (`python -c RUNNER job_id`)

The job's row in the database is the only channel between the two sides: the process writes its
stage, progress, log lines and a heartbeat there, then the new version or the error. A failed
job changes nothing that serves: a candidate is registered only once trained and evaluated,
and never activated — an admin promotes it after comparing. Queuing the job (one at a time) and
showing it are the admin service's (server/service/training.py); this module loads no web
framework, so the job process does not either.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from typing import Callable, Mapping, Optional

from engine.dataset import DatasetError
from engine.fileio import StorageError
from engine.policy import PolicyError, load_active_pack
from engine.registry import Registry, RegistryError
from server import config, evaluation
from server.replication import SharedRegistry
from server.storage import Storage
from server.storage.evaluations import EvaluationCache
from server.storage.schema import LIVE_JOB_STATES
from train.training import train_and_register

log = logging.getLogger("draftguard")

# `python -m server.jobs` would import this module twice (once through the package, once as
# __main__), so the process runs this one-liner instead.
RUNNER = "import sys; from server.jobs import main; sys.exit(main(sys.argv[1]))"
# Where SCHED_IDLE is unavailable: the lowest nice value.
NICENESS = 19
HEARTBEAT_SECONDS = 5.0
# Training fills this share of the progress bar; evaluating for the compare page the rest.
TRAINING_SHARE = 0.9
# The settings the job process needs, passed on so it sees the folders its app sees.
JOB_SETTINGS = ["MODELS_DIR", "DATA_DIR", "DATABASE_URL", "TRAIN_DATA", "TEST_DATA", "SECONDARY_TEST_DATA"]


def launch(job_id: str, storage: Storage, settings: Mapping) -> None:
    """Start the process of a job queued in the database, with the folders and database of
    `settings` (the app's); OSError if the process cannot be started."""
    env = {**os.environ, **config.to_env(settings, JOB_SETTINGS),
           # One core for numpy/scipy too; the other stays with the check API.
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # Its own process group, so a Ctrl-C meant for the server leaves it be; but not its own
    # session: Linux groups CPU time by session ("autogroup") before looking at priorities,
    # and a job alone in a session would get a core's fair share despite SCHED_IDLE.
    process = subprocess.Popen([sys.executable, "-c", RUNNER, job_id], cwd=config.PROJECT_ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0)
    threading.Thread(target=_reap, args=(process, storage, job_id), daemon=True).start()


def _reap(process: subprocess.Popen, storage: Storage, job_id: str) -> None:
    """Collect the exit status (no zombies in a long-lived worker). A process that died without
    recording an outcome (killed, out of memory) fails its job now rather than when its
    heartbeat goes stale."""
    status = process.wait()
    job = storage.jobs.get(job_id)
    if status != 0 and job and job["state"] in LIVE_JOB_STATES:
        storage.jobs.finish(job_id, error=f"the training process stopped (exit status {status}) before it "
                                       f"finished; {what_changed(job)}. The server log may say why.")


def what_changed(job: Optional[dict]) -> str:
    """What a job that did not finish has left behind, in the words its error message uses."""
    version = job and job["model_version"]
    if version:
        return (f"it had registered candidate {version}, which is not active (the active model is unchanged); "
                "compare and promote it as usual, or ignore it")
    return "nothing was changed"


# --- the job process -----------------------------------------------------------------------

def main(job_id: str) -> int:
    _lowest_priority()
    settings = config.from_env()
    storage = Storage(settings["DATABASE_URL"])  # the app that started this job has migrated it
    stop = threading.Event()
    threading.Thread(target=_beat, args=(storage, job_id, stop), daemon=True).start()
    try:
        version = run(job_id, storage, SharedRegistry(settings["MODELS_DIR"], storage.shared), settings)
    except Exception as exc:
        storage.jobs.finish(job_id, error=f"{_describe(exc)}; {what_changed(storage.jobs.get(job_id))}")
        return 1
    finally:
        stop.set()
    storage.jobs.finish(job_id, model_version=version)
    return 0


def _lowest_priority() -> None:
    """SCHED_IDLE where Linux offers it: the job runs only on otherwise idle cores and yields the
    moment a check wakes up. Elsewhere, the lowest nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(NICENESS)


def _beat(storage: Storage, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        storage.jobs.heartbeat(job_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, (DatasetError, PolicyError, RegistryError, StorageError, OSError)):
        return str(exc)
    # Unexpected: the frames go to the server log (never locals, which may hold texts).
    log.error("training job failed with %s\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))
    return f"unexpected {type(exc).__name__}: {exc}"


def run(job_id: str, storage: Storage, registry: Registry, settings: dict) -> str:
    """Train on the default corpus plus the stored examples; register (not activate) the
    candidate; evaluate it and the active model for the compare page. Return its version."""
    started = time.monotonic()

    def report(stage: str, fraction: float) -> None:
        line = f"[{time.monotonic() - started:6.1f}s] {fraction:4.0%} {stage}"
        storage.jobs.progress(job_id, stage, round(fraction, 3), line)

    def training_progress(stage: str, fraction: float) -> None:
        if fraction < 1:  # the end of training is not the end of the job
            report(stage, TRAINING_SHARE * fraction)

    pack = load_active_pack(settings["DATA_DIR"])
    examples = storage.examples.for_training()
    report(f"training on the default corpus plus {len(examples)} company examples", 0.0)
    metadata = train_and_register(registry, pack, settings["TRAIN_DATA"], settings["TEST_DATA"],
                                  extra_examples=examples, activate=False, progress=training_progress,
                                  secondary_test_paths=settings["SECONDARY_TEST_DATA"])
    version = metadata["version"]
    storage.jobs.record_candidate(job_id, version)
    active = registry.active_version()
    report(f"registered candidate {version}; evaluating it beside the active model {active}", TRAINING_SHARE)
    _evaluate_quietly([version, active], registry, storage.evaluations, pack, settings, report)
    return version


def _evaluate_quietly(versions: list, registry: Registry, cache: EvaluationCache, pack, settings: dict,
                      report: Callable[[str, float], None]) -> None:
    """Fill the compare page's cache; a failure here only means the page computes it later."""
    for version in dict.fromkeys(v for v in versions if v):
        try:
            evaluation.evaluation(version, registry, cache, pack, settings["TEST_DATA"])
        except Exception as exc:
            report(f"could not evaluate {version} now ({exc}); the compare page will retry", TRAINING_SHARE)
