"""Several hosts: the figures of BENCHMARKS.md's "Several hosts" section.

  1. check throughput of one production server (gunicorn, 2 workers) on SQLite and on
     PostgreSQL, alternately, three rounds each (equal within noise: checks never query the
     database);
  2. promotion across two hosts: two servers with their own models and data folders sharing one
     PostgreSQL database; "promote" on one, then on the other, and the time until every worker
     of both answers with the new version.

    python -m bench.hosts --database-url postgresql://…/draftguard_bench [--models-dir models]

The database must be empty or made for this (its model versions and policy are replaced).
BENCHMARKS.md shows how to start a throwaway PostgreSQL server for it.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.__main__ import DRAFT, start_server, stop_server, throughput
from engine.registry import Registry
from server import config

TOKEN = "bench-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUNDS = 3
# /healthz requests per host that must all name the new version: they land on either worker.
PROBES = 6


def copy_models(models_dir: Path) -> tuple[Path, str, str]:
    """A private models folder with the active version and a second one (the same model under
    another name) to switch between."""
    folder = Path(tempfile.mkdtemp(prefix="draftguard-bench-models-"))
    source = Registry(models_dir)
    active = source.active_version()
    artifact, metadata, report = source.files(active)
    target = Registry(folder)
    target.install(active, artifact, metadata["sha256"], metadata, report)
    target.activate(active)
    other = f"{active}-copy"
    target.install(other, artifact, metadata["sha256"], {**metadata, "version": other}, report)
    return folder, active, other


def bench_throughput(models_dir: Path, database_url: str, count: int, concurrency: int) -> None:
    print(f"Check throughput, one server, 2 workers, {concurrency} clients, {count} checks a round:")
    rates = {"SQLite": [], "PostgreSQL": []}
    for _ in range(ROUNDS):
        for name, settings in (("SQLite", {}), ("PostgreSQL", {"DRAFTGUARD_DATABASE_URL": database_url})):
            process, url, data_dir = start_server(models_dir, workers=2, **settings)
            try:
                throughput(url, "/v1/check", DRAFT, 200, concurrency)  # warm up
                rates[name].append(throughput(url, "/v1/check", DRAFT, count, concurrency))
            finally:
                stop_server(process, data_dir)
    for name, values in rates.items():
        print(f"  {name:<10} median {statistics.median(values):5.0f} checks/s  (rounds: "
              + ", ".join(f"{v:.0f}" for v in values) + ")")
    print(f"  PostgreSQL / SQLite: {statistics.median(rates['PostgreSQL']) / statistics.median(rates['SQLite']):.2f}")


def serves(url: str, version: str) -> bool:
    return all(requests.get(url + "/healthz", timeout=5).json()["model_version"] == version for _ in range(PROBES))


def bench_promotion(models_dir: Path, database_url: str, switches: int) -> None:
    folder, first, second = copy_models(models_dir)
    fresh = Path(tempfile.mkdtemp(prefix="draftguard-bench-models-"))
    settings = {"DRAFTGUARD_DATABASE_URL": database_url, "DRAFTGUARD_ADMIN_TOKEN": TOKEN}
    a = start_server(folder, workers=2, **settings)
    b = start_server(fresh, workers=2, port_offset=1, **settings)  # a fresh host: fetches the model
    hosts = [a[1], b[1]]
    try:
        print(f"\nPromotion across two hosts (2 workers each, one PostgreSQL), {switches} switches:")
        assert all(serves(url, first) for url in hosts), "both hosts serve the first version"
        durations = []
        for n in range(switches):
            version = second if n % 2 == 0 else first
            on = hosts[n % 2]  # promote on A, roll back on B, ...
            started = time.perf_counter()
            requests.post(f"{on}/v1/admin/models/{version}/activate", headers=AUTH, timeout=30).raise_for_status()
            while not all(serves(url, version) for url in hosts):
                time.sleep(0.02)
            durations.append(time.perf_counter() - started)
        print(f"  'activate' -> every worker of both hosts serves it: median {statistics.median(durations) * 1000:.0f} ms, "
              f"max {max(durations) * 1000:.0f} ms")
    finally:
        stop_server(*a[::2])
        stop_server(*b[::2])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hosts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database for the benchmark")
    parser.add_argument("--models-dir", type=Path, default=config.from_env()["MODELS_DIR"])
    parser.add_argument("--requests", type=int, default=2000, help="checks per throughput round (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel clients (default: %(default)s)")
    parser.add_argument("--switches", type=int, default=10, help="promotions and rollbacks (default: %(default)s)")
    args = parser.parse_args()
    bench_throughput(args.models_dir, args.database_url, args.requests, args.concurrency)
    bench_promotion(args.models_dir, args.database_url, args.switches)


if __name__ == "__main__":
    main()
