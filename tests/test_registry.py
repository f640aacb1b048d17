"""Model integrity and hot swap: only recorded artifacts load; a bad one never takes the service down."""
import json
import os
import sys
import time
from pathlib import Path

import joblib
import pytest

from conftest import app_config
from engine import classifier
from engine.policy import default_pack
from engine.registry import Registry, RegistryError
from server import create_app

DRAFT = "Quarterly numbers look great, our VPN password is Hunter2Secret!"


def test_tampered_artifact_is_refused(models_dir):
    registry = Registry(models_dir)
    version = registry.active_version()
    artifact = registry.version_dir(version) / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(classifier.ModelIntegrityError):
        registry.load(version)


def test_server_without_a_loadable_model_stays_up_and_says_so(models_dir, tmp_path):
    registry = Registry(models_dir)
    (registry.version_dir(registry.active_version()) / "model.joblib").write_bytes(b"not a model")
    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "unavailable"
    assert "sha256" in health.get_json()["detail"]
    check = client.post("/v1/check", json={"text": DRAFT})
    assert check.status_code == 503 and check.get_json()["error"]["code"] == "unavailable"


def _register_copy(registry: Registry, version: str, created: str = "2099-01-01T00:00:00+00:00") -> str:
    """Register the active model again under a new version name (a cheap 'retrain')."""
    model = registry.load(registry.active_version())
    registry.add(version, model, {"created": created}, "# copy\n")
    return version


def test_promotion_is_picked_up_without_restart(models_dir, tmp_path):
    registry = Registry(models_dir)
    first = registry.active_version()
    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == first
    second = _register_copy(registry, "2099-01-01T00-00-00Z-beef")
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == first
    registry.activate(second)
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == second
    registry.activate(first)
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == first


def test_activating_a_corrupt_version_keeps_the_last_good_model_serving(models_dir, tmp_path):
    registry = Registry(models_dir)
    good = registry.active_version()
    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()
    assert client.post("/v1/check", json={"text": DRAFT}).status_code == 200
    bad = _register_copy(registry, "2099-01-01T00-00-00Z-dead")
    (registry.version_dir(bad) / "model.joblib").write_bytes(b"\x80\x04evil pickle")
    registry.activate(bad)
    response = client.post("/v1/check", json={"text": DRAFT})
    assert response.status_code == 200 and response.get_json()["model_version"] == good
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["model_version"] == good
    assert bad in health["detail"] or "sha256" in health["detail"]


def test_registry_refuses_unknown_versions_and_duplicates(models_dir):
    registry = Registry(models_dir)
    with pytest.raises(RegistryError):
        registry.activate("no-such-version")
    active = registry.active_version()
    with pytest.raises(RegistryError):
        registry.add(active, registry.load(active), {}, "")


def test_registry_index_records_sha256_and_metadata_matches(models_dir):
    registry = Registry(models_dir)
    version = registry.active_version()
    index = json.loads(registry.index_path.read_text())
    metadata = registry.metadata(version)
    assert index["versions"][version]["sha256"] == metadata["sha256"]
    assert {"version", "created", "data_hash", "metrics", "thresholds", "libraries", "sha256"} <= set(metadata)
    listed = registry.versions()
    assert listed[0]["version"] == version and listed[0]["active"] is True


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_a_damaged_active_artifact_is_noticed_at_once_and_recovered_from(models_dir, tmp_path, damage):
    registry = Registry(models_dir)
    active = registry.active_version()
    artifact = registry.version_dir(active) / "model.joblib"
    original = artifact.read_bytes()
    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"

    _flip_a_byte(artifact) if damage == "flip" else artifact.unlink()
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["model_version"] == active
    assert ("sha256" if damage == "flip" else "missing") in health["detail"]
    assert str(tmp_path) not in health["detail"]  # no absolute paths
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == active

    artifact.write_bytes(original)
    assert client.get("/healthz").get_json() == {**health, "status": "ok", "detail": None}


