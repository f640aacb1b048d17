"""Ordinary checks while slow clients and hostile drafts attack the production server.

    python -m bench.slow_clients [--models-dir models] [--slow 20] [--seconds 20] [--worker-class sync]

Starts gunicorn as `make run` does (server/serving.py). Then, at once:
- `--slow` clients each send a check's headers and the first bytes of its body, then one more
  byte every two seconds (reconnecting when the server drops them);
- two clients post hostile 20,000-character drafts back to back;
- one employee sends an ordinary 300-character check every 100 ms.
Prints the employee's answer times (median, p95, max) and how many got no answer within 10 s.
`--worker-class sync` runs the same attack against gunicorn's default workers, for comparison.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.__main__ import DRAFT, start_server, stop_server
from bench.hostile import HOSTILE, draft
from engine.registry import Registry

SLOW_BODY_BYTES = 4000
TRICKLE_SECONDS = 2.0
ANSWER_WITHIN_SECONDS = 10.0


class SlowClient(threading.Thread):
    """Sends a check's headers and a few body bytes, then one byte every TRICKLE_SECONDS."""

    def __init__(self, url: str, stop: threading.Event):
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.stop = stop
        self.dropped = 0

    def run(self) -> None:
        head = (f"POST /v1/check HTTP/1.1\r\nHost: {self.address[0]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\n" + '{"text": "').encode()
        while not self.stop.is_set():
            try:
                with socket.create_connection(self.address, timeout=30) as sock:
                    sock.sendall(head)
                    while not self.stop.wait(TRICKLE_SECONDS):
                        sock.sendall(b"a")
            except OSError:  # the server dropped us: come back, as an attacker would
                self.dropped += 1
                self.stop.wait(0.2)


class HostileClient(threading.Thread):
    """Posts the hostile 20,000-character drafts one after another."""

    def __init__(self, url: str, stop: threading.Event, offset: int):
        super().__init__(daemon=True)
        self.url, self.stop, self.offset = url, stop, offset
        self.sent = 0

    def run(self) -> None:
        drafts = [draft(prefix, fragment, 20_000) for prefix, fragment in HOSTILE.values()]
        with requests.Session() as session:
            while not self.stop.is_set():
                text = drafts[(self.offset + self.sent) % len(drafts)]
                try:
                    session.post(self.url + "/v1/check", json={"text": text}, timeout=60)
                except requests.RequestException:
                    pass
                self.sent += 1


@dataclass
class AttackResult:
    answer_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    hostile_sent: int = 0
    slow_dropped: int = 0


def attack(url: str, slow_clients: int, seconds: float, warmup: float = 2.0) -> AttackResult:
    """Ordinary checks' answer times while the attack runs; see the module docstring."""
    stop = threading.Event()
    slow = [SlowClient(url, stop) for _ in range(slow_clients)]
    hostile = [HostileClient(url, stop, offset) for offset in (0, 7)]
    for client in slow + hostile:
        client.start()
    result = AttackResult()
    time.sleep(warmup)  # every slow client is connected and trickling
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                # A new connection each time, as a fresh tab would open.
                answer = requests.post(url + "/v1/check", json={"text": DRAFT}, timeout=ANSWER_WITHIN_SECONDS)
                if answer.status_code == 200:
                    result.answer_ms.append((time.perf_counter() - started) * 1000)
                else:
                    result.unanswered += 1
            except requests.RequestException:
                result.unanswered += 1
            time.sleep(0.1)
    finally:
        stop.set()
    result.hostile_sent = sum(client.sent for client in hostile)
    result.slow_dropped = sum(client.dropped for client in slow)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--slow", type=int, default=20, help="slow-body clients (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the employee checks (default: %(default)s)")
    parser.add_argument("--worker-class", help="override server/serving.py's worker class, e.g. sync")
    args = parser.parse_args()
    if Registry(args.models_dir).active_version() is None:
        raise SystemExit(f"no active model in {args.models_dir}: run `python -m train` first")
    extra = ["--worker-class", args.worker_class] if args.worker_class else []
    process, url, data_dir = start_server(args.models_dir, workers=2, extra_args=extra)
    try:
        result = attack(url, args.slow, args.seconds)
    finally:
        stop_server(process, data_dir)
    times = sorted(result.answer_ms)
    print(f"{args.slow} slow-body clients + 2 hostile 20,000-character drafts in flight "
          f"({result.hostile_sent} sent; slow clients dropped by the server {result.slow_dropped} times)")
    if times:
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"ordinary checks answered: {len(times)}, median {statistics.median(times):.0f} ms, "
              f"p95 {p95:.0f} ms, max {times[-1]:.0f} ms")
    print(f"ordinary checks with no answer within {ANSWER_WITHIN_SECONDS:.0f} s: {result.unanswered}")


if __name__ == "__main__":
    main()
