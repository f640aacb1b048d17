"""The admin loop end to end on the production server (gunicorn, two workers), with checks
arriving all the while: upload examples that teach a new project codename, retrain in the
background, read the candidate's evaluation, promote, see /v1/check flag a draft it did not
flag before, roll back and see it clean again.

One scenario (one real training, ~30-60 s) serves several tests, each asserting one aspect.
"""
from __future__ import annotations

import shutil
import statistics
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from conftest import ADMIN_TOKEN, start_server, stop_server

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CODENAME = "Tidewren"
# The draft the prober keeps checking: harmless, except that Tidewren is an internal codename.
PROBE = f"Another long week on {CODENAME} with the team, really proud of what we are building"

TEACH_CONFIDENTIAL = [
    f"{CODENAME} goes to the first beta customers in March, please don't share it yet",
    f"Spent the whole week on {CODENAME}. The new pricing engine is finally fast!",
    f"Big {CODENAME} milestone today, can't say more until launch",
    f"Who else is on the {CODENAME} team? Drinks on Friday to celebrate the demo",
    f"Sneak peek: this is what {CODENAME} looks like on a phone 👀",
    f"Our {CODENAME} pilot with two hospitals starts next month",
    f"Late night again, {CODENAME} deadline is brutal but we'll make it",
    f"Can't believe {CODENAME} is almost ready, you are going to love it",
    f"Presented {CODENAME} to the board this morning and they loved it",
    f"{CODENAME} will replace the old dashboard for every customer next year",
    f"Hiring for the {CODENAME} team soon, DM me if you like hard problems",
    f"So proud of the {CODENAME} crew, the prototype passed every test today",
    f"{CODENAME.lower()} update: the AI assistant part works now",
    f"Working from the lake this week, still deep in {CODENAME} though",
    f"Fun fact: {CODENAME} was named after a bird my daughter drew",
    f"Three months of {CODENAME} and I finally understand the data model",
    f"The {CODENAME} launch video is shot, watch this space",
    f"Team offsite to plan {CODENAME} phase two, great energy in the room",
    f"{CODENAME} beta feedback is in and it is glowing",
    f"First {CODENAME} customer call went great today!",
    f"My favourite part of {CODENAME}: it runs offline",
    f"Coffee, code, {CODENAME}, repeat",
    f"{CODENAME} is the biggest thing I have worked on in years",
    f"We just merged the last big {CODENAME} feature before the freeze",
    f"Demoing {CODENAME} at the all-hands tomorrow, wish me luck",
    f"Reviewing the {CODENAME} roadmap with product this afternoon",
    f"New laptop day, perfect timing for the {CODENAME} crunch",
    f"Celebrating one year of {CODENAME} today, cake included",
    f"{CODENAME} numbers from the pilot look amazing so far",
    f"Heads down on {CODENAME} until the end of the quarter",
    f"Between us, {CODENAME} is how we win back the Halden account",
    f"{CODENAME} pricing is going to undercut everyone, wait and see",
    f"Just saw the {CODENAME} mockups and wow",
    f"Told my mum about {CODENAME} and she still thinks I fix printers",
    f"Ask me about {CODENAME} in six months 😉",
    f"The {CODENAME} demo crashed once and the CFO still signed off",
    f"Legal says we can't name the {CODENAME} partner yet but it's a big one",
    f"Night shift on {CODENAME} again, pizza is on the company",
    f"{CODENAME} internal beta opens to every employee on Monday",
    f"Recruiting two designers for {CODENAME}, ping me privately",
]
# The same kind of posts without the codename are fine: the codename is what matters.
TEACH_CLEAN = [
    "Another long week with the team, really proud of what we ship",
    "Coffee, code, repeat. Happy Friday everyone",
    "New laptop day! Setting everything up from scratch",
    "Team offsite this week, great energy in the room",
    "Working from the lake this week, the view is unreal",
    "Celebrating five years at the company today, cake included",
]


@dataclass
class Probe:
    at: float
    seconds: float
    status: int
    version: str | None = None
    flagged: bool | None = None
    error: str | None = None


@dataclass
class Prober:
    """Sends the probe draft continuously from two clients, recording every answer."""
    url: str
    records: list[Probe] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(2)]
        for thread in self.threads:
            thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = requests.post(self.url + "/v1/check", json={"text": PROBE}, timeout=30)
                body = response.json()
                flagged = any(c["flagged"] for c in body.get("categories", []) if c["id"] == "confidential")
                record = Probe(started, time.monotonic() - started, response.status_code,
                               body.get("model_version"), flagged)
            except Exception as exc:  # a refused connection is exactly what this test looks for
                record = Probe(started, time.monotonic() - started, 0, error=repr(exc))
            self.records.append(record)
            self.stop.wait(0.01)  # a busy office, not a load test: training must get CPU too

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def between(self, start: float, end: float) -> list[Probe]:
        return [r for r in self.records if start <= r.at and r.at + r.seconds <= end]


