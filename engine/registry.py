"""The model registry: which versions exist, their sha256, and which one is active.

Layout of the models folder:

    models/registry.json               {"active": "<version>", "versions": {"<version>": {...}}}
    models/<version>/model.joblib      the fitted classifier.Model
    models/<version>/metadata.json     version, created, data hash, metrics, library versions, sha256
    models/<version>/report.md         the human-readable evaluation

registry.json is the record a loader trusts: an artifact is loaded only if its bytes hash to
the sha256 recorded there. Writers take a lock and replace the file atomically; readers in
every worker notice the change by its stat and swap models between two requests.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from engine import classifier
from engine.fileio import atomic_write_bytes, atomic_write_json
from engine.watched import Fallback, Loaded, Watched, file_stamp

INDEX = "registry.json"
# Saving a version takes seconds; a folder this old that registry.json does not list is an orphan.
ORPHAN_MIN_AGE_SECONDS = 600
ARTIFACT = "model.joblib"
METADATA = "metadata.json"
REPORT = "report.md"


class RegistryError(Exception):
    pass


class Registry:
    def __init__(self, models_dir: Path):
        self.root = Path(models_dir)

    @property
    def index_path(self) -> Path:
        return self.root / INDEX

    @contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read_index(self) -> dict:
        try:
            index = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"active": None, "versions": {}}
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{INDEX} is unreadable: {exc}") from None
        index.setdefault("active", None)
        index.setdefault("versions", {})
        return index

    def version_dir(self, version: str) -> Path:
        return self.root / version

    def active_version(self) -> Optional[str]:
        return self.read_index()["active"]

    def metadata(self, version: str) -> dict:
        path = self.version_dir(version) / METADATA
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"metadata of {version} is unreadable: {exc}") from None

    def versions(self) -> list[dict]:
        """Every registered version, newest first, with its metadata and whether it is active."""
        index = self.read_index()
        listed = []
        for version in index["versions"]:
            try:
                meta = self.metadata(version)
            except RegistryError:
                meta = {"version": version, "error": "metadata missing"}
            listed.append({**meta, "version": version, "active": version == index["active"]})
        return sorted(listed, key=lambda m: m.get("created", ""), reverse=True)

    def add(self, version: str, model: classifier.Model, metadata: dict, report: str,
            activate: bool = False) -> dict:
        """Write a new version's files, then record it (and optionally make it active)."""
        folder = self.version_dir(version)
        if folder.exists():
            raise RegistryError(f"version {version} already exists")
        self.read_index()  # an unreadable registry stops here, before anything is written
        folder.mkdir(parents=True)
        try:
            sha256 = classifier.save(model, folder / ARTIFACT)
            metadata = {**metadata, "version": version, "sha256": sha256}
            atomic_write_json(folder / METADATA, metadata)
            (folder / REPORT).write_text(report, encoding="utf-8")
            with self._locked():
                index = self.read_index()
                index["versions"][version] = {"sha256": sha256, "created": metadata.get("created")}
                if activate or index["active"] is None:
                    index["active"] = version
                atomic_write_json(self.index_path, index)
        except BaseException:  # a version is registered whole or not at all: no orphan folder
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return metadata

    def install(self, version: str, artifact: bytes, sha256: str, metadata: dict, report: str) -> None:
        """Register a version received from elsewhere (another host, through the database),
        not active. Its bytes must hash to `sha256`, which is what registry.json will record."""
        if hashlib.sha256(artifact).hexdigest() != sha256:
            raise RegistryError(f"the copy of {version} received does not match its sha256; not installed")
        folder = self.version_dir(version)
        self.read_index()
        shutil.rmtree(folder, ignore_errors=True)  # a half-written copy from an interrupted install
        folder.mkdir(parents=True)
        try:
            atomic_write_bytes(folder / ARTIFACT, artifact)
            atomic_write_json(folder / METADATA, metadata)
            (folder / REPORT).write_text(report, encoding="utf-8")
            with self._locked():
                index = self.read_index()
                index["versions"][version] = {"sha256": sha256, "created": metadata.get("created")}
                atomic_write_json(self.index_path, index)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def files(self, version: str) -> tuple[bytes, dict, str]:
        """A registered version's artifact bytes (checked against registry.json), metadata and
        report: what another host needs to install it."""
        record = self.read_index()["versions"].get(version)
        if record is None:
            raise RegistryError(f"unknown model version {version!r}")
        folder = self.version_dir(version)
        try:
            artifact = (folder / ARTIFACT).read_bytes()
            report = (folder / REPORT).read_text(encoding="utf-8") if (folder / REPORT).exists() else ""
        except OSError as exc:
            raise RegistryError(f"artifact of {version} cannot be read: {exc}") from None
        if hashlib.sha256(artifact).hexdigest() != record["sha256"]:
            raise classifier.ModelIntegrityError(f"artifact of {version} does not match its recorded sha256")
        return artifact, self.metadata(version), report

    def activate(self, version: str) -> None:
        with self._locked():
            index = self.read_index()
            if version not in index["versions"]:
                raise RegistryError(f"unknown model version {version!r}")
            index["active"] = version
            atomic_write_json(self.index_path, index)

    def load(self, version: str) -> classifier.Model:
        record = self.read_index()["versions"].get(version)
        if record is None:
            raise RegistryError(f"unknown model version {version!r}")
        try:
            return classifier.load(self.version_dir(version) / ARTIFACT, record["sha256"])
        except FileNotFoundError:
            raise RegistryError(f"artifact of {version} is missing") from None

    def newest_verified(self, exclude: str) -> Optional[tuple[str, classifier.Model]]:
        """The newest registered version other than `exclude` whose artifact verifies."""
        for meta in self.versions():
            if meta["version"] == exclude:
                continue
            try:
                return meta["version"], self.load(meta["version"])
            except (RegistryError, classifier.ModelIntegrityError, OSError):
                continue
        return None

    def orphans(self, min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS) -> list[str]:
        """Folders that registry.json does not list (left by a training process that was killed
        while saving), older than `min_age_seconds` so that a version being saved right now is
        not among them."""
        listed = self.read_index()["versions"]
        cutoff = time.time() - min_age_seconds
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and p.name not in listed and p.stat().st_mtime < cutoff) \
            if self.root.exists() else []

    def remove_orphans(self, min_age_seconds: float = ORPHAN_MIN_AGE_SECONDS) -> list[str]:
        with self._locked():
            removed = self.orphans(min_age_seconds)
            for name in removed:
                shutil.rmtree(self.root / name)
        return removed

    def stamp(self) -> Optional[tuple[int, int, int]]:
        return file_stamp(self.index_path)

    def artifact_stamp(self, version: Optional[str]) -> Optional[tuple[int, int, int]]:
        return file_stamp(self.version_dir(version) / ARTIFACT) if version else None


