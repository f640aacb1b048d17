"""The admin service: everything an admin can do and see, for every surface.

    service = AdminService(settings, storage=..., registry=..., model=..., policy=..., passwords=...)
    service.save_policy(pack, actor)      # and import_examples, start_training, activate_model, ...

The JSON admin API (server/admin.py), the console (server/console.py) and the CLI
(server/cli.py) call this one object for their reads and their changes, so they cannot drift
apart. It loads no web framework and knows nothing of HTTP: it refuses with the domain errors of
server/service/errors.py, which server/web.py maps to statuses in one place. Below it are the
engine (policy pack, model registry), the storage's repositories and the training job process.

Each action validates everything first, then changes state and records who did what in the
audit log; a refusal leaves nothing written. The methods are grouped by concern in the modules
of this package; AdminService puts them together.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional

from engine import classifier
from engine.policy import PolicyStore
from engine.registry import Registry
from engine.watched import Watched
from server.service.accounts import AccountActions, Passwords
from server.service.errors import (DOMAIN_ERRORS, AlreadyRunning, Conflict, Invalid, NotFound, TooLarge, Unavailable,
                                   UploadRejected)
from server.service.examples import ExampleActions
from server.service.models import ModelActions
from server.service.policy import PolicyActions
from server.service.statistics import StatisticsActions
from server.service.training import TrainingActions
from server.storage import Storage

if TYPE_CHECKING:
    from server.replication import Replica

__all__ = ["DOMAIN_ERRORS", "AdminService", "AlreadyRunning", "Conflict", "Invalid", "NotFound", "Passwords",
           "TooLarge", "Unavailable", "UploadRejected"]


class AdminService(PolicyActions, ExampleActions, TrainingActions, ModelActions, StatisticsActions,
                   AccountActions):
    """Built once per app (create_app) from its settings and the objects every worker shares."""

    def __init__(self, settings: Mapping, *, storage: Storage, registry: Registry,
                 model: Watched[classifier.Model], policy: PolicyStore, passwords: Passwords,
                 replica: Optional["Replica"] = None):
        # Read when used, so a setting the app's config holds is the one the service sees:
        # ADMIN_UPLOAD_MAX_BYTES, JOB_STALE_SECONDS, TEST_DATA and server.jobs.JOB_SETTINGS.
        self.settings = settings
        self.storage = storage
        self.registry = registry
        self.model = model  # the active model this worker serves (for the policy's warnings)
        self.policy = policy
        self.passwords = passwords
        self.replica = replica  # this host's copy of the shared models and policy
