"""Two hosts as one service: two production servers (gunicorn, as `make run` starts them), each
with its own data and models folders, sharing nothing but one PostgreSQL and one Redis server.

What an admin does on either host holds on both: examples uploaded on one host train a model on
the other, one training job runs at a time across both and both show it, a promotion on one
host and a rollback on the other reach every worker of both, the policy is the same on both, and
a client's rate limit is counted across both. A fresh host never trains its own default model.
"""
from __future__ import annotations

import shutil
import time

import pytest
import requests

from conftest import ADMIN_TOKEN, ROOT, start_server, stop_server

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CHECKS_PER_MINUTE = 6
# A small corpus (three writers, every category): the job trains in seconds, for real.
WRITERS = [ROOT / "train" / "data" / "writers" / f"{name}.jsonl" for name in ("aisha", "kofi", "wei")]
HELD_OUT = ROOT / "train" / "data" / "test.jsonl"


@pytest.fixture(scope="module")
def hosts(trained_models, postgres_server, redis_url, tmp_path_factory):
    database = postgres_server.url(postgres_server.create_database())
    shared = {
        "DRAFTGUARD_DATABASE_URL": database,
        "DRAFTGUARD_REDIS_URL": redis_url,
        "DRAFTGUARD_CHECK_RATE_LIMIT": f"{CHECKS_PER_MINUTE} per minute",
        "DRAFTGUARD_TRAIN_DATA": ",".join(map(str, WRITERS)),
        "DRAFTGUARD_TEST_DATA": str(HELD_OUT),
        "DRAFTGUARD_SECONDARY_TEST_DATA": str(HELD_OUT),
    }
    first, second = tmp_path_factory.mktemp("host-a"), tmp_path_factory.mktemp("host-b")
    shutil.copytree(trained_models, first / "models")
    (second / "models").mkdir()  # a fresh host: no model of its own
    for base in (first, second):
        (base / "data").mkdir()
    a = start_server(first / "models", first / "data", **shared)
    try:
        b = start_server(second / "models", second / "data", **shared)
    except BaseException:
        stop_server(a)
        raise
    yield a, b
    stop_server(a)
    stop_server(b)


def served(server) -> str:
    return requests.get(server.url + "/healthz", timeout=5).json()["model_version"]


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def every_worker_serves(server, version: str) -> bool:
    # Several requests: the connections land on either worker.
    return all(served(server) == version for _ in range(6))


def test_a_fresh_host_serves_the_shared_model_without_training(hosts):
    a, b = hosts
    assert served(b) == served(a)
    assert [d.name for d in b.models_dir.iterdir() if d.is_dir()] == [served(a)]  # fetched, not trained


def test_a_policy_edited_on_one_host_is_the_policy_of_both(hosts):
    a, b = hosts
    pack = requests.get(a.url + "/v1/admin/policy", headers=AUTH, timeout=5).json()
    pack["name"] = "Edited on host A"
    saved = requests.put(a.url + "/v1/admin/policy", json=pack, headers=AUTH, timeout=10)
    assert saved.status_code == 200, saved.text
    version = saved.json()["policy"]["version"]
    wait_until(lambda: all(requests.get(b.url + "/v1/policy", timeout=5).json()["version"] == version for _ in range(6)),
               10, "host B serves the edited policy")


def test_upload_on_one_host_train_on_the_other_promote_and_roll_back_across_both(hosts):
    a, b = hosts
    original = served(a)
    upload = requests.post(a.url + "/v1/admin/examples", headers=AUTH, timeout=10, json={"examples": [
        {"text": f"Project Kestrel slips again, internal build {n} still fails the audit", "labels": ["confidential"]}
        for n in range(12)]})
    assert upload.status_code == 201, upload.text
    assert requests.get(b.url + "/v1/admin/examples", headers=AUTH, timeout=5).json()["total"] == 12

    started = requests.post(b.url + "/v1/admin/train", headers=AUTH, timeout=10)
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    for host in (a, b):  # one job at a time, whichever host is asked
        refused = requests.post(host.url + "/v1/admin/train", headers=AUTH, timeout=10)
        assert refused.status_code == 409 and job_id in refused.json()["error"]["message"]
    assert requests.get(a.url + f"/v1/admin/jobs/{job_id}", headers=AUTH, timeout=5).json()["requested_by"]

    job = wait_until(lambda: (lambda j: j if j["state"] in ("succeeded", "failed") else None)(
        requests.get(a.url + f"/v1/admin/jobs/{job_id}", headers=AUTH, timeout=5).json()), 600, "the job finishes")
    assert job["state"] == "succeeded", job
    candidate = job["model_version"]
    wait_until(lambda: candidate in [m["version"] for m in requests.get(a.url + "/v1/admin/models", headers=AUTH,
                                                                          timeout=5).json()["items"]],
               10, "host A lists the candidate trained on host B")
    assert served(a) == served(b) == original  # registered, not activated

    promoted = requests.post(a.url + f"/v1/admin/models/{candidate}/activate", headers=AUTH, timeout=30)
    assert promoted.status_code == 200, promoted.text
    for host in (a, b):
        wait_until(lambda: every_worker_serves(host, candidate), 10, f"{host.url} serves the promoted model")

    rolled_back = requests.post(b.url + f"/v1/admin/models/{original}/activate", headers=AUTH, timeout=30)
    assert rolled_back.status_code == 200, rolled_back.text
    for host in (a, b):
        wait_until(lambda: every_worker_serves(host, original), 10, f"{host.url} serves the model rolled back to")


def test_one_clients_rate_limit_is_counted_across_both_hosts(hosts):
    a, b = hosts
    statuses = [requests.post((a if n % 2 else b).url + "/v1/check", json={"text": "Lovely team lunch today"},
                              timeout=10).status_code for n in range(CHECKS_PER_MINUTE + 2)]
    assert statuses[:CHECKS_PER_MINUTE] == [200] * CHECKS_PER_MINUTE
    assert statuses[CHECKS_PER_MINUTE:] == [429, 429]
