"""Hostile drafts against plain prose of the same length: the full check, in-process.

    python -m bench.hostile [--models-dir models] [--length 20000] [--repeat 5]

Each hostile draft repeats a fragment that once made a backtracking pattern or the
normalisation blow up. Prints the median time of each and its ratio to plain prose; the target
is a worst ratio of at most 3.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from engine import classifier
from engine.policy import default_pack
from engine.registry import Registry
from server import config

PROSE = ("We spent the weekend at the lake with the kids, and the weather held until Sunday "
         "afternoon when the storm rolled in over the hills. ")

# name -> (prefix, repeated fragment); each becomes a draft of the chosen length.
HOSTILE = {
    "door code + spaces": ("door code", " "),
    "a.a.a.": ("", "a."),
    "a-a-a-": ("", "a-"),
    "10.1.1.": ("10.", "1."),
    "a@ + a.a.": ("a@", "a."),
    "12-12-": ("", "12-"),
    "xoxb-": ("xoxb-", "a-"),
    "eyJ-": ("eyJ", "a-"),
    "a%a%": ("", "a%"),
    "password repeated": ("", "password "),
    "a@b.cc runs": ("", "a@b.cc "),
    "U+FDFA": ("", "\ufdfa"),
    "spaced letters": ("", "a "),
    "leet run": ("", "p@"),
    "digits": ("", "4"),
    "card-like groups": ("", "4111 "),
    "phone-like groups": ("", "12 "),
    "pw: x": ("", "pw: x1 "),
}


def draft(prefix: str, fragment: str, length: int) -> str:
    body = prefix + fragment * ((length - len(prefix)) // len(fragment) + 1)
    return body[:length]


def median_ms(call, repeat: int) -> float:
    """Median over `repeat` calls; `call` gets the call's number, so that no cache can answer."""
    samples = []
    for number in range(repeat):
        started = time.perf_counter()
        call(number)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=config.from_env()["MODELS_DIR"])
    parser.add_argument("--length", type=int, default=20_000, help="characters per draft (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per draft (default: %(default)s)")
    args = parser.parse_args()
    registry = Registry(args.models_dir)
    if registry.active_version() is None:
        raise SystemExit(f"no active model in {args.models_dir}: run `python -m train` first")
    model, pack = registry.load(registry.active_version()), default_pack()
    plain = median_ms(lambda n: classifier.predict(model, f"{n} " + draft("", PROSE, args.length), pack), args.repeat)
    print(f"plain prose, {args.length} characters: median {plain:8.1f} ms")
    worst = 0.0
    for name, (prefix, fragment) in HOSTILE.items():
        text = draft(prefix, fragment, args.length)
        took = median_ms(lambda n: classifier.predict(model, f"{n} " + text, pack), args.repeat)
        worst = max(worst, took / plain)
        print(f"{name:22} median {took:8.1f} ms   x{took / plain:5.2f}")
    print(f"worst ratio to plain prose: x{worst:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
