"""The registry's bookkeeping on small artifacts: what is recorded, what is refused, which
version serves when the active one breaks.

The registry never looks inside a model, so these versions are real `classifier.Model`s saved
and verified by the real code, without a fitted pipeline: each test takes milliseconds, which
lets `make mutation` run them once per mutant (test_registry.py does the same on the trained
model, through the app).
"""
import hashlib
import json

import pytest

from engine import classifier
from engine.registry import Registry, RegistryError, watch_active_model


def model(threshold: float) -> classifier.Model:
    """A small model; its threshold tells versions apart after loading."""
    return classifier.Model(None, ("security",), {"security": threshold})


def add(registry, version, created, threshold=0.5, **options):
    return registry.add(version, model(threshold), {"created": created}, f"# {version}\n", **options)


@pytest.fixture
def registry(tmp_path):
    return Registry(tmp_path / "models")


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_an_empty_folder_has_no_versions(registry):
    assert registry.read_index() == {"active": None, "versions": {}}
    assert registry.active_version() is None and registry.versions() == []
    assert registry.stamp() is None and registry.artifact_stamp(None) is None


def test_a_version_is_written_whole_and_recorded_with_its_sha256(registry):
    metadata = add(registry, "v1", "2026-01-01", 0.4)
    folder = registry.version_dir("v1")
    assert folder == registry.root / "v1"
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.joblib", "report.md"]
    assert metadata == {"created": "2026-01-01", "version": "v1", "sha256": metadata["sha256"]}
    assert len(metadata["sha256"]) == 64
    assert registry.metadata("v1") == metadata
    assert (folder / "report.md").read_text(encoding="utf-8") == "# v1\n"
    assert json.loads(registry.index_path.read_text()) == {
        "active": "v1", "versions": {"v1": {"sha256": metadata["sha256"], "created": "2026-01-01"}}}
    assert registry.load("v1") == model(0.4)


def test_the_first_version_becomes_active_and_later_ones_only_when_asked(registry):
    add(registry, "v1", "2026-01-01")
    add(registry, "v2", "2026-02-01")
    assert registry.active_version() == "v1"
    add(registry, "v3", "2026-03-01", activate=True)
    assert registry.active_version() == "v3"
    registry.activate("v2")
    assert registry.active_version() == "v2"


def test_versions_are_listed_newest_first_with_the_active_one_marked(registry):
    add(registry, "old", "2026-01-01")
    add(registry, "new", "2026-03-01")
    add(registry, "middle", "2026-02-01")
    (registry.version_dir("middle") / "metadata.json").unlink()
    listed = registry.versions()
    assert [(v["version"], v["active"]) for v in listed] == [("new", False), ("old", True), ("middle", False)]
    assert listed[2] == {"version": "middle", "error": "metadata missing", "active": False}
    assert listed[0]["created"] == "2026-03-01" and listed[0]["sha256"]


@pytest.mark.parametrize("action", ["activate", "load"])
def test_unknown_versions_are_refused(registry, action):
    add(registry, "v1", "2026-01-01")
    with pytest.raises(RegistryError, match="unknown model version 'v9'"):
        getattr(registry, action)("v9")
    assert registry.active_version() == "v1"


def test_an_existing_version_is_never_overwritten(registry):
    add(registry, "v1", "2026-01-01", 0.4)
    with pytest.raises(RegistryError, match="version v1 already exists"):
        add(registry, "v1", "2026-02-01", 0.6)
    assert registry.load("v1") == model(0.4)


@pytest.mark.parametrize("damage", ["truncate", "not json"])
def test_an_unreadable_index_is_a_registry_error_and_add_leaves_nothing_behind(registry, damage):
    add(registry, "v1", "2026-01-01")
    text = registry.index_path.read_text()
    registry.index_path.write_text(text[:20] if damage == "truncate" else "[not json")
    with pytest.raises(RegistryError, match="registry.json is unreadable"):
        registry.read_index()
    with pytest.raises(RegistryError):
        add(registry, "v2", "2026-02-01")
    assert not registry.version_dir("v2").exists()


def test_a_failed_add_removes_the_half_written_version(registry, monkeypatch):
    add(registry, "v1", "2026-01-01")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("engine.registry.atomic_write_json", disk_full)
    with pytest.raises(OSError):
        add(registry, "v2", "2026-02-01")
    assert not registry.version_dir("v2").exists()
    assert list(registry.read_index()["versions"]) == ["v1"]


@pytest.mark.parametrize("written", ['{"versions": {}}', '{"active": null}', "{}"])
def test_missing_entries_of_the_index_read_as_no_active_version_and_no_versions(registry, written):
    registry.root.mkdir(parents=True)
    registry.index_path.write_text(written)
    assert registry.read_index() == {"active": None, "versions": {}}


def test_unreadable_metadata_is_a_registry_error_naming_the_version(registry):
    add(registry, "v1", "2026-01-01")
    (registry.version_dir("v1") / "metadata.json").write_text("{")
    with pytest.raises(RegistryError, match="metadata of v1 is unreadable"):
        registry.metadata("v1")


def test_a_missing_artifact_is_a_registry_error_and_a_changed_one_an_integrity_error(registry):
    add(registry, "v1", "2026-01-01")
    add(registry, "v2", "2026-02-01")
    (registry.version_dir("v1") / "model.joblib").unlink()
    with pytest.raises(RegistryError, match="artifact of v1 is missing"):
        registry.load("v1")
    artifact = registry.version_dir("v2") / "model.joblib"
    flip_a_byte(artifact)
    with pytest.raises(classifier.ModelIntegrityError) as refused:
        registry.load("v2")
    actual = hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert str(refused.value) == f"v2/model.joblib: sha256 {actual[:12]}… does not match the registry"