def watch_active_model(registry: Registry) -> Watched[classifier.Model]:
    """The active model, re-verified whenever registry.json or the active artifact changes on
    disk (mtime, size or inode: a flipped byte, a deleted or replaced file).

    When the active version cannot be loaded, the worker keeps the copy it already holds (it
    was verified when loaded) or, after a restart, serves the newest version that verifies;
    either way /healthz says "degraded" and why. Once the file is good again, the next request
    notices the change and serves the active version again."""
    known = {"index": object(), "active": None}
    verified: dict[str, object] = {}  # version -> artifact stamp when it was verified

    def active_version() -> Optional[str]:
        try:
            return registry.active_version()
        except RegistryError:
            return None

    def stamp() -> tuple:
        index = registry.stamp()
        if index != known["index"]:  # read registry.json only when it changed
            known["index"], known["active"] = index, active_version()
        return index, registry.artifact_stamp(known["active"])

    def load(previous: Optional[Loaded[classifier.Model]]) -> Optional[Loaded[classifier.Model]]:
        version = registry.active_version()
        if version is None:
            raise RegistryError("no active model: run `python -m train`")
        artifact = registry.artifact_stamp(version)
        if previous is not None and previous.name == version and verified.get(version) == artifact:
            return previous  # the index changed (a new candidate), the active model did not
        try:
            loaded = Loaded(version, registry.load(version))
        except (RegistryError, classifier.ModelIntegrityError, OSError, ValueError) as exc:
            reason = f"active model {version} cannot be loaded ({exc})"
            if previous is not None:
                raise Fallback(previous, f"{reason}; still serving {previous.name}, verified when it was loaded") from None
            fallback = registry.newest_verified(exclude=version)
            if fallback is None:
                raise RegistryError(f"{reason}; no other version verifies") from None
            verified[fallback[0]] = registry.artifact_stamp(fallback[0])
            raise Fallback(Loaded(*fallback), f"{reason}; serving {fallback[0]}, the newest version that verifies") from None
        verified[version] = artifact
        return loaded

    return Watched(stamp, load)
