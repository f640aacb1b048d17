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

import requests

from server import classifier, config
from server.policy import default_pack
from server.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
# A realistic 300-character draft with a risk buried in a friendly post.
DRAFT = ("So proud of the team this quarter! We shipped the new onboarding flow, closed two big "
         "renewals and somehow still made it to the bowling night 🎳. Between us, the numbers we "
         "report next Thursday are way above guidance, so maybe grab some shares before then. "
         "Huge thanks to everyone who pitched in!!")


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
    print("in-process, full check (+spans)  ", percentiles(time_calls(lambda n: classifier.predict(model, variant(DRAFT, n), pack), count)))
    clean = "Had a lovely weekend hiking with the family, the view from the ridge was worth every step."
    print("in-process, clean draft          ", percentiles(time_calls(lambda n: classifier.predict(model, variant(clean, n), pack), count)))


def start_server(models_dir: Path, workers: int) -> tuple[subprocess.Popen, str, Path]:
    data_dir = Path(tempfile.mkdtemp(prefix="draftguard-bench-"))
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "DRAFTGUARD_MODELS_DIR": str(models_dir), "DRAFTGUARD_DATA_DIR": str(data_dir),
           "DRAFTGUARD_CHECK_RATE_LIMIT": "", "DRAFTGUARD_DATABASE": str(data_dir / "bench.sqlite3")}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                                "--workers", str(workers), "--log-level", "warning", "--no-control-socket",
                                "server:create_app()"],
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
            def one(client: int):
                with requests.Session() as s:
                    for n in range(count // concurrency):
                        if text is None:
                            s.get(url + path, timeout=10).raise_for_status()
                        else:
                            body = {"text": variant(text, client * count + n)}
                            s.post(url + path, json=body, timeout=10).raise_for_status()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                list(pool.map(one, range(concurrency)))
            elapsed = time.perf_counter() - started
            done = (count // concurrency) * concurrency
            print(f"  {name} at concurrency {concurrency}: {done / elapsed:7.0f} requests/s ({done} requests, 0 errors)")
    finally:
        process.terminate()
        process.wait(timeout=10)
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
