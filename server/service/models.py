"""Model versions: the list, promoting or rolling back, a candidate beside the active model on
held-out data, and removing folders the registry does not list."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

from engine.classifier import ModelIntegrityError
from engine.dataset import DatasetError
from engine.policy import PolicyStore
from engine.registry import Registry, RegistryError
from server import evaluation
from server.service.errors import Conflict, NotFound, Unavailable
from server.storage import Storage

if TYPE_CHECKING:
    from server.replication import Replica


class ModelActions:
    settings: Mapping
    storage: Storage
    registry: Registry
    policy: PolicyStore
    replica: "Replica"

    def model_versions(self) -> list[dict]:
        """Every version, newest first, with its metadata and whether it is active."""
        return self.registry.versions()

    def active_model_version(self) -> Optional[str]:
        return self.registry.active_version()

    def _known_versions(self) -> dict[str, str]:
        """Each registered version and when it was created."""
        return {v["version"]: v.get("created", "") for v in self.registry.versions()}

    def activate_model(self, version: str, actor: str) -> Optional[str]:
        """Make a version active (promote a candidate or roll back); the one it replaced.

        The artifact is loaded and its sha256 checked first, so a broken version is refused here
        rather than left for every worker to reject."""
        created = self._known_versions()
        if version not in created:
            raise NotFound(f"no model version {version!r}")
        try:
            self.registry.load(version)
        except Exception as exc:  # integrity error, missing or unreadable artifact
            raise Conflict(f"version {version} cannot be loaded, so it was not activated: {exc}") from None
        previous = self.registry.active_version()
        try:
            self.registry.activate(version)
        except RegistryError as exc:
            raise Conflict(str(exc)) from None
        newer = previous is None or created[version] >= created.get(previous, "")
        self.storage.audit.record(actor, "model.promote" if newer else "model.rollback",
                                  {"version": version, "previous": previous})
        return previous

    def catch_up_with_database(self) -> Optional[str]:
        """Bring this host's models folder and policy up to date with the database (every host's
        record); the active version it now has. A fresh host gets the active model this way
        instead of training its own."""
        if not self.replica.catch_up():
            raise Unavailable(self.replica.problem or self.storage.database.storage_problem()
                              or "the database cannot be used")
        return self.registry.active_version()

    def comparison(self, candidate: str, baseline: Optional[str] = None) -> dict:
        """The candidate's evaluation beside the baseline's (default: the active model's)."""
        baseline = baseline or self.registry.active_version()
        known = self._known_versions()
        for version in (candidate, baseline):
            if version not in known:
                raise NotFound(f"no model version {version!r}")
        try:
            return evaluation.compare(candidate, baseline, self.registry, self.storage.evaluations,
                                      self.policy.current(), self.settings["TEST_DATA"])
        except DatasetError as exc:
            raise Unavailable(f"the held-out data cannot be read: {exc}") from None
        except (RegistryError, ModelIntegrityError, OSError) as exc:
            raise Conflict(f"cannot evaluate: {exc}") from None

    def remove_orphan_models(self, actor: str, dry_run: bool = False) -> list[str]:
        """Remove the model folders registry.json does not list (a training process killed while
        saving leaves one), or with `dry_run` only name them. Folders younger than ten minutes
        may still be being saved: kept."""
        try:
            orphans = self.registry.orphans() if dry_run else self.registry.remove_orphans()
        except RegistryError as exc:
            raise Unavailable(f"{exc}; nothing was removed") from None
        if orphans and not dry_run:
            self.storage.audit.record(actor, "models.gc", {"removed": orphans})
        return orphans
