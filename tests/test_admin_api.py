"""The JSON admin API: auth on every route, uploads (all rows or none), feedback review, policy
edits reaching the check API, training jobs (one at a time, failures change nothing), model
activation, comparison, statistics and the audit log."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ADMIN_TOKEN, app_config, on_both_databases
from engine.registry import Registry
from server import create_app, jobs
from server.storage import Storage

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Every admin route with a body that would succeed, so a refusal can only come from auth.
ROUTES = [
    ("get", "/v1/admin/feedback", None),
    ("post", "/v1/admin/feedback/1/label", {"labels": []}),
    ("post", "/v1/admin/feedback/1/discard", None),
    ("get", "/v1/admin/examples", None),
    ("post", "/v1/admin/examples", {"examples": [{"text": "Project Heron ships in May", "labels": ["confidential"]}]}),
    ("delete", "/v1/admin/examples/1", None),
    ("get", "/v1/admin/policy", None),
    ("put", "/v1/admin/policy", "current-pack"),
    ("post", "/v1/admin/train", None),
    ("get", "/v1/admin/jobs", None),
    ("get", "/v1/admin/jobs/abc", None),
    ("get", "/v1/admin/models", None),
    ("post", "/v1/admin/models/ACTIVE/activate", None),
    ("get", "/v1/admin/models/ACTIVE/compare", None),
    ("get", "/v1/admin/stats", None),
    ("get", "/v1/admin/audit", None),
]


def storage_of(app) -> Storage:
    return app.extensions["draftguard"]["storage"]


def wait_for_job(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/admin/jobs/{job_id}", headers=AUTH).get_json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def register_copy(models_dir, version: str) -> str:
    """Register the active model again under a new name: a real, loadable second version."""
    registry = Registry(models_dir)
    active = registry.active_version()
    registry.add(version, registry.load(active), {**registry.metadata(active), "created": "2099-01-01T00:00:00+00:00"},
                 "# copy\n")
    return version


def state_snapshot(app, models_dir) -> tuple:
    storage = storage_of(app)
    return (storage.audit.page()[1], storage.examples.page()[1], storage.jobs.recent(), Registry(models_dir).read_index(),
            app.extensions["draftguard"]["policy"].current())


def send(client, method, path, body, headers, models_dir):
    path = path.replace("ACTIVE", Registry(models_dir).active_version())
    if body == "current-pack":
        body = client.get("/v1/admin/policy", headers=AUTH).get_json()
    return getattr(client, method)(path, json=body, headers=headers)


@pytest.mark.parametrize("method, path, body", ROUTES)
@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer wrong-token"}, 403),
                                             ({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401)])
def test_every_admin_route_refuses_without_the_right_token_and_changes_nothing(
        app, client, models_dir, method, path, body, headers, status):
    before = state_snapshot(app, models_dir)
    response = send(client, method, path, body, headers, models_dir)
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status
    after = state_snapshot(app, models_dir)
    assert after[1:] == before[1:]
    # A wrong token (not a missing one) leaves one audit entry, and nothing else changes.
    assert after[0] == before[0] + (1 if status == 403 else 0)


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_the_admin_api_is_closed_when_no_token_is_configured(models_dir, tmp_path, method, path, body):
    app = create_app(app_config(models_dir, tmp_path / "data", ADMIN_TOKEN=""))
    client = app.test_client()
    if body == "current-pack":
        body = app.extensions["draftguard"]["policy"].current().model_dump()
    response = getattr(client, method)(path.replace("ACTIVE", "x"), json=body, headers={"Authorization": "Bearer "})
    assert response.status_code == 403
    assert "DRAFTGUARD_ADMIN_TOKEN" in response.get_json()["error"]["message"]
    assert storage_of(app).audit.page()[1] == 0


# --- examples ------------------------------------------------------------------------------

@on_both_databases
def test_json_examples_are_stored_listed_and_audited(app, client):
    body = {"examples": [{"text": "Project Heron ships in May, keep it internal", "labels": ["confidential"]},
                         {"text": "Lovely hike with the team on Saturday", "labels": []}]}
    response = client.post("/v1/admin/examples", json=body, headers=AUTH)
    assert response.status_code == 201 and response.get_json() == {"stored": 2}
    listed = client.get("/v1/admin/examples", headers=AUTH).get_json()
    assert listed["total"] == 2 and listed["labels"] == {"confidential": 1, "clean": 1}
    assert {e["text"] for e in listed["items"]} == {e["text"] for e in body["examples"]}
    entry = client.get("/v1/admin/audit", headers=AUTH).get_json()["items"][0]
    assert entry["action"] == "examples.add" and entry["actor"] == "admin-api-token"
    assert entry["detail"]["count"] == 2


@on_both_databases
def test_every_bad_row_is_reported_and_nothing_is_stored(app, client):
    client.post("/v1/admin/examples", headers=AUTH,
                json={"examples": [{"text": "Already here: Project Heron", "labels": ["confidential"]}]})
    rows = [
        {"text": "Fine row about Project Kestrel", "labels": ["confidential"]},       # 1 ok
        {"text": "Unknown category row", "labels": ["gossip"]},                       # 2
        {"text": "   ", "labels": []},                                                # 3
        {"text": "fine row about project kestrel", "labels": ["confidential"]},       # 4 duplicate of 1
        {"text": "Already here:   project heron", "labels": ["confidential"]},        # 5 stored before
        {"text": "Labels must be a list", "labels": "confidential"},                  # 6
    ]
    response = client.post("/v1/admin/examples", json={"examples": rows}, headers=AUTH)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "nothing was stored" in error["message"]
    problems = {(d["line"], d["message"].split(" (")[0].split(";")[0]) for d in error["details"]}
    assert (2, "unknown label(s) gossip") in problems
    assert (3, "empty or missing text") in problems
    assert (4, "duplicate text") in problems
    assert (6, "labels must be a list of category ids") in problems
    assert client.get("/v1/admin/examples", headers=AUTH).get_json()["total"] == 1
    # Row 5 duplicates a stored example: reported once the rest of the file is valid.
    response = client.post("/v1/admin/examples", json={"examples": [rows[0], rows[4]]}, headers=AUTH)
    assert response.status_code == 400
    assert [(d["line"], d["message"]) for d in response.get_json()["error"]["details"]] == [(2, "already stored as example #1")]
    assert client.get("/v1/admin/examples", headers=AUTH).get_json()["total"] == 1


def upload(client, name: str, data: bytes):
    from io import BytesIO
    return client.post("/v1/admin/examples", headers=AUTH, content_type="multipart/form-data",
                       data={"file": (BytesIO(data), name)})


def test_csv_and_jsonl_files_are_accepted(client):
    csv = "id,text,labels\nh1,\"Heron launch date is May 4, internal only\",confidential\nh2,Great coffee today,\n"
    assert upload(client, "heron.csv", csv.encode()).get_json() == {"stored": 2}
    jsonl = '{"text": "Kestrel pricing is 40 per seat", "labels": ["confidential", "financial"]}\n'
    assert upload(client, "kestrel.jsonl", jsonl.encode()).status_code == 201
    items = client.get("/v1/admin/examples", headers=AUTH).get_json()["items"]
    assert {tuple(e["labels"]) for e in items} == {("confidential",), (), ("confidential", "financial")}
    assert {e["source"] for e in items} == {"upload:heron.csv", "upload:kestrel.jsonl"}


@pytest.mark.parametrize("name, data, status, expected", [
    ("bad.csv", "text,labels\ncaf\xe9 secret,confidential\n".encode("latin-1"), 400, "not UTF-8"),
    ("rows.csv", b"text,labels\nHeron ships,confidential\n,privacy\nHeron ships,confidential\n", 400, "empty or missing text"),
    ("notes.txt", b"text,labels\nhello,\n", 400, "unsupported file type"),
    ("header.csv", b"body,tags\nhello,\n", 400, "header must name the columns"),
    ("empty.jsonl", b"\n\n", 400, "no examples"),
    ("big.csv", b"text,labels\n" + b"x" * 3000 + b",\n", 413, "the limit is 2,000"),
    ("huge.csv", b"text,labels\n" + b"x" * 200_000 + b",\n", 413, "exceeds the capacity limit"),
])
def test_bad_files_are_refused_whole(models_dir, tmp_path, name, data, status, expected):
    app = create_app(app_config(models_dir, tmp_path / "data", ADMIN_UPLOAD_MAX_BYTES=2000))
    client = app.test_client()
    response = upload(client, name, data)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert expected in error["message"] + " ".join(d["message"] for d in error.get("details", []))
    assert storage_of(app).examples.page()[1] == 0


def test_row_errors_of_a_csv_name_its_lines(client):
    data = b"text,labels\nHeron ships in May,confidential\n,privacy\nheron ships in may,confidential\n"
    details = upload(client, "rows.csv", data).get_json()["error"]["details"]
    assert [(d["line"], d["message"].split(" (")[0]) for d in details] == [(3, "empty or missing text"), (4, "duplicate text")]


def test_a_missing_file_field_is_explained(client):
    response = client.post("/v1/admin/examples", headers=AUTH, content_type="multipart/form-data", data={"other": "x"})
    assert response.status_code == 400 and "field `file`" in response.get_json()["error"]["message"]


@on_both_databases
def test_deleting_an_example(client):
    upload(client, "a.csv", b"text,labels\nHeron ships in May,confidential\n")
    example_id = client.get("/v1/admin/examples", headers=AUTH).get_json()["items"][0]["id"]
    assert client.delete(f"/v1/admin/examples/{example_id}", headers=AUTH).status_code == 200
    assert client.delete(f"/v1/admin/examples/{example_id}", headers=AUTH).status_code == 404
    assert client.get("/v1/admin/examples", headers=AUTH).get_json()["total"] == 0
    # Who deleted what stays on record (the refused second delete records nothing).
    audit = client.get("/v1/admin/audit", headers=AUTH).get_json()["items"]
    assert [e["action"] for e in audit] == ["examples.delete", "examples.add"]
    assert (audit[0]["actor"], audit[0]["detail"]) == (
        "admin-api-token", {"example": example_id, "labels": ["confidential"], "source": "upload:a.csv"})


# --- feedback review -----------------------------------------------------------------------

@on_both_databases
def test_feedback_is_labelled_into_examples_or_discarded(client):
    consented = {"kind": "missed", "categories": ["confidential"], "consent": True,
                 "text": "Heron is the codename for our next phone"}
    first = client.post("/v1/feedback", json=consented).get_json()["id"]
    second = client.post("/v1/feedback", json={"kind": "false_positive", "categories": ["security"]}).get_json()["id"]
    listing = client.get("/v1/admin/feedback?status=new", headers=AUTH).get_json()
    assert {item["id"] for item in listing["items"]} == {first, second}
    assert listing["summary"]["by_category"] == {"confidential": {"missed": 1}, "security": {"false_positive": 1}}

    assert client.post(f"/v1/admin/feedback/{first}/label", json={"labels": ["gossip"]}, headers=AUTH).status_code == 400
    labelled = client.post(f"/v1/admin/feedback/{first}/label", json={"labels": ["confidential"]}, headers=AUTH)
    assert labelled.status_code == 201
    example = client.get("/v1/admin/examples", headers=AUTH).get_json()["items"][0]
    assert example["id"] == labelled.get_json()["example_id"]
    assert (example["text"], example["labels"], example["source"]) == (consented["text"], ["confidential"], "feedback")
    again = client.post(f"/v1/admin/feedback/{first}/label", json={"labels": []}, headers=AUTH)
    assert again.status_code == 409 and "already labelled" in again.get_json()["error"]["message"]

    no_text = client.post(f"/v1/admin/feedback/{second}/label", json={"labels": []}, headers=AUTH)
    assert no_text.status_code == 409 and "did not consent" in no_text.get_json()["error"]["message"]
    assert client.post(f"/v1/admin/feedback/{second}/discard", headers=AUTH).status_code == 200
    assert client.post("/v1/admin/feedback/999/discard", headers=AUTH).status_code == 404
    assert client.get("/v1/admin/feedback?status=new", headers=AUTH).get_json()["items"] == []
    assert client.get("/v1/admin/feedback?status=bogus", headers=AUTH).status_code == 400
    actions = [e["action"] for e in client.get("/v1/admin/audit", headers=AUTH).get_json()["items"]]
    assert actions[:2] == ["feedback.discard", "feedback.label"]


# --- policy pack ---------------------------------------------------------------------------

DRAFT_WITH_TERM = "Weekend plans: finally demoing Bluefinch to my parents"


def test_a_policy_edit_reaches_the_check_api_without_a_restart(client):
    before = client.post("/v1/check", json={"text": DRAFT_WITH_TERM}).get_json()
    assert not any(c["flagged"] for c in before["categories"] if c["id"] == "confidential")
    pack = client.get("/v1/admin/policy", headers=AUTH).get_json()
    pack["terms"].append({"term": "Bluefinch", "category": "confidential"})
    pack["categories"][0]["guidance"] = "Codenames stay inside the company."
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 200 and response.get_json()["policy"]["version"] == pack["version"] + 1
    assert response.get_json()["warnings"] == []
    after = client.post("/v1/check", json={"text": DRAFT_WITH_TERM}).get_json()
    confidential = next(c for c in after["categories"] if c["id"] == "confidential")
    assert confidential["flagged"] and confidential["guidance"] == "Codenames stay inside the company."
    start = DRAFT_WITH_TERM.index("Bluefinch")
    assert {"start": start, "end": start + 9, "text": "Bluefinch", "source": "term"} in confidential["spans"]
    assert after["policy_version"] == pack["version"] + 1
    audit = client.get("/v1/admin/audit", headers=AUTH).get_json()["items"][0]
    assert audit["action"] == "policy.edit" and audit["detail"]["terms_added"] == ["Bluefinch"]
    assert audit["detail"]["categories_changed"] == [pack["categories"][0]["id"]]


def test_invalid_or_stale_policy_edits_change_nothing(client):
    pack = client.get("/v1/admin/policy", headers=AUTH).get_json()
    bad_term = {**pack, "terms": [{"term": "Bluefinch", "category": "gossip"}]}
    response = client.put("/v1/admin/policy", json=bad_term, headers=AUTH)
    assert response.status_code == 400 and "unknown categories: gossip" in response.get_json()["error"]["message"]
    duplicate = {**pack, "categories": pack["categories"] + pack["categories"][:1]}
    assert client.put("/v1/admin/policy", json=duplicate, headers=AUTH).status_code == 400
    assert client.put("/v1/admin/policy", json=pack, headers=AUTH).status_code == 200
    stale = client.put("/v1/admin/policy", json=pack, headers=AUTH)  # still the old version number
    assert stale.status_code == 409 and "changed since version" in stale.get_json()["error"]["message"]
    assert client.get("/v1/admin/policy", headers=AUTH).get_json()["version"] == pack["version"] + 1


# --- training jobs -------------------------------------------------------------------------

@on_both_databases
def test_only_one_job_can_be_live_whoever_asks(app, client, database_url):
    results = []
    barrier = threading.Barrier(8)

    def claim(n):
        storage = Storage(database_url)  # as a worker of another host would
        barrier.wait()
        results.append(storage.jobs.create(f"job-{n}", "test", stale_after=60))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    live = storage_of(app).jobs.live()["id"]
    response = client.post("/v1/admin/train", headers=AUTH)
    assert response.status_code == 409 and live in response.get_json()["error"]["message"]


@on_both_databases
def test_a_job_whose_process_died_is_failed_and_frees_the_slot(models_dir, tmp_path, database_url):
    app = create_app(app_config(models_dir, tmp_path / "data", JOB_STALE_SECONDS=0.2, DATABASE_URL=database_url))
    client = app.test_client()
    storage_of(app).jobs.create("ghost", "test", stale_after=60)  # no process will ever beat for it
    time.sleep(0.3)
    job = client.get("/v1/admin/jobs/ghost", headers=AUTH).get_json()
    assert job["state"] == "failed" and "stopped responding" in job["error"]
    assert storage_of(app).jobs.create("next", "test", stale_after=60)


@on_both_databases
def test_a_failed_training_reports_why_and_changes_nothing_that_serves(models_dir, tmp_path, database_url):
    broken = tmp_path / "corpus"
    broken.mkdir()
    (broken / "a.jsonl").write_text('{"text": "fine", "labels": []}\n{"text": "", "labels": ["nope"]}\n')
    app = create_app(app_config(models_dir, tmp_path / "data", TRAIN_DATA=[broken], DATABASE_URL=database_url))
    client = app.test_client()
    index_before = Registry(models_dir).read_index()
    draft = {"text": "Our Q3 numbers beat guidance, buy before Thursday"}
    check_before = client.post("/v1/check", json=draft).get_json()

    response = client.post("/v1/admin/train", headers=AUTH)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/v1/admin/jobs/{response.get_json()['job_id']}"
    job = wait_for_job(client, response.get_json()["job_id"])
    assert job["state"] == "failed"
    assert "a.jsonl:2: empty or missing text" in job["error"] and "unknown label(s) nope" in job["error"]
    assert "model_version" not in job
    assert Registry(models_dir).read_index() == index_before
    assert client.post("/v1/check", json=draft).get_json() == check_before
    actions = [e["action"] for e in client.get("/v1/admin/audit", headers=AUTH).get_json()["items"]]
    assert actions[:2] == ["train.failed", "train.start"]
    # The slot is free again: the next job may start (and fails the same way).
    retry = client.post("/v1/admin/train", headers=AUTH)
    assert retry.status_code == 202
    assert wait_for_job(client, retry.get_json()["job_id"])["state"] == "failed"
    # The worker has reaped both processes before this test's database is dropped.
    for thread in threading.enumerate():
        if thread.name.endswith("(_reap)"):
            thread.join(timeout=60)


def job_process(job_id: str) -> int:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if job_id.encode() in cmdline.read_bytes() and b"server.jobs" in cmdline.read_bytes():
                return int(cmdline.parent.name)
        except OSError:  # the process ended while we looked
            continue
    raise AssertionError(f"no process for job {job_id}")


def test_a_training_process_yields_the_cpu_to_checks(client):
    job_id = client.post("/v1/admin/train", headers=AUTH).get_json()["job_id"]
    pid = job_process(job_id)
    deadline = time.monotonic() + 10
    while os.sched_getscheduler(pid) != os.SCHED_IDLE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    # In the server's session: Linux shares CPU between sessions first, so a job in a session
    # of its own would take a fair share of the CPU whatever its scheduling policy.
    assert os.getsid(pid) == os.getsid(0)
    assert os.getpgid(pid) == pid  # but its own process group: a Ctrl-C for the server spares it
    os.kill(pid, signal.SIGKILL)
    assert wait_for_job(client, job_id, timeout=10)["state"] == "failed"


def test_a_killed_training_process_fails_its_job_at_once(client, models_dir):
    index_before = Registry(models_dir).read_index()
    job_id = client.post("/v1/admin/train", headers=AUTH).get_json()["job_id"]
    os.kill(job_process(job_id), signal.SIGKILL)
    job = wait_for_job(client, job_id, timeout=10)  # long before the heartbeat would go stale
    assert job["state"] == "failed" and "exit status -9" in job["error"]
    assert Registry(models_dir).read_index() == index_before
    retry = client.post("/v1/admin/train", headers=AUTH)  # the slot is free again
    assert retry.status_code == 202
    os.kill(job_process(retry.get_json()["job_id"]), signal.SIGKILL)  # no full training in this test
    assert wait_for_job(client, retry.get_json()["job_id"], timeout=10)["state"] == "failed"


def test_unknown_jobs_are_404(client):
    response = client.get("/v1/admin/jobs/nope", headers=AUTH)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


# --- model versions ------------------------------------------------------------------------

def test_models_list_every_version_with_its_metrics(client, models_dir):
    copy = register_copy(models_dir, "2099-01-01T00-00-00Z-copy")
    body = client.get("/v1/admin/models", headers=AUTH).get_json()
    active = Registry(models_dir).active_version()
    assert body["active"] == active
    by_version = {item["version"]: item for item in body["items"]}
    assert set(by_version) == {active, copy}
    assert by_version[active]["active"] and not by_version[copy]["active"]
    for item in body["items"]:
        assert item["created"] and "per_category" in item["metrics"] and "f1" in item["metrics"]["micro"]


def test_promote_and_roll_back_switch_the_check_api(client, models_dir):
    first = Registry(models_dir).active_version()
    copy = register_copy(models_dir, "2099-01-01T00-00-00Z-copy")
    draft = {"text": "Lunch was great"}
    assert client.post("/v1/check", json=draft).get_json()["model_version"] == first
    promoted = client.post(f"/v1/admin/models/{copy}/activate", headers=AUTH)
    assert promoted.get_json() == {"active": copy, "previous": first}
    assert client.post("/v1/check", json=draft).get_json()["model_version"] == copy
    assert client.post(f"/v1/admin/models/{first}/activate", headers=AUTH).status_code == 200
    assert client.post("/v1/check", json=draft).get_json()["model_version"] == first
    actions = [(e["action"], e["detail"]["version"]) for e in client.get("/v1/admin/audit", headers=AUTH).get_json()["items"]]
    assert actions == [("model.rollback", first), ("model.promote", copy)]


def test_unknown_or_broken_versions_are_not_activated(client, models_dir):
    registry = Registry(models_dir)
    first = registry.active_version()
    assert client.post("/v1/admin/models/nope/activate", headers=AUTH).status_code == 404
    broken = register_copy(models_dir, "2099-01-01T00-00-00Z-dead")
    (registry.version_dir(broken) / "model.joblib").write_bytes(b"\x80\x04evil pickle")
    response = client.post(f"/v1/admin/models/{broken}/activate", headers=AUTH)
    assert response.status_code == 409 and "sha256" in response.get_json()["error"]["message"]
    assert registry.active_version() == first


def test_compare_evaluates_both_versions_on_the_same_held_out_drafts(client, models_dir, trained_metadata):
    copy = register_copy(models_dir, "2099-01-01T00-00-00Z-copy")
    result = client.get(f"/v1/admin/models/{copy}/compare", headers=AUTH).get_json()
    assert result["baseline"] == Registry(models_dir).active_version() and result["candidate"] == copy
    assert result["examples"] == trained_metadata["metrics"]["examples"]
    assert {c["id"] for c in result["categories"]} == set(trained_metadata["metrics"]["per_category"])
    for category in result["categories"]:
        assert category["candidate"] == category["baseline"] == trained_metadata["metrics"]["per_category"][category["id"]]
    assert result["clean_flagged_rate"]["candidate"] == trained_metadata["metrics"]["clean_flagged_rate"]
    assert result["changed"] == [] and result["outcomes"] == {"fixed": 0, "broken": 0, "changed": 0}
    assert client.get("/v1/admin/models/nope/compare", headers=AUTH).status_code == 404
    assert client.get(f"/v1/admin/models/{copy}/compare?baseline=nope", headers=AUTH).status_code == 404


# --- statistics and audit ------------------------------------------------------------------

@on_both_databases
def test_statistics_count_checks_and_feedback_never_texts(models_dir, tmp_path, database_url):
    app = create_app(app_config(models_dir, tmp_path / "data", STATS_FLUSH_SECONDS=0, DATABASE_URL=database_url))
    client = app.test_client()
    risky = "Stats-marker-51: our wifi password is Zebra42!"
    for text in (risky, risky, "Stats-marker-52: lovely weather"):
        client.post("/v1/check", json={"text": text})
    client.post("/v1/feedback", json={"kind": "dismissed", "categories": ["security"]})
    client.post("/v1/feedback", json={"kind": "false_positive", "categories": ["security"], "consent": True, "text": risky})
    response = client.get("/v1/admin/stats?days=7", headers=AUTH)
    assert "Stats-marker" not in response.get_data(as_text=True)
    stats = response.get_json()
    assert len(stats["days"]) == 7
    totals = stats["totals"]
    assert (totals["checks"], totals["flagged"], totals["by_category"]["security"]) == (3, 2, 2)
    assert (totals["dismissed"], totals["false_positive"], totals["missed"]) == (1, 1, 0)
    assert totals["dismiss_rate"] == 0.5 and totals["false_alarm_rate"] == 0.5
    assert stats["days"][-1]["checks"] == 3
    assert totals["composers"] == {}
    assert client.get("/v1/admin/stats?days=0", headers=AUTH).status_code == 400
    assert client.get("/v1/admin/stats?days=x", headers=AUTH).status_code == 400


def test_statistics_show_the_composers_the_extension_recognised(client):
    """The extension's self-diagnosis: per platform, surface and rule, so the admin sees a site
    change (the fallback taking over from the adapter's own selectors)."""
    reports = [("linkedin", "post", "specific", 3), ("linkedin", "post", "specific", 2),
               ("facebook", "comment", "fallback", 4), ("facebook", "comment", "specific", 1)]
    for platform, surface, rule, count in reports:
        reply = client.post("/v1/diagnostics", json={"platform": platform, "composers": [{"surface": surface, "rule": rule, "count": count}]})
        assert reply.status_code == 201
    stats = client.get("/v1/admin/stats?days=7", headers=AUTH).get_json()
    expected = {"linkedin": {"post": {"specific": 5, "fallback": 0}}, "facebook": {"comment": {"specific": 1, "fallback": 4}}}
    assert stats["totals"]["composers"] == expected
    assert stats["days"][-1]["composers"] == expected
    assert all(day["composers"] == {} for day in stats["days"][:-1])


@on_both_databases
def test_the_audit_log_pages(client):
    for n in range(3):
        client.post("/v1/admin/examples", headers=AUTH, json={"examples": [{"text": f"Heron fact {n}", "labels": []}]})
    page = client.get("/v1/admin/audit?limit=2&offset=1", headers=AUTH).get_json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert all(set(item) >= {"at", "actor", "action", "detail"} for item in page["items"])


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "ftp://example.com/x", "intranet/policy"])
def test_a_policy_link_must_be_a_web_address(client, link):
    pack = client.get("/v1/admin/policy", headers=AUTH).get_json()
    pack["categories"][0]["policy_ref"] = link
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 400 and "http://" in response.get_json()["error"]["message"]
    assert client.get("/v1/admin/policy", headers=AUTH).get_json()["version"] == pack["version"]


EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


def test_cors_headers_go_to_the_extension_api_only(client):
    check = client.post("/v1/check", json={"text": "hello"}, headers={"Origin": EXTENSION_ORIGIN})
    assert check.headers.get("Access-Control-Allow-Origin") == EXTENSION_ORIGIN
    for path in ("/v1/admin/models", "/v1/admin"):
        for response in (client.get(path, headers={**AUTH, "Origin": EXTENSION_ORIGIN}),
                         client.options(path, headers={"Origin": EXTENSION_ORIGIN,
                                                       "Access-Control-Request-Method": "GET"})):
            assert "Access-Control-Allow-Origin" not in response.headers, path


def test_a_wrong_admin_token_is_audited_without_the_token(client):
    guess = "not-the-token-0123"
    assert client.get("/v1/admin/models", headers={"Authorization": f"Bearer {guess}"}).status_code == 403
    entry = client.get("/v1/admin/audit", headers=AUTH).get_json()["items"][0]
    assert entry["action"] == "auth.failed" and entry["detail"]["path"] == "/v1/admin/models"
    assert guess not in str(entry)


def test_wrong_admin_tokens_are_throttled_per_client(models_dir, tmp_path):
    app = create_app(app_config(models_dir, tmp_path / "data", ADMIN_AUTH_FAILURE_LIMIT="3 per minute"))
    client = app.test_client()
    wrong = {"Authorization": "Bearer guess"}
    assert [client.get("/v1/admin/models", headers=wrong).status_code for _ in range(3)] == [403] * 3
    assert client.get("/v1/admin/models", headers=wrong).status_code == 429
    # Past the limit even the right token waits: guessing gains nothing by trying it.
    refused = client.get("/v1/admin/models", headers=AUTH)
    assert refused.status_code == 429 and refused.get_json()["error"]["status"] == 429


@on_both_databases
@pytest.mark.parametrize("candidate, says", [
    (None, "nothing was changed"),
    ("2026-12-02T10-00-00Z-c4nd", "it had registered candidate 2026-12-02T10-00-00Z-c4nd, which is not active"),
])
def test_a_job_that_dies_says_exactly_what_it_left_behind(app, candidate, says):
    storage = storage_of(app)
    assert storage.jobs.create("j1", "api", stale_after=60)
    if candidate:
        storage.jobs.record_candidate("j1", candidate)
    jobs._reap(subprocess.Popen([sys.executable, "-c", "raise SystemExit(9)"]), storage, "j1")
    job = storage.jobs.get("j1")
    assert job["state"] == "failed" and "exit status 9" in job["error"] and says in job["error"]
    assert job["model_version"] == candidate
    audit = storage.audit.page()[0][0]
    assert audit["action"] == "train.failed" and audit["detail"]["model_version"] == candidate
