"""The admin service on its own: no Flask app, no HTTP, a SQLite database and a models folder in
tmp. What the JSON API, the console and the CLI do is these calls; their tests check the HTTP
and the pages around them."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from engine.policy import PolicyStore
from engine.registry import Registry, watch_active_model
from server import config
from server.service import (AdminService, AlreadyRunning, Conflict, Invalid, NotFound, TooLarge, Unavailable,
                            UploadRejected)
from server.storage import Storage, sqlite_url

UPLOAD_LIMIT = 2000
COPY = "2099-01-01T00-00-00Z-copy"


class FakePasswords:
    """Cheap and visible: a test can tell a hash from the password it was made of."""

    def hash(self, password: str) -> str:
        return "fake:" + hashlib.sha256(password.encode()).hexdigest()

    def matches(self, stored: str, password: str) -> bool:
        return stored == self.hash(password)


@pytest.fixture
def settings(models_dir, tmp_path) -> dict:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return {**config.from_env({}), "MODELS_DIR": models_dir, "DATA_DIR": data_dir,
            "DATABASE_URL": sqlite_url(data_dir / "draftguard.sqlite3"), "ADMIN_UPLOAD_MAX_BYTES": UPLOAD_LIMIT,
            "JOB_STALE_SECONDS": 60.0}


@pytest.fixture
def storage(settings) -> Storage:
    storage = Storage(settings["DATABASE_URL"])
    storage.migrate()
    return storage


@pytest.fixture
def service(settings, storage) -> AdminService:
    registry = Registry(settings["MODELS_DIR"])
    return AdminService(settings, storage=storage, registry=registry, model=watch_active_model(registry),
                        policy=PolicyStore(settings["DATA_DIR"]), passwords=FakePasswords())


def audit_actions(service) -> list[str]:
    return [entry["action"] for entry in service.audit_page()[0]]


def store(service, *rows: tuple[str, list[str]]) -> int:
    lines = "".join(json.dumps({"text": text, "labels": labels}) + "\n" for text, labels in rows)
    return service.import_examples(service.parse_upload(lines.encode(), "rows.jsonl"), "upload:rows.jsonl", "alice")


def test_the_service_loads_no_web_framework():
    code = "import json, sys, server.service; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                           check=True).stdout))
    assert "server.service" in loaded and "server.jobs" in loaded
    assert not {"flask", "werkzeug", "server.web"} & loaded


# --- policy --------------------------------------------------------------------------------

def test_saving_the_policy_bumps_its_version_audits_it_and_warns_what_the_model_cannot_score(service):
    pack = service.current_policy()
    added = pack.categories[0].model_copy(update={"id": "legal_hold", "title": "Legal hold"})
    saved, warnings = service.save_policy(pack.model_copy(update={"categories": [*pack.categories, added]}), "alice")
    assert saved.version == pack.version + 1 and service.current_policy() == saved
    assert [w for w in warnings if w.startswith("legal_hold has no model score")] == warnings and warnings
    assert "legal_hold" not in service.model_scores(saved) and "confidential" in service.model_scores(saved)
    entry = service.audit_page()[0][0]
    assert (entry["actor"], entry["action"], entry["detail"]["version"]) == ("alice", "policy.edit", saved.version)
    assert entry["detail"]["categories_changed"] == ["legal_hold"]


def test_an_unchanged_pack_saves_without_warnings(service):
    saved, warnings = service.save_policy(service.current_policy(), "alice")
    assert warnings == [] and saved.version == 2


def test_an_edit_of_an_old_version_is_a_conflict_and_changes_nothing(service):
    pack = service.current_policy()
    service.save_policy(pack, "alice")
    with pytest.raises(Conflict, match="changed since version 1"):
        service.save_policy(pack.model_copy(update={"name": "Overwritten"}), "bob")
    assert service.current_policy().version == 2 and service.current_policy().name == pack.name
    assert audit_actions(service) == ["policy.edit"]


def test_a_category_stored_examples_use_cannot_be_deleted(service):
    store(service, ("Project Heron ships in May", ["ip"]))
    pack = service.current_policy()
    without_ip = pack.model_copy(update={"categories": [c for c in pack.categories if c.id != "ip"],
                                         "detectors": {n: c for n, c in pack.detectors.items() if c != "ip"},
                                         "terms": [t for t in pack.terms if t.category != "ip"]})
    with pytest.raises(Conflict, match=r"cannot delete ip \(1 stored examples"):
        service.save_policy(without_ip, "alice")
    assert "ip" in service.current_policy().category_ids


def test_renaming_a_category_relabels_the_stored_examples_and_feedback(service, storage):
    store(service, ("Project Heron ships in May", ["confidential", "financial"]), ("Lovely lunch", []))
    storage.feedback.add("missed", ["confidential"], None, "linkedin", "post", "Kestrel launches soon")
    saved, relabelled = service.rename_category("confidential", "secret", 1, "alice")
    assert relabelled == {"examples": 1, "feedback": 1}
    assert saved.version == 2 and saved.category("secret").formerly == ["confidential"]
    assert "confidential" not in service.current_policy().category_ids
    assert service.example_labels() == {"secret": 1, "financial": 1, "clean": 1}
    assert service.feedback("new")[0]["categories"] == ["secret"]
    assert audit_actions(service)[0] == "policy.rename_category"


def test_a_rename_is_refused_for_an_unknown_category_a_taken_id_or_a_bad_id(service):
    with pytest.raises(NotFound, match="no category 'gossip'"):
        service.rename_category("gossip", "rumours", 1, "alice")
    with pytest.raises(Conflict, match="already used"):
        service.rename_category("confidential", "financial", 1, "alice")
    with pytest.raises(Invalid):
        service.rename_category("confidential", "Not An Id!", 1, "alice")
    with pytest.raises(Conflict, match="changed since version 7"):
        service.rename_category("confidential", "secret", 7, "alice")
    assert service.current_policy().version == 1 and audit_actions(service) == []


# --- examples ------------------------------------------------------------------------------

def test_examples_are_imported_listed_and_deleted(service):
    assert store(service, ("Project Heron ships in May", ["confidential"]), ("Lovely lunch", [])) == 2
    items, total = service.examples_page()
    assert total == 2 and {(e["text"], tuple(e["labels"])) for e in items} == {
        ("Project Heron ships in May", ("confidential",)), ("Lovely lunch", ())}
    assert service.example_labels() == {"confidential": 1, "clean": 1}
    assert [e.text for e in service.training_examples()] == ["Project Heron ships in May", "Lovely lunch"]
    newest = items[0]["id"]
    service.delete_example(newest, "bob")
    assert service.examples_page()[1] == 1
    with pytest.raises(NotFound, match=f"no example #{newest}"):
        service.delete_example(newest, "bob")
    assert audit_actions(service) == ["examples.delete", "examples.add"]


def test_an_upload_is_refused_whole_with_every_bad_row(service):
    store(service, ("Already here: Project Heron", ["confidential"]))
    data = b"text,labels\nFine row about Kestrel,confidential\n,privacy\nGossip row,gossip\n"
    with pytest.raises(UploadRejected) as refused:
        service.parse_upload(data, "bad.csv")
    assert refused.value.filename == "bad.csv" and "nothing was stored" in str(refused.value)
    assert [(d["source"], d["line"], d["message"].split(";")[0]) for d in refused.value.details] == [
        ("bad.csv", 3, "empty or missing text"), ("bad.csv", 4, "unknown label(s) gossip")]
    with pytest.raises(UploadRejected) as duplicate:
        service.parse_upload(b"text,labels\nalready here:   project heron,confidential\n", "again.csv")
    assert [(d["line"], d["message"]) for d in duplicate.value.details] == [(2, "already stored as example #1")]
    with pytest.raises(UploadRejected, match="1 problem"):
        service.parse_upload(b"text,labels\nhello,\n", "notes.txt")
    with pytest.raises(TooLarge, match="the limit is 2,000"):
        service.parse_upload(b"text,labels\n" + b"x" * UPLOAD_LIMIT + b",\n", "big.csv")
    assert service.examples_page()[1] == 1


def test_a_previewed_upload_is_stored_once_and_only_by_its_admin(service):
    upload_id, examples = service.preview_upload(b"text,labels\nHeron ships in May,confidential\n", "heron.csv", "alice")
    assert [e.text for e in examples] == ["Heron ships in May"] and service.examples_page()[1] == 0
    with pytest.raises(NotFound, match="no longer waiting"):
        service.confirm_upload(upload_id, "bob")
    assert service.confirm_upload(upload_id, "alice") == ("heron.csv", 1)
    assert service.examples_page()[0][0]["source"] == "upload:heron.csv"
    with pytest.raises(NotFound):
        service.confirm_upload(upload_id, "alice")


def test_a_held_upload_stored_meanwhile_is_rejected_and_dropped(service):
    data = b"text,labels\nHeron ships in May,confidential\n"
    upload_id, _ = service.preview_upload(data, "heron.csv", "alice")
    store(service, ("Heron ships in May", ["confidential"]))
    with pytest.raises(UploadRejected, match="1 problem"):
        service.confirm_upload(upload_id, "alice")
    with pytest.raises(NotFound):
        service.confirm_upload(upload_id, "alice")
    assert service.examples_page()[1] == 1


# --- feedback ------------------------------------------------------------------------------

def test_feedback_is_labelled_into_an_example_or_discarded_once(service, storage):
    shared = storage.feedback.add("missed", ["confidential"], None, "linkedin", "post", "Heron ships in May")
    private = storage.feedback.add("dismissed", ["financial"], None, "linkedin", "post", None)
    assert service.feedback_summary()["by_kind"] == {"dismissed": 1, "missed": 1}
    with pytest.raises(Invalid, match="unknown categories: gossip"):
        service.label_feedback(shared, ["gossip"], "alice")
    example_id = service.label_feedback(shared, ["financial", "confidential", "financial"], "alice")
    example = service.examples_page()[0][0]
    assert (example["id"], example["labels"], example["source"]) == (example_id, ["confidential", "financial"], "feedback")
    with pytest.raises(Conflict, match="already labelled"):
        service.label_feedback(shared, [], "alice")
    with pytest.raises(Conflict, match="did not consent"):
        service.label_feedback(private, [], "alice")
    service.discard_feedback(private, "alice")
    with pytest.raises(Conflict, match="already discarded"):
        service.discard_feedback(private, "alice")
    with pytest.raises(NotFound, match="no feedback #999"):
        service.discard_feedback(999, "alice")
    assert [f["id"] for f in service.feedback("labelled")] == [shared]
    assert [f["id"] for f in service.feedback("discarded")] == [private]
    assert service.feedback("new") == [] and service.feedback_summary()["by_kind"] == {}
    with pytest.raises(Invalid, match="status must be new, labelled or discarded"):
        service.feedback("bogus")


# --- training jobs -------------------------------------------------------------------------

def test_a_second_training_is_refused_while_one_is_live(service, storage, monkeypatch):
    monkeypatch.setattr("server.jobs.launch", lambda *args: pytest.fail("no process may start"))
    assert storage.jobs.create("running-job", "bob", stale_after=60)
    with pytest.raises(AlreadyRunning, match="training job running-job is already running") as refused:
        service.start_training("alice")
    assert isinstance(refused.value, Conflict)  # answered like every conflict
    assert service.live_job()["job_id"] == "running-job"
    assert [job["job_id"] for job in service.recent_jobs()] == ["running-job"]


def test_a_training_process_that_cannot_start_fails_its_job_and_frees_the_slot(service, monkeypatch):
    started = []

    def cannot_start(job_id, storage, settings):
        started.append((job_id, settings["DATABASE_URL"]))
        raise OSError("no more processes")

    monkeypatch.setattr("server.jobs.launch", cannot_start)
    with pytest.raises(Unavailable, match="could not start the training process: no more processes"):
        service.start_training("alice")
    job = service.job_status(started[0][0])
    assert job["state"] == "failed" and "no more processes" in job["error"]
    assert started[0][1] == service.settings["DATABASE_URL"]
    assert service.live_job() is None
    assert audit_actions(service) == ["train.failed", "train.start"]


def test_a_job_whose_process_stopped_beating_is_shown_failed(service, storage):
    storage.jobs.create("ghost", "bob", stale_after=60)
    service.settings["JOB_STALE_SECONDS"] = 0.0
    job = service.job_status("ghost")
    assert job["state"] == "failed" and "stopped responding" in job["error"] and "model_version" not in job
    with pytest.raises(NotFound, match="no training job 'nope'"):
        service.job_status("nope")


# --- model versions ------------------------------------------------------------------------

def test_activating_promotes_or_rolls_back_and_refuses_unknown_versions(service, settings):
    registry = Registry(settings["MODELS_DIR"])
    first = registry.active_version()
    registry.add(COPY, registry.load(first), {"created": "2099-01-01T00:00:00+00:00"}, "# copy\n")
    with pytest.raises(NotFound, match="no model version 'nope'"):
        service.activate_model("nope", "alice")
    assert service.activate_model(COPY, "alice") == first
    assert service.active_model_version() == COPY == registry.active_version()
    assert service.activate_model(first, "alice") == COPY
    assert audit_actions(service) == ["model.rollback", "model.promote"]
    assert {v["version"] for v in service.model_versions()} == {first, COPY}


def test_a_version_that_does_not_verify_is_not_activated(service, settings):
    registry = Registry(settings["MODELS_DIR"])
    first = registry.active_version()
    registry.add(COPY, registry.load(first), {"created": "2099-01-01T00:00:00+00:00"}, "# copy\n")
    (registry.version_dir(COPY) / "model.joblib").write_bytes(b"\x80\x04evil pickle")
    with pytest.raises(Conflict, match=f"version {COPY} cannot be loaded, so it was not activated: .*sha256"):
        service.activate_model(COPY, "alice")
    assert registry.active_version() == first and audit_actions(service) == []


def test_comparing_with_an_unknown_version_is_not_found(service):
    with pytest.raises(NotFound, match="no model version 'nope'"):
        service.comparison("nope")
    with pytest.raises(NotFound, match="no model version 'nope'"):
        service.comparison(service.active_model_version(), baseline="nope")


def test_orphan_folders_are_listed_then_removed_and_audited(service, settings):
    orphan = settings["MODELS_DIR"] / "2026-01-01T00-00-00Z-dead"
    orphan.mkdir()
    os.utime(orphan, (1_000_000_000, 1_000_000_000))  # long before the ten minutes a save may take
    assert service.remove_orphan_models("cli:root", dry_run=True) == [orphan.name] and orphan.exists()
    assert audit_actions(service) == []
    assert service.remove_orphan_models("cli:root") == [orphan.name] and not orphan.exists()
    assert audit_actions(service) == ["models.gc"]
    assert service.remove_orphan_models("cli:root") == [] and audit_actions(service) == ["models.gc"]


def test_orphans_are_not_guessed_while_the_registry_is_unreadable(service, settings):
    (settings["MODELS_DIR"] / "registry.json").write_text("{not json")
    with pytest.raises(Unavailable, match="nothing was removed"):
        service.remove_orphan_models("cli:root")


# --- statistics ----------------------------------------------------------------------------

def test_statistics_add_up_checks_and_feedback_per_day(service, storage):
    today = service.statistics(1)["since"]
    storage.counts.add(today, {"checks": 10, "flagged": 4, "flagged:privacy": 3})
    storage.feedback.add("dismissed", ["privacy"], None, None, None, None)
    totals = service.statistics(1)["totals"]
    assert (totals["checks"], totals["flagged"], totals["by_category"], totals["dismissed"]) == (10, 4, {"privacy": 3}, 1)
    assert totals["dismiss_rate"] == 0.25 and totals["false_alarm_rate"] == 0.0


# --- admin accounts ------------------------------------------------------------------------

def test_accounts_are_checked_hashed_and_log_in(service, storage):
    with pytest.raises(Invalid, match="1-80 letters"):
        service.add_admin("no spaces", "a long password", "cli:root")
    with pytest.raises(Invalid, match="at least 10 characters"):
        service.add_admin("alice", "short", "cli:root")
    service.add_admin("alice", "a long password", "cli:root")
    assert storage.admins.password_hash("alice") == FakePasswords().hash("a long password")
    with pytest.raises(Conflict, match="already exists"):
        service.check_new_admin("alice")
    assert [a["name"] for a in service.admins()] == ["alice"]

    assert service.log_in("alice", "wrong password", "10.0.0.1", 60) is None
    assert service.log_in("mallory", "a long password", "10.0.0.1", 60) is None
    token = service.log_in("alice", "a long password", "10.0.0.1", 60)
    assert token and service.session_admin(token) == "alice" and service.session_admin("forged") is None
    service.set_admin_password("alice", "another long password", "cli:root")
    assert service.session_admin(token) is None  # a new password ends the sessions
    token = service.log_in("alice", "another long password", None, 60)
    service.log_out(token, "alice")
    assert service.session_admin(token) is None
    service.remove_admin("alice", "cli:root")
    with pytest.raises(NotFound, match="no admin named 'alice'"):
        service.remove_admin("alice", "cli:root")
    assert audit_actions(service) == ["admins.remove", "logout", "login", "admins.password", "login",
                                      "login.failed", "login.failed", "admins.add"]
