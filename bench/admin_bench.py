"""The admin side's figures, on the production server (gunicorn, 2 workers):

  1. training time for the default corpus plus 1,000 uploaded examples, as a background job
     (the same POST /v1/admin/train the console's "Start training" button makes);
  2. check latency p50/p99 while that training runs versus idle, in the same run;
  3. the time from "promote" until every worker answers with the new version.

    python -m bench.admin_bench [--models-dir models] [--examples 1000] [--switches 5]

Checks come from two clients pausing 10 ms between requests: a busy office, not a load test.
Idle latency is sampled for 10 s before and 10 s after the training, so that drift in the
machine's other load affects both sides alike.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.__main__ import DRAFT, start_server
from engine.registry import Registry
from server import config

TOKEN = "bench-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Pieces of synthetic examples, labelled by their risk; every template uses every slot, so
# each combination is a distinct text.
OPENERS = ["Quick update:", "Honestly,", "Between us,", "Fun Friday thought:", "Reminder for the team:",
           "Not sure I should say this but", "Big week!", "PSA:", "From the train home:", "So"]
RISKS = [
    ("confidential", "the {p} roadmap moves the {c} launch to {m}"),
    ("confidential", "we signed {c} as a customer for {p} in {m}, not public yet"),
    ("financial", "{c} will be acquired in {m}, grab some shares before the news"),
    ("financial", "our {m} numbers for {p} beat guidance by a mile, {c} stock is next"),
    ("security", "the {p} staging password is {c}{m}2024!"),
    ("privacy", "{c}'s home address and phone are in the {p} sheet from {m}, here they are"),
    ("unauthorized", "on behalf of the company I promise {c} a free year of {p} from {m}"),
    ("disparagement", "the {p} managers are clowns and {c} is even worse since {m}"),
    ("", "the {p} meetup with {c} in {m} was a blast"),
    ("", "proud of the {p} team, the {c} case study from {m} is live on our blog"),
]
PRODUCTS = ["Atlas", "Beacon", "Cobalt", "Drift", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper"]
COMPANIES = ["Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella", "Hooli", "Vandelay", "Acme", "Stark"]
MONTHS = ["March", "April", "May", "June", "July"]


def synthetic_examples(count: int) -> list[dict]:
    combos = itertools.product(OPENERS, RISKS, PRODUCTS, COMPANIES, MONTHS)
    examples = []
    for opener, (label, template), product, company, month in itertools.islice(combos, 0, None, 37):
        text = f"{opener} {template.format(p=product, c=company, m=month)}"
        examples.append({"text": text, "labels": [label] if label else []})
        if len(examples) == count:
            return examples
    raise ValueError(f"only {len(examples)} distinct examples available")


class Prober:
    def __init__(self, url: str):
        self.url = url
        self.samples: list[tuple[float, float, str]] = []  # (sent at, seconds, model version)
        self.errors = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(2)]
        for thread in self.threads:
            thread.start()

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                response = session.post(self.url + "/v1/check", json={"text": DRAFT}, timeout=30)
                response.raise_for_status()
                self.samples.append((sent, time.monotonic() - sent, response.json()["model_version"]))
            except requests.RequestException:
                self.errors += 1
            self.stop.wait(0.01)

    def between(self, start: float, end: float) -> list[float]:
        return sorted(seconds * 1000 for sent, seconds, _ in self.samples if start <= sent and sent + seconds <= end)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def idle_window(prober: Prober, seconds: float = 10) -> list[float]:
    time.sleep(seconds)
    return prober.between(time.monotonic() - seconds, time.monotonic())


def summary(samples_ms: list[float]) -> tuple[float, float]:
    return statistics.median(samples_ms), samples_ms[min(len(samples_ms) - 1, int(len(samples_ms) * 0.99))]


def switch_seconds(url: str, version: str, in_a_row: int = 20) -> float:
    """From the activate request until the first of `in_a_row` consecutive answers from `version`."""
    started = time.monotonic()
    requests.post(url + f"/v1/admin/models/{version}/activate", headers=AUTH, timeout=30).raise_for_status()
    streak_began, streak = None, 0
    while streak < in_a_row:
        sent = time.monotonic()
        answered = requests.post(url + "/v1/check", json={"text": DRAFT}, timeout=30).json()["model_version"]
        streak_began, streak = (streak_began or sent, streak + 1) if answered == version else (None, 0)
    return streak_began - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.admin_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=config.from_env()["MODELS_DIR"])
    parser.add_argument("--examples", type=int, default=1000, help="uploaded examples (default: %(default)s)")
    parser.add_argument("--switches", type=int, default=5, help="promotions/rollbacks timed (default: %(default)s)")
    args = parser.parse_args()
    if Registry(args.models_dir).active_version() is None:
        raise SystemExit(f"no active model in {args.models_dir}: run `python -m train` first")
    models_dir = Path(tempfile.mkdtemp(prefix="draftguard-admin-bench-")) / "models"
    shutil.copytree(args.models_dir, models_dir)
    os.environ["DRAFTGUARD_ADMIN_TOKEN"] = TOKEN  # start_server passes the environment on
    process, url, data_dir = start_server(models_dir, workers=2)
    prober = Prober(url)
    try:
        examples = synthetic_examples(args.examples)
        requests.post(url + "/v1/admin/examples", json={"examples": examples}, headers=AUTH,
                      timeout=60).raise_for_status()
        idle = idle_window(prober)

        started = time.monotonic()
        job_id = requests.post(url + "/v1/admin/train", headers=AUTH, timeout=30).json()["job_id"]
        while (job := requests.get(url + f"/v1/admin/jobs/{job_id}", headers=AUTH, timeout=30).json())["state"] \
                not in ("succeeded", "failed"):
            time.sleep(0.2)
        finished = time.monotonic()
        if job["state"] == "failed":
            raise SystemExit(f"training failed: {job['error']}")
        training = prober.between(started, finished)
        idle = sorted(idle + idle_window(prober))  # before and after: the machine's own drift evens out
        metadata = Registry(models_dir).metadata(job["model_version"])

        old, new = Registry(models_dir).active_version(), job["model_version"]
        switches = [switch_seconds(url, new if n % 2 == 0 else old) for n in range(args.switches)]
    finally:
        prober.finish()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(models_dir.parent, ignore_errors=True)

    (idle_p50, idle_p99), (busy_p50, busy_p99) = summary(idle), summary(training)
    print(f"training job, default corpus + {args.examples} uploaded examples ({metadata['train_examples']} drafts): "
          f"{finished - started:.1f} s end to end ({metadata['training_seconds']} s fitting and evaluating)")
    print(f"check latency idle:            p50 {idle_p50:6.2f} ms   p99 {idle_p99:6.2f} ms   (n={len(idle)})")
    print(f"check latency while training:  p50 {busy_p50:6.2f} ms   p99 {busy_p99:6.2f} ms   (n={len(training)})")
    print(f"ratio training/idle:           p50 {busy_p50 / idle_p50:6.2f}x     p99 {busy_p99 / idle_p99:6.2f}x")
    print(f"promote -> every worker answers with the new version: "
          f"median {statistics.median(switches) * 1000:.0f} ms, max {max(switches) * 1000:.0f} ms (n={len(switches)})")
    print(f"failed checks during the whole run: {prober.errors}")


if __name__ == "__main__":
    main()
