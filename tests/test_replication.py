"""Several hosts, one database: each host's models folder and policy file follow what the
database records (server/replication.py). Here two "hosts" are two pairs of folders in one
process sharing one database; tests/test_two_hosts.py runs two real servers."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.policy import default_pack
from engine.registry import Registry
from server import create_app
from server.replication import Replica, SharedPolicy, SharedRegistry
from server.storage import Storage
from server.storage.schema import model_versions
from train.__main__ import main as train_main

from conftest import app_config, on_both_databases

pytestmark = on_both_databases


class Host:
    def __init__(self, root: Path, storage: Storage):
        self.models = root / "models"
        self.registry = SharedRegistry(self.models, storage.shared)
        self.policy = SharedPolicy(root / "data", storage.shared)
        self.replica = Replica(self.registry, self.policy, storage.shared)


@pytest.fixture
def storage(database_url) -> Storage:
    storage = Storage(database_url)
    storage.migrate()
    return storage


@pytest.fixture
def first(tmp_path, trained_models, storage) -> Host:
    """A host whose models folder has a trained model, joined to an empty database."""
    shutil.copytree(trained_models, tmp_path / "a" / "models")
    host = Host(tmp_path / "a", storage)
    assert host.replica.catch_up()
    return host


@pytest.fixture
def second(tmp_path, storage, first) -> Host:
    """A fresh host (empty folders) joining the first one's database."""
    host = Host(tmp_path / "b", storage)
    assert host.replica.catch_up()
    return host


def add_copy(registry: Registry, version: str) -> str:
    """A second real, loadable version: the active artifact under a new name, on this host only."""
    artifact, metadata, report = registry.files(registry.active_version())
    registry.install(version, artifact, metadata["sha256"], {**metadata, "version": version,
                                                             "created": "2099-01-01T00:00:00+00:00"}, report)
    return version


def test_a_fresh_host_gets_the_active_model_without_training(first, second):
    active = first.registry.active_version()
    assert second.registry.active_version() == active
    assert (second.models / active / "model.joblib").read_bytes() == (first.models / active / "model.joblib").read_bytes()
    assert second.registry.metadata(active) == first.registry.metadata(active)
    second.registry.load(active)  # checked against the sha256 the database recorded


def test_a_version_registered_on_one_host_reaches_the_other(first, second):
    add_copy(second.registry, "v2")
    assert second.replica.catch_up()  # shares what only it has
    first.replica.poll()
    assert "v2" in first.registry.read_index()["versions"]
    assert first.registry.active_version() != "v2"  # a candidate, not active


def test_promotion_and_rollback_on_either_host_reach_the_other(first, second):
    original = first.registry.active_version()
    add_copy(first.registry, "v2")
    first.registry.activate("v2")
    second.replica.poll()
    assert second.registry.active_version() == "v2"
    second.registry.activate(original)  # the rollback, on the other host
    first.replica.poll()
    assert first.registry.active_version() == original
    assert second.registry.active_version() == original


def test_an_activation_on_one_host_only_is_shared_not_undone(first, second):
    """`python -m train --activate` writes the models folder, not the database: the host's next
    catch-up shares that choice rather than reverting it."""
    add_copy(first.registry, "v2")
    Registry.activate(first.registry, "v2")
    assert first.replica.catch_up()
    assert first.registry.active_version() == "v2"
    second.replica.poll()
    assert second.registry.active_version() == "v2"


def test_a_poll_does_nothing_when_nothing_changed(first, second):
    index = (second.models / "registry.json").stat()
    time.sleep(0.01)
    second.replica.poll()
    assert (second.models / "registry.json").stat().st_mtime_ns == index.st_mtime_ns


def test_a_copy_that_does_not_match_its_sha256_is_not_installed(first, storage, tmp_path):
    add_copy(first.registry, "v2")
    assert first.replica.catch_up()
    with storage.database.writing() as conn:
        conn.execute(sa.update(model_versions).where(model_versions.c.version == "v2").values(artifact=b"tampered"))
    late = Host(tmp_path / "late", storage)
    assert not late.replica.catch_up()
    assert "v2" in late.replica.problem and "sha256" in late.replica.problem
    assert "v2" not in late.registry.read_index()["versions"] and not (late.models / "v2").exists()
    artifact, _, _ = first.registry.files("v2")
    with storage.database.writing() as conn:  # the record repaired: the next poll tries again
        conn.execute(sa.update(model_versions).where(model_versions.c.version == "v2").values(artifact=artifact))
    late.replica.poll()
    assert late.replica.problem is None and "v2" in late.registry.read_index()["versions"]


def test_a_policy_saved_on_one_host_reaches_the_other(first, second):
    edited = default_pack().model_copy(update={"version": 2, "name": "Edited on the first host"})
    first.policy.save(edited)
    second.replica.poll()
    assert second.policy.current() == edited
    assert json.loads((second.policy.path).read_text(encoding="utf-8"))["name"] == "Edited on the first host"


def test_the_follower_thread_brings_a_promotion_without_being_asked(first, second):
    original = first.registry.active_version()
    add_copy(first.registry, "v2")
    second.replica.follow(0.05)
    first.registry.activate("v2")
    deadline = time.monotonic() + 10
    while second.registry.active_version() != "v2" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.registry.active_version() == "v2" != original


def test_a_new_version_changes_what_hosts_poll(first, storage):
    before = storage.shared.generations()
    add_copy(first.registry, "v2")
    first.replica.catch_up()
    assert storage.shared.generations() != before
    unchanged = storage.shared.generations()
    first.replica.catch_up()  # offering nothing new changes nothing
    assert storage.shared.generations() == unchanged


def test_models_sync_fetches_the_shared_model_so_train_if_missing_trains_none(first, database_url, tmp_path):
    """What `make run` does on a host joining others: `flask models sync`, then
    `python -m train --if-missing`, which then finds an active model."""
    app = create_app(app_config(tmp_path / "joining" / "models", tmp_path / "joining" / "data", DATABASE_URL=database_url))
    shutil.rmtree(tmp_path / "joining" / "models")  # as if create_app had found nothing: the command fetches it
    result = app.test_cli_runner().invoke(args=["models", "sync"])
    assert result.exit_code == 0, result.output
    assert first.registry.active_version() in result.output
    assert Registry(tmp_path / "joining" / "models").active_version() == first.registry.active_version()
    assert train_main(["--if-missing", "--models-dir", str(tmp_path / "joining" / "models"), "--quiet"]) == 0
    assert [p.name for p in (tmp_path / "joining" / "models").iterdir() if p.is_dir()] == [first.registry.active_version()]

