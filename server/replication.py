"""Several hosts as one service: the database is the record, each host's folders are its copy.

The database (server/storage/shared.py) holds every model version's files, which version is
active and the admin's policy pack. Each host keeps a copy in its models folder (registry.json
and one folder per version, each artifact checked against its sha256 when installed and again
when loaded) and in its data folder (policy.json). Its workers serve from that copy exactly as a
single host does: they notice a changed file between two requests and swap.

    SharedRegistry   the models folder; adding or activating a version also records it in the database
    SharedPolicy     the policy pack; saving it also records it in the database
    Replica          brings both copies up to date: at start, then whenever a poll of the
                     database's change counters (every REPLICA_POLL_SECONDS) sees a change

So a promotion on one host reaches every worker on every host within a poll, a fresh host
serves the active model without training one, and a job's candidate trained on one host can be
compared and promoted on another. The check path never waits for the database: polls run
beside it.
"""
from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

from engine.classifier import ModelIntegrityError
from engine.fileio import StorageError, atomic_write_json
from engine.policy import PolicyError, PolicyPack, PolicyStore, load_pack, parse_pack
from engine.registry import Registry, RegistryError
from server.storage.shared import ACTIVE_MODEL, POLICY_PACK, SharedRecord

log = logging.getLogger("draftguard")

# The active version this host last agreed with the database on (in the models folder): tells a
# promotion made elsewhere (the database moved) from one made here by `python -m train --activate`
# (the folder moved), so neither is undone by the other.
AGREED = "replica.json"
# Failures a catch-up may meet; it then retries at the next poll.
CATCH_UP_FAILURES = (RegistryError, ModelIntegrityError, PolicyError, StorageError, OSError, ValueError)


@contextmanager
def _host_lock(folder: Path) -> Iterator[None]:
    """One catch-up at a time on this host: every worker polls, one installs."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".replica.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class SharedRegistry(Registry):
    def __init__(self, models_dir: Path, shared: SharedRecord):
        super().__init__(models_dir)
        self.shared = shared

    def add(self, version, model, metadata, report, activate=False) -> dict:
        metadata = super().add(version, model, metadata, report, activate)
        self._share(version)
        if activate:
            self._agree(version)
        self.catch_up()
        return metadata

    def activate(self, version: str) -> None:
        if version not in self.read_index()["versions"]:
            raise RegistryError(f"unknown model version {version!r}")
        if version not in self.shared.model_hashes():  # only this host has it: share it first
            self._share(version)
        self._agree(version)
        super().activate(version)

    def _agree(self, version: str) -> None:
        self.shared.set(ACTIVE_MODEL, version)
        atomic_write_json(self.root / AGREED, {"active": version})

    def _share(self, version: str) -> None:
        artifact, metadata, report = self.files(version)
        self.shared.add_model(version, metadata.get("created", ""), metadata["sha256"], json.dumps(metadata),
                              report, artifact)

    def _agreed(self) -> Optional[str]:
        try:
            return json.loads((self.root / AGREED).read_text(encoding="utf-8")).get("active")
        except (OSError, ValueError):
            return None

    def catch_up(self) -> None:
        """Share the versions only this host has, install those it lacks, and agree on the
        active one with the database."""
        with _host_lock(self.root):
            local = self.read_index()
            shared = self.shared.model_hashes()
            for version in local["versions"]:
                if version not in shared:
                    try:
                        self._share(version)
                    except (RegistryError, ModelIntegrityError) as exc:  # a broken copy is not offered
                        log.warning("replication: %s is not shared: %s", version, exc)
            for version in shared:
                if version not in local["versions"]:
                    files = self.shared.model_files(version)
                    self.install(version, files.artifact, files.sha256, json.loads(files.metadata), files.report)
            self._agree_on_active(local["active"])

    def _agree_on_active(self, here: Optional[str]) -> None:
        there = self.shared.get(ACTIVE_MODEL)
        if there == here:
            if here and self._agreed() != here:
                atomic_write_json(self.root / AGREED, {"active": here})
            return
        if there is None or (here is not None and here != self._agreed() and there == self._agreed()):
            self._agree(here)  # nothing shared yet, or activated on this host only: share it
            return
        Registry.activate(self, there)  # activated elsewhere (or this host is new)
        atomic_write_json(self.root / AGREED, {"active": there})


class SharedPolicy(PolicyStore):
    def __init__(self, data_dir: Path, shared: SharedRecord):
        super().__init__(data_dir)
        self.shared = shared

    def save(self, pack: PolicyPack) -> None:
        self.shared.set(POLICY_PACK, pack.model_dump_json())
        super().save(pack)

    def catch_up(self) -> None:
        text = self.shared.get(POLICY_PACK)
        if text is None:  # nothing shared yet: this host's edited pack, if any, becomes the record
            try:
                if self.path.exists():
                    self.shared.set(POLICY_PACK, load_pack(self.path).model_dump_json())
            except PolicyError:  # broken by hand: not shared; PolicyStore reports it and serves the last good pack
                pass
            return
        pack = parse_pack(json.loads(text))
        try:
            same = self.path.exists() and load_pack(self.path) == pack
        except PolicyError:  # a copy broken by hand: the record replaces it
            same = False
        if not same:
            super().save(pack)


class Replica:
    """This host's copies of the models and the policy, kept in step with the database."""

    def __init__(self, registry: SharedRegistry, policy: SharedPolicy, shared: SharedRecord):
        self.registry = registry
        self.policy = policy
        self.shared = shared
        self.seen: Optional[dict] = None  # the change counters of the last catch-up
        self.problem: Optional[str] = None  # why the last catch-up failed, but for the database (for /healthz)
        self.behind = False  # the last catch-up failed: the next poll tries again

    def catch_up(self) -> bool:
        try:
            counters = self.shared.generations()
            self.registry.catch_up()
            self.policy.catch_up()
        except CATCH_UP_FAILURES as exc:
            self.behind = True
            if isinstance(exc, StorageError):  # the database's own fault: /healthz shows it already
                return False
            if not self.problem:
                log.warning("replication: this host could not catch up with the database: %s", exc)
            self.problem = f"this host's copy of the models and policy may be behind the database ({exc})"
            return False
        self.seen, self.problem, self.behind = counters, None, False
        return True

    def poll(self) -> bool:
        """Catch up if anything changed since the last time (or the last time failed); True if
        it did."""
        try:
            changed = self.shared.generations() != self.seen
        except StorageError:  # shown by /healthz as the database's problem; tried again next time
            return False
        return (changed or self.behind) and self.catch_up()

    def follow(self, interval: float, then: Callable[[], object] = lambda: None) -> None:
        """Poll every `interval` seconds in a daemon thread, for as long as this object lives
        (an app made for a test and dropped takes its thread with it); after each catch-up, call
        `then` (the app loads a newly active model there, before a check has to wait for it)."""
        if interval > 0:
            threading.Thread(target=_follow, args=(weakref.ref(self), interval, then), daemon=True,
                             name="draftguard-replica").start()


def _follow(replica_ref: "weakref.ref[Replica]", interval: float, then: Callable[[], object]) -> None:
    while True:
        time.sleep(interval)
        replica = replica_ref()
        if replica is None:
            return
        try:
            if replica.poll():
                then()
        except Exception as exc:  # the follower must outlive any surprise; the next poll tries again
            replica.behind = True
            log.error("replication: poll failed with %s", type(exc).__name__)
        del replica  # no strong reference while asleep
