"""Latency and throughput of a check: in-process (model only) and over HTTP (production server).

    python -m bench [--models-dir models] [--requests 2000] [--concurrency 16]

Prints medians and p99s; the HTTP part starts gunicorn on a free loopback port with the rate
limit off, and sends a bounded number of requests from this process only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import requests

from engine import classifier
from engine.policy import default_pack
from engine.registry import Registry
from server import config

ROOT = Path(__file__).resolve().parent.parent
# A realistic 300-character draft with a risk buried in a friendly post.
DRAFT = ("So proud of the team this quarter! We shipped the new onboarding flow, closed two big "
         "renewals and somehow still made it to the bowling night 🎳. Between us, the numbers we "
         "report next Thursday are way above guidance, so maybe grab some shares before then. "
         "Huge thanks to everyone who pitched in!!")


# A long post (about 2,000 characters) with the risk in one sentence: scored whole and on windows.
LONG_DRAFT = (
    "Some personal news, and a long one, so grab a coffee. Ten years ago this week I walked into "
    "the old office on Canal Street for an interview I was sure I had failed. I wore a borrowed "
    "suit, I got the name of the product wrong twice, and the hiring manager still took a chance "
    "on me. I have been thinking about that a lot lately.\n\nIn those ten years I have moved "
    "desks six times, learned three programming languages badly and one of them well, shipped "
    "more releases than I can count, and been part of a team that turned a tiny side project into "
    "something thousands of people use every day. I have also made every mistake in the book: I "
    "deleted a production table once (we restored it, nobody panicked, I still think about it), I "
    "missed my daughter's first school play for a deadline that moved the next day anyway, and I "
    "learned the hard way that the quiet person in the meeting usually has the best idea. I also "
    "learned that the coffee machine on the third floor is the only one worth queueing for, and "
    "that the lift gets stuck on Fridays.\n\n"
    "A few things I would tell my younger self. Write things down, because you will forget. Ask "
    "for help early, because people like being asked. Take the holiday. Say thank you in public "
    "and criticism in private. And between us, the numbers we report next Thursday are way above "
    "guidance, so anyone holding the stock should sit tight and maybe buy a little more before "
    "then. Finally, find people you would happily be stuck in an airport with, and work with them "
    "for as long as they will have you.\n\nTo everyone who has been part of this decade: the "
    "mentors who answered silly questions at eleven at night, the friends who covered for me when "
    "my dad was ill, the customers who wrote in to say thank you, and the ones who wrote in to say "
    "we had broken something, which was usually more useful. Thank you. Here is to the next ten, "
    "and to many more bad suits and good people along the way. Now, who is coming for cake?"
)


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):7.3f} ms   p99 {p99:7.3f} ms   (n={len(ordered)})"


def time_calls(call, count: int) -> list[float]:
    """Milliseconds per call; `call` gets the call's number, to vary its draft."""
    samples = []
    for number in range(count):
        started = time.perf_counter()
        call(number)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def variant(text: str, number: int) -> str:
    # A different draft each call, as when an employee keeps typing; an identical draft would
    # only measure the scorer's one-draft cache.
    return f"{text} #{number}"


def bench_in_process(models_dir: Path, count: int) -> None:
    registry = Registry(models_dir)
    version = registry.active_version()
    model = registry.load(version)
    pack = default_pack()
    print(f"model {version}; draft of {len(DRAFT)} characters")
    time_calls(lambda n: classifier.predict(model, variant(DRAFT, n), pack), 50)  # warm up
    print("in-process, model scores only   ", percentiles(time_calls(lambda n: classifier.score(model, variant(DRAFT, n)), count)))
    print(f"in-process, model scores only, {len(LONG_DRAFT)}-character draft (whole + windows)",
          percentiles(time_calls(lambda n: classifier.score(model, variant(LONG_DRAFT, n)), count)))
    print(f"in-process, full check, {len(LONG_DRAFT)}-character draft",
          percentiles(time_calls(lambda n: classifier.predict(model, variant(LONG_DRAFT, n), pack), count)))
    print("in-process, full check (+spans)  ", percentiles(time_calls(lambda n: classifier.predict(model, variant(DRAFT, n), pack), count)))
    clean = "Had a lovely weekend hiking with the family, the view from the ridge was worth every step."
    print("in-process, clean draft          ", percentiles(time_calls(lambda n: classifier.predict(model, variant(clean, n), pack), count)))


