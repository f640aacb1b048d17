"""python -m train — train a model version from labelled drafts and register it.

Examples:
  python -m train                         # default corpus, evaluate on train/data/test.jsonl
  python -m train --if-missing            # only when no model is active (what `make run` does)
  python -m train --data extra.csv --data train/data/slices --activate
  python -m train --cross-validate        # leave-one-writer-out figures only; registers nothing
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.dataset import DatasetError
from engine.policy import PolicyError, load_active_pack, load_pack
from engine.registry import Registry, RegistryError
from server import config
from train.training import cross_validate_writers, render_cross_validation, render_report, train_and_register


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = config.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="Train the Draftguard classifier, evaluate it on held-out drafts and register "
                    "the new version in the models folder.",
    )
    parser.add_argument("--data", type=Path, action="append",
                        help="training file (.jsonl or .csv) or folder of them; repeatable "
                             f"(default: {', '.join(map(str, defaults['TRAIN_DATA']))}, env DRAFTGUARD_TRAIN_DATA)")
    parser.add_argument("--test", type=Path, default=defaults["TEST_DATA"],
                        help="held-out evaluation file (default: %(default)s, env DRAFTGUARD_TEST_DATA)")
    parser.add_argument("--secondary-test", type=Path, action="append",
                        help="further evaluation file, reported after the held-out writers; repeatable "
                             f"(default: {', '.join(map(str, defaults['SECONDARY_TEST_DATA']))}, env DRAFTGUARD_SECONDARY_TEST_DATA)")
    parser.add_argument("--cross-validate", action="store_true",
                        help="print leave-one-writer-out figures for the training data and register nothing")
    parser.add_argument("--models-dir", type=Path, default=defaults["MODELS_DIR"],
                        help="where versions and registry.json live (default: %(default)s, env DRAFTGUARD_MODELS_DIR)")
    parser.add_argument("--policy", type=Path,
                        help="policy pack JSON (default: the admin's edited pack, else the shipped default)")
    parser.add_argument("--activate", action="store_true",
                        help="make the new version active (the first version always becomes active)")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing if a model is already active")
    parser.add_argument("--seed", type=int, default=0, help="random seed; training is deterministic (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the new version")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    registry = Registry(args.models_dir)
    try:
        if args.cross_validate:
            pack = load_pack(args.policy) if args.policy else load_active_pack(config.from_env()["DATA_DIR"])
            result = cross_validate_writers(pack, args.data or config.from_env()["TRAIN_DATA"], args.seed)
            print(render_cross_validation(result))
            return 0
        if args.if_missing and registry.active_version():
            if not args.quiet:
                print(f"model {registry.active_version()} is active; nothing to train")
            return 0
        pack = load_pack(args.policy) if args.policy else load_active_pack(config.from_env()["DATA_DIR"])
        started = time.monotonic()

        def progress(stage: str, fraction: float) -> None:
            if not args.quiet:
                print(f"[{time.monotonic() - started:5.1f}s] {fraction:4.0%} {stage}", flush=True)

        metadata = train_and_register(registry, pack, args.data or config.from_env()["TRAIN_DATA"], args.test,
                                      activate=args.activate or args.if_missing, seed=args.seed,
                                      progress=progress,
                                      secondary_test_paths=args.secondary_test or config.from_env()["SECONDARY_TEST_DATA"])
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PolicyError, RegistryError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.quiet:
        print(metadata["version"])
    else:
        print()
        print(render_report(metadata))
        state = "active" if registry.active_version() == metadata["version"] else "a candidate (activate it with --activate or the admin console)"
        print(f"Registered {metadata['version']} in {args.models_dir}; it is {state}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