def test_a_worker_restarted_while_the_artifact_is_bad_serves_the_newest_version_that_verifies(models_dir, tmp_path):
    registry = Registry(models_dir)
    active = registry.active_version()
    older = _register_copy(registry, "2000-01-01T00-00-00Z-0ld1", "2000-01-01T00:00:00+00:00")
    newer = _register_copy(registry, "2098-01-01T00-00-00Z-n3w1", "2098-01-01T00:00:00+00:00")
    registry.activate(active)
    artifact = registry.version_dir(active) / "model.joblib"
    original = artifact.read_bytes()
    _flip_a_byte(artifact)

    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()  # the restart
    health = client.get("/healthz").get_json()
    assert health["status"] == "degraded" and health["model_version"] == newer != older
    assert f"active model {active} cannot be loaded" in health["detail"] and str(tmp_path) not in health["detail"]
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == newer

    artifact.write_bytes(original)  # fixed on disk: the worker recovers by itself
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"] == active


def test_an_unreadable_registry_is_a_clear_503_on_admin_routes_and_checks_go_on(models_dir, tmp_path):
    from conftest import ADMIN_TOKEN
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    client = create_app(app_config(models_dir, tmp_path / "data")).test_client()
    active = client.post("/v1/check", json={"text": DRAFT}).get_json()["model_version"]
    index = Registry(models_dir).index_path
    index.write_text(index.read_text()[:40])  # truncated
    for response in (client.get("/v1/admin/models", headers=auth),
                     client.post(f"/v1/admin/models/{active}/activate", headers=auth),
                     client.get(f"/v1/admin/models/{active}/compare", headers=auth)):
        assert response.status_code == 503, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "registry_unavailable" and "registry.json is unreadable" in error["message"]
        assert str(tmp_path) not in error["message"]
    check = client.post("/v1/check", json={"text": DRAFT})
    assert check.status_code == 200 and check.get_json()["model_version"] == active
    assert client.get("/healthz").get_json()["status"] == "degraded"


def test_a_version_is_registered_whole_or_leaves_nothing_behind(models_dir):
    registry = Registry(models_dir)
    model = registry.load(registry.active_version())
    before = sorted(p.name for p in models_dir.iterdir())
    registry.index_path.write_text("{ not json")
    with pytest.raises(RegistryError):
        registry.add("2099-01-01T00-00-00Z-0rph", model, {"created": "2099"}, "# r\n")
    assert sorted(p.name for p in models_dir.iterdir()) == before


def _age(folder, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(folder, (past, past))


def test_models_gc_removes_only_old_unlisted_folders(app, models_dir):
    from test_admin_cli import run, storage_of
    orphan = models_dir / "2026-01-01T00-00-00Z-dead"
    orphan.mkdir()
    (orphan / "model.joblib").write_bytes(b"half a model")
    _age(orphan, 3600)
    in_progress = models_dir / "2026-01-02T00-00-00Z-busy"  # being saved right now
    in_progress.mkdir()
    listed = sorted(Registry(models_dir).read_index()["versions"])

    dry = run(app, "models", "gc", "--dry-run")
    assert dry.exit_code == 0 and "Would remove 1 orphan folder(s): 2026-01-01T00-00-00Z-dead" in dry.output
    assert orphan.exists()
    result = run(app, "models", "gc")
    assert result.exit_code == 0 and "Removed 1 orphan folder(s)" in result.output
    assert not orphan.exists() and in_progress.exists()
    assert all((models_dir / version).is_dir() for version in listed)
    assert storage_of(app).audit.page()[0][0]["action"] == "models.gc"
    assert "No orphan folders." in run(app, "models", "gc").output


def test_models_gc_refuses_to_guess_when_the_registry_is_unreadable(app, models_dir):
    from test_admin_cli import run
    orphan = models_dir / "2026-01-01T00-00-00Z-dead"
    orphan.mkdir()
    _age(orphan, 3600)
    Registry(models_dir).index_path.write_text("{ truncated")
    result = run(app, "models", "gc")
    assert result.exit_code == 1 and "registry.json is unreadable" in result.output
    assert "nothing was removed" in result.output and orphan.exists()


def test_a_model_saved_before_the_engine_moved_out_of_server_still_loads(tmp_path):
    # A small model pickled when the classifier lived in server/ (it names server.classifier).
    artifact = Path(__file__).parent / "data" / "model-saved-before-the-engine-move.joblib"
    with pytest.raises(ModuleNotFoundError, match="server.classifier"):
        joblib.load(artifact)
    model = classifier.load(artifact, "e6f2e1c01100ebac47bf7a59ef05a07d5e0d30e43a45e3433f39ea1956e4d243")
    verdict = classifier.predict(model, "Here's the VPN login, password is Summer2024!", default_pack())
    assert "security" in verdict.flagged_ids
    assert "server.classifier" not in sys.modules  # the old names were only lent for the load