def start_server(models_dir: Path, workers: int, extra_args: Sequence[str] = (), port_offset: int = 0,
                 **settings: str) -> tuple[subprocess.Popen, str, Path]:
    """gunicorn configured as `make run` (server/serving.py), quiet, without rate limits;
    `settings`: further DRAFTGUARD_* variables."""
    data_dir = Path(tempfile.mkdtemp(prefix="draftguard-bench-"))
    port = 18000 + (os.getpid() + port_offset) % 1000
    env = {**os.environ, "DRAFTGUARD_MODELS_DIR": str(models_dir), "DRAFTGUARD_DATA_DIR": str(data_dir),
           "DRAFTGUARD_CHECK_RATE_LIMIT": "", "DRAFTGUARD_DATABASE": str(data_dir / "bench.sqlite3"), **settings}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:server.serving",
                                "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                                "--log-level", "warning", "--access-logfile", "/dev/null", "--no-control-socket",
                                *extra_args, "server:create_app()"],
                               cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/healthz", timeout=2).ok:
                return process, url, data_dir
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def worker_rss(master: int) -> list[tuple[int, int]]:
    """(pid, resident kB) of each gunicorn worker: the master's children."""
    result = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # the process ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(master):
            result.append((int(status.parent.name), int(fields["VmRSS"].split()[0])))
    return sorted(result)


def bench_http(models_dir: Path, count: int, concurrency: int, workers: int) -> None:
    process, url, data_dir = start_server(models_dir, workers)
    try:
        session = requests.Session()
        check = lambda n: session.post(url + "/v1/check", json={"text": variant(DRAFT, n)}, timeout=10).raise_for_status()
        health = lambda n: session.get(url + "/healthz", timeout=10).raise_for_status()
        time_calls(check, 100)
        print(f"\nHTTP via gunicorn, {workers} workers, one client, keep-alive:")
        print("  POST /v1/check  ", percentiles(time_calls(check, count)))
        print("  GET  /healthz   ", percentiles(time_calls(health, count)))
        for name, path, text in (("POST /v1/check", "/v1/check", DRAFT), ("GET  /healthz", "/healthz", None)):
            done = (count // concurrency) * concurrency
            print(f"  {name} at concurrency {concurrency}: {throughput(url, path, text, count, concurrency):7.0f} "
                  f"requests/s ({done} requests, 0 errors)")
        for pid, rss in worker_rss(process.pid):
            print(f"  worker {pid}: resident memory {rss / 1024:.0f} MB after the run")
    finally:
        stop_server(process, data_dir)


def throughput(url: str, path: str, text: Optional[str], count: int, concurrency: int) -> float:
    """Requests per second: `concurrency` clients share `count` requests (GET when `text` is None)."""
    def one(client: int):
        with requests.Session() as s:
            for n in range(count // concurrency):
                if text is None:
                    s.get(url + path, timeout=10).raise_for_status()
                else:
                    s.post(url + path, json={"text": variant(text, client * count + n)}, timeout=10).raise_for_status()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(concurrency)))
    return (count // concurrency) * concurrency / (time.perf_counter() - started)


def stop_server(process: subprocess.Popen, data_dir: Path) -> None:
    process.terminate()
    process.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=config.from_env()["MODELS_DIR"])
    parser.add_argument("--requests", type=int, default=2000, help="requests per measurement (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel clients (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: %(default)s)")
    args = parser.parse_args()
    if Registry(args.models_dir).active_version() is None:
        raise SystemExit(f"no active model in {args.models_dir}: run `python -m train` first")
    bench_in_process(args.models_dir, args.requests)
    bench_http(args.models_dir, args.requests, args.concurrency, args.workers)


if __name__ == "__main__":
    main()