def test_a_verified_artifact_that_is_not_a_model_is_refused(registry):
    add(registry, "v1", "2026-01-01")
    sha256 = classifier.save({"not": "a model"}, registry.version_dir("v1") / "model.joblib")
    with pytest.raises(classifier.ModelIntegrityError, match="not a Draftguard model"):
        classifier.load(registry.version_dir("v1") / "model.joblib", sha256)


def test_the_newest_version_that_verifies_is_found_skipping_the_excluded_and_broken_ones(registry):
    add(registry, "oldest", "2026-01-01", 0.1)
    add(registry, "older", "2026-02-01", 0.2)
    add(registry, "newer", "2026-03-01", 0.3)
    add(registry, "newest", "2026-04-01", 0.4)
    flip_a_byte(registry.version_dir("newer") / "model.joblib")
    assert registry.newest_verified(exclude="newest") == ("older", model(0.2))
    assert registry.newest_verified(exclude="oldest") == ("newest", model(0.4))
    for version in ("oldest", "older", "newest"):
        (registry.version_dir(version) / "model.joblib").unlink()
    assert registry.newest_verified(exclude="x") is None


def test_the_stamps_change_when_the_files_are_replaced(registry):
    add(registry, "v1", "2026-01-01")
    add(registry, "v2", "2026-02-01")
    index, artifact = registry.stamp(), registry.artifact_stamp("v1")
    assert index is not None and artifact is not None
    registry.activate("v2")
    assert registry.stamp() != index
    flip_a_byte(registry.version_dir("v1") / "model.joblib")
    assert registry.artifact_stamp("v1") != artifact
    assert registry.artifact_stamp("v9") is None


# --- the active model as each worker sees it ----------------------------------------------------

def test_the_watched_model_follows_activation(registry):
    add(registry, "v1", "2026-01-01", 0.1)
    add(registry, "v2", "2026-02-01", 0.2)
    watched = watch_active_model(registry)
    assert watched.current().name == "v1" and watched.current().value == model(0.1)
    registry.activate("v2")
    assert (watched.current().name, watched.current().value, watched.problem) == ("v2", model(0.2), None)


def test_a_new_candidate_does_not_reload_the_active_model(registry):
    add(registry, "v1", "2026-01-01")
    watched = watch_active_model(registry)
    first = watched.current()
    add(registry, "v2", "2026-02-01")  # registry.json changes, the active artifact does not
    assert watched.current() is first


def test_a_changed_active_artifact_is_verified_again_and_the_held_copy_keeps_serving(registry):
    add(registry, "v1", "2026-01-01")
    watched = watch_active_model(registry)
    first = watched.current()
    flip_a_byte(registry.version_dir("v1") / "model.joblib")  # same version, other bytes
    assert watched.current() is first
    assert watched.problem.startswith("active model v1 cannot be loaded (")
    assert watched.problem.endswith("; still serving v1, verified when it was loaded")


def test_without_an_active_model_nothing_serves_and_the_problem_says_how_to_train(registry):
    watched = watch_active_model(registry)
    assert watched.current() is None
    assert watched.problem == "no active model: run `python -m train`"


def test_a_broken_active_model_keeps_the_copy_the_worker_holds(registry):
    add(registry, "v1", "2026-01-01", 0.1)
    add(registry, "v2", "2026-02-01", 0.2)
    watched = watch_active_model(registry)
    assert watched.current().name == "v1"
    flip_a_byte(registry.version_dir("v2") / "model.joblib")
    registry.activate("v2")
    assert (watched.current().name, watched.current().value) == ("v1", model(0.1))
    assert watched.problem.startswith("active model v2 cannot be loaded (")
    assert watched.problem.endswith("; still serving v1, verified when it was loaded")


def test_a_worker_starting_on_a_broken_active_model_serves_the_newest_that_verifies(registry):
    add(registry, "v1", "2026-01-01", 0.1)
    add(registry, "v2", "2026-02-01", 0.2)
    add(registry, "v3", "2026-03-01", 0.3, activate=True)
    artifact = registry.version_dir("v3") / "model.joblib"
    original = artifact.read_bytes()
    flip_a_byte(artifact)
    watched = watch_active_model(registry)
    assert (watched.current().name, watched.current().value) == ("v2", model(0.2))
    assert watched.problem.startswith("active model v3 cannot be loaded (")
    assert watched.problem.endswith("; serving v2, the newest version that verifies")
    artifact.write_bytes(original)  # repaired on disk: noticed by its stamp, no restart
    assert (watched.current().name, watched.problem) == ("v3", None)


def test_a_worker_starting_when_no_version_verifies_serves_nothing(registry):
    add(registry, "v1", "2026-01-01")
    flip_a_byte(registry.version_dir("v1") / "model.joblib")
    watched = watch_active_model(registry)
    assert watched.current() is None
    assert watched.problem.startswith("active model v1 cannot be loaded (")
    assert watched.problem.endswith("; no other version verifies")


def test_an_unreadable_index_keeps_the_model_serving(registry):
    add(registry, "v1", "2026-01-01")
    watched = watch_active_model(registry)
    assert watched.current().name == "v1"
    registry.index_path.write_text("{")
    assert watched.current().name == "v1"
    assert "registry.json is unreadable" in watched.problem
