"""The training pipeline: validated examples in, a registered model version out.

Used by `python -m train` and by the admin console's background jobs alike.
"""
from __future__ import annotations

import platform
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

import joblib
import numpy as np
import scipy
import sklearn

from server import classifier
from server.policy import PolicyPack
from server.registry import Registry
from train.dataset import Example, data_hash, read_corpus

Progress = Callable[[str, float], None]


def _quiet(stage: str, fraction: float) -> None:
    pass


@dataclass
class Evaluation:
    metrics: dict
    flagged: list[list[str]]  # the categories flagged for each evaluated example, in order


def evaluate(model: classifier.Model, examples: Sequence[Example], pack: PolicyPack) -> Evaluation:
    """Per-category precision/recall/F1, micro averages and clean drafts flagged — measured on
    the full decision employees get (model, detectors, company terms, thresholds)."""
    verdicts = classifier.predict_many(model, [e.text for e in examples], pack)
    flagged = [v.flagged_ids for v in verdicts]
    per_category = {}
    totals = np.zeros(3)
    for category in pack.category_ids:
        truth = np.array([category in e.labels for e in examples])
        guess = np.array([category in f for f in flagged])
        tp, fp, fn = int(np.sum(truth & guess)), int(np.sum(~truth & guess)), int(np.sum(truth & ~guess))
        totals += (tp, fp, fn)
        per_category[category] = {**_prf(tp, fp, fn), "support": int(truth.sum())}
    clean = [f for e, f in zip(examples, flagged) if not e.labels]
    hard = [f for e, f in zip(examples, flagged) if not e.labels and e.extra.get("kind") == "hard_negative"]
    risky = [(e, f) for e, f in zip(examples, flagged) if e.labels]
    metrics = {
        "examples": len(examples),
        "per_category": per_category,
        "micro": _prf(*map(int, totals)),
        "clean_examples": len(clean),
        "clean_flagged_rate": _share(clean),
        "hard_negative_flagged_rate": _share(hard) if hard else None,
        "risky_caught_rate": round(sum(bool(f) for _, f in risky) / len(risky), 4) if risky else None,
    }
    return Evaluation(metrics, flagged)


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _share(flag_lists: list[list[str]]) -> float:
    return round(sum(bool(f) for f in flag_lists) / len(flag_lists), 4) if flag_lists else 0.0


def new_version(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H-%M-%SZ") + "-" + secrets.token_hex(2)


def library_versions() -> dict:
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "joblib": joblib.__version__}


def render_report(metadata: dict) -> str:
    metrics = metadata["metrics"]
    lines = [
        f"# Draftguard model {metadata['version']}",
        "",
        f"Created {metadata['created']} from {metadata['train_examples']} training drafts "
        f"(data sha256 {metadata['data_hash'][:12]}…) in {metadata['training_seconds']} s.",
        f"Evaluated on {metrics['examples']} held-out drafts ({metadata['test_source']}).",
        "",
        "| category | threshold | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for category, m in metrics["per_category"].items():
        threshold = metadata["thresholds"].get(category, "—")
        lines.append(f"| {category} | {threshold} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    micro = metrics["micro"]
    lines += [
        f"| **micro** | | {micro['precision']:.3f} | {micro['recall']:.3f} | **{micro['f1']:.3f}** | |",
        "",
        f"- Clean drafts flagged: {metrics['clean_flagged_rate']:.1%} of {metrics['clean_examples']}",
    ]
    if metrics.get("hard_negative_flagged_rate") is not None:
        lines.append(f"- Hard negatives flagged: {metrics['hard_negative_flagged_rate']:.1%}")
    if metrics.get("risky_caught_rate") is not None:
        lines.append(f"- Risky drafts with at least one warning: {metrics['risky_caught_rate']:.1%}")
    lines += ["", "Library versions: " + ", ".join(f"{k} {v}" for k, v in metadata["libraries"].items()), ""]
    return "\n".join(lines)


def train_and_register(
    registry: Registry,
    pack: PolicyPack,
    train_paths: Sequence[Path],
    test_path: Path,
    extra_examples: Sequence[Example] = (),
    activate: bool = False,
    seed: int = 0,
    progress: Progress = _quiet,
) -> dict:
    """Validate, fit, evaluate and register a new model version; return its metadata.

    Nothing is written until every input has been validated and the model has been evaluated.
    """
    started = time.monotonic()
    progress("validating data", 0.02)
    categories = pack.category_ids
    examples = read_corpus(train_paths, categories) + list(extra_examples)
    test_examples = read_corpus([test_path], categories)

    def fold_done(done: int, total: int) -> None:
        progress(f"choosing thresholds (fold {done} of {total})", 0.05 + 0.6 * done / total)

    progress("choosing thresholds", 0.05)
    model = classifier.fit([e.text for e in examples], [e.labels for e in examples], categories,
                           groups=[e.group for e in examples], seed=seed, progress=fold_done)
    progress("evaluating on held-out drafts", 0.8)
    evaluation = evaluate(model, test_examples, pack)
    progress("writing the model", 0.9)
    now = datetime.now(timezone.utc)
    metadata = {
        "created": now.isoformat(timespec="seconds"),
        "data_hash": data_hash(examples),
        "train_examples": len(examples),
        "test_source": str(test_path.name),
        "categories": list(model.categories),
        "thresholds": model.thresholds,
        "metrics": evaluation.metrics,
        "libraries": library_versions(),
        "policy_version": pack.version,
        "seed": seed,
        "training_seconds": round(time.monotonic() - started, 1),
    }
    version = new_version(now)
    metadata = registry.add(version, model, {**metadata, "version": version},
                            render_report({**metadata, "version": version}), activate=activate)
    progress("done", 1.0)
    return metadata