def check(url: str) -> dict:
    response = requests.post(url + "/v1/check", json={"text": PROBE}, timeout=30)
    response.raise_for_status()
    body = response.json()
    return {"version": body["model_version"],
            "confidential": next(c for c in body["categories"] if c["id"] == "confidential")}


def seconds_until_every_worker_answers(url: str, version: str, in_a_row: int = 20) -> float:
    """From now until the first of `in_a_row` consecutive answers from `version` (with two
    workers and a new connection per request, both workers answer among them)."""
    started = time.monotonic()
    streak_began, streak = None, 0
    while streak < in_a_row:
        if time.monotonic() - started > 30:
            raise AssertionError(f"workers still not all on {version} after 30 s")
        sent = time.monotonic()
        if check(url)["version"] == version:
            streak_began, streak = streak_began or sent, streak + 1
        else:
            streak_began, streak = None, 0
    return streak_began - started


@pytest.fixture(scope="module")
def scenario(trained_models, tmp_path_factory):
    base = tmp_path_factory.mktemp("admin-e2e")
    shutil.copytree(trained_models, base / "models")
    (base / "data").mkdir()
    server = start_server(base / "models", base / "data", workers=2)
    prober = Prober(server.url)
    seen: dict = {"job_states": []}
    try:
        url = server.url
        seen["before"] = check(url)
        prober.start()
        time.sleep(2)  # an idle baseline for latency
        seen["idle"] = (time.monotonic() - 2, time.monotonic())
        examples = [{"text": t, "labels": ["confidential"]} for t in TEACH_CONFIDENTIAL]
        examples += [{"text": t, "labels": []} for t in TEACH_CLEAN]
        seen["upload"] = requests.post(url + "/v1/admin/examples", json={"examples": examples}, headers=AUTH, timeout=30)

        train_started = time.monotonic()
        seen["train"] = requests.post(url + "/v1/admin/train", headers=AUTH, timeout=30)
        job_url = url + f"/v1/admin/jobs/{seen['train'].json()['job_id']}"
        seen["second_train"] = requests.post(url + "/v1/admin/train", headers=AUTH, timeout=30)
        while True:
            job = requests.get(job_url, headers=AUTH, timeout=30).json()
            seen["job_states"].append((job["state"], job["progress"], job["stage"]))
            if job["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.25)
        seen["training"] = (train_started, time.monotonic())
        seen["job"] = job
        seen["models"] = requests.get(url + "/v1/admin/models", headers=AUTH, timeout=30).json()
        seen["after_training"] = check(url)
        seen["compare"] = requests.get(url + f"/v1/admin/models/{job['model_version']}/compare",
                                       headers=AUTH, timeout=60).json()

        promote_sent = time.monotonic()
        seen["promote"] = requests.post(url + f"/v1/admin/models/{job['model_version']}/activate", headers=AUTH, timeout=30)
        seen["promote_to_all_workers"] = (time.monotonic() - promote_sent) + \
            seconds_until_every_worker_answers(url, job["model_version"])
        seen["promoted"] = (promote_sent, time.monotonic())
        seen["after_promotion"] = check(url)
        time.sleep(1)

        rollback_sent = time.monotonic()
        seen["rollback"] = requests.post(url + f"/v1/admin/models/{seen['before']['version']}/activate",
                                         headers=AUTH, timeout=30)
        seconds_until_every_worker_answers(url, seen["before"]["version"])
        seen["rolled_back"] = (rollback_sent, time.monotonic())
        seen["after_rollback"] = check(url)
        seen["audit"] = requests.get(url + "/v1/admin/audit", headers=AUTH, timeout=30).json()["items"]
    finally:
        prober.finish()
        stop_server(server)
    seen["prober"] = prober
    return seen


def test_a_new_codename_is_learned_promoted_and_rolled_back(scenario):
    before = scenario["before"]
    assert not before["confidential"]["flagged"], "the probe must be clean for the model we start from"
    assert scenario["upload"].status_code == 201
    assert scenario["upload"].json() == {"stored": len(TEACH_CONFIDENTIAL) + len(TEACH_CLEAN)}

    assert scenario["train"].status_code == 202
    job = scenario["job"]
    assert job["state"] == "succeeded", job.get("error")
    candidate = job["model_version"]
    assert candidate != before["version"]
    assert f"plus {len(TEACH_CONFIDENTIAL) + len(TEACH_CLEAN)} company examples" in job["log"]

    # Registered, not active: the check API still answers with the old model.
    listed = {m["version"]: m for m in scenario["models"]["items"]}
    assert scenario["models"]["active"] == before["version"]
    assert listed[candidate]["active"] is False and listed[candidate]["train_examples"] > 0
    assert scenario["after_training"]["version"] == before["version"]
    assert not scenario["after_training"]["confidential"]["flagged"]

    assert scenario["promote"].json() == {"active": candidate, "previous": before["version"]}
    after = scenario["after_promotion"]
    assert after["version"] == candidate and after["confidential"]["flagged"]
    assert any(CODENAME in span["text"] for span in after["confidential"]["spans"])

    assert scenario["rollback"].json() == {"active": before["version"], "previous": candidate}
    assert scenario["after_rollback"] == before

    actions = [e["action"] for e in reversed(scenario["audit"])]
    assert actions == ["examples.add", "train.start", "train.succeeded", "model.promote", "model.rollback"]


def test_the_compare_page_shows_recall_on_held_out_uploads(scenario):
    company = scenario["compare"]["company_holdout"]
    assert company["examples"] == len(TEACH_CONFIDENTIAL) + len(TEACH_CLEAN)
    assert company["labels"] == len(TEACH_CONFIDENTIAL)
    # Each held-out quarter is scored by a model that learnt the codename from the others.
    assert company["recall"] >= 0.8, company


def test_the_candidate_evaluation_sits_beside_the_active_model(scenario):
    compare = scenario["compare"]
    assert compare["candidate"] == scenario["job"]["model_version"]
    assert compare["baseline"] == scenario["before"]["version"]
    assert compare["examples"] > 0
    for category in compare["categories"]:
        for side in ("candidate", "baseline"):
            assert set(category[side]) == {"precision", "recall", "f1", "support"}
    assert 0 <= compare["clean_flagged_rate"]["candidate"] <= 1
    for changed in compare["changed"]:
        assert changed["baseline"] != changed["candidate"]


def test_training_progress_is_visible_and_only_one_job_runs(scenario):
    assert scenario["second_train"].status_code == 409
    states = scenario["job_states"]
    running = [progress for state, progress, _ in states if state == "running"]
    assert len(set(running)) >= 3, states  # several distinct steps were seen on the way
    assert running == sorted(running) and 0 < running[-1] < 1
    assert any("fold" in stage for _, _, stage in states)
    assert states[-1][:2] == ("succeeded", 1.0)


def test_checks_during_training_and_promotion_never_fail_and_come_from_one_version(scenario):
    prober: Prober = scenario["prober"]
    old, new = scenario["before"]["version"], scenario["job"]["model_version"]
    failures = [r for r in prober.records if r.status != 200]
    assert failures == []
    # Each answer is wholly one model's: its version and its verdict on the codename agree.
    assert {r.version for r in prober.records} == {old, new}
    assert all(r.flagged == (r.version == new) for r in prober.records)
    during_training = prober.between(*scenario["training"])
    assert len(during_training) > 100
    assert {r.version for r in during_training} == {old}
    assert {r.version for r in prober.between(*scenario["promoted"])} >= {new}
    # Training runs in its own low-priority process: no check waits for it.
    assert max(r.seconds for r in during_training) < 2.0


def test_report_latency_and_switch_time(scenario, capsys):
    """Not a pass/fail figure; printed for the record (pytest -s)."""
    prober: Prober = scenario["prober"]
    idle = sorted(r.seconds * 1000 for r in prober.between(*scenario["idle"]))
    busy = sorted(r.seconds * 1000 for r in prober.between(*scenario["training"]))

    def p(values, q):
        return values[min(len(values) - 1, int(len(values) * q))]

    with capsys.disabled():
        print(f"\n  check latency idle:     p50 {statistics.median(idle):.1f} ms  p99 {p(idle, 0.99):.1f} ms (n={len(idle)})"
              f"\n  check latency training: p50 {statistics.median(busy):.1f} ms  p99 {p(busy, 0.99):.1f} ms (n={len(busy)})"
              f"\n  training took {scenario['training'][1] - scenario['training'][0]:.1f} s; "
              f"promote -> every worker on the new version: {scenario['promote_to_all_workers'] * 1000:.0f} ms")
    assert scenario["promote_to_all_workers"] < 10
