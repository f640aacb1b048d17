"""The training pipeline: validated examples in, a registered model version out.

Used by `python -m train` and by the admin console's background jobs alike.
"""
from __future__ import annotations

import platform
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

import joblib
import numpy as np
import scipy
import sklearn

from engine import classifier, textnorm
from engine.dataset import Example, data_hash, read_corpus
from engine.policy import PolicyPack
from engine.registry import Registry

Progress = Callable[[str, float], None]


def _quiet(stage: str, fraction: float) -> None:
    pass


@dataclass
class Evaluation:
    metrics: dict
    flagged: list[list[str]]  # the categories flagged for each evaluated example, in order


# Breakdowns the report gives besides the per-category figures.
LENGTHS = (("short (<120)", 0, 120), ("medium (120-400)", 120, 400), ("long (>400)", 400, None))
SURFACES = ("post", "comment", "message")


def evaluate(model: classifier.Model, examples: Sequence[Example], pack: PolicyPack) -> Evaluation:
    """Per-category precision/recall/F1, micro averages and clean drafts flagged — measured on
    the full decision employees get (model, detectors, company terms, thresholds) — and the
    same by draft length and by surface."""
    verdicts = classifier.predict_many(model, [e.text for e in examples], pack)
    flagged = [v.flagged_ids for v in verdicts]
    metrics = _metrics(examples, flagged, pack.category_ids)
    metrics["by_length"] = {}
    for name, low, high in LENGTHS:
        chosen = [i for i, e in enumerate(examples) if len(e.text) >= low and (high is None or len(e.text) < high)]
        metrics["by_length"][name] = _slice_metrics(examples, flagged, chosen, pack.category_ids)
    metrics["by_surface"] = {}
    for surface in SURFACES:
        chosen = [i for i, e in enumerate(examples) if e.extra.get("surface") == surface]
        if chosen:
            metrics["by_surface"][surface] = _slice_metrics(examples, flagged, chosen, pack.category_ids)
    return Evaluation(metrics, flagged)


def _slice_metrics(examples: Sequence[Example], flagged: list[list[str]], chosen: list[int],
                   categories: Sequence[str]) -> dict:
    full = _metrics([examples[i] for i in chosen], [flagged[i] for i in chosen], categories)
    return {k: full[k] for k in ("examples", "micro", "clean_flagged_rate", "risky_caught_rate")} | \
        {"recall": full["micro"]["recall"]}


def _metrics(examples: Sequence[Example], flagged: list[list[str]], categories: Sequence[str]) -> dict:
    per_category = {}
    totals = np.zeros(3)
    for category in categories:
        truth = np.array([category in e.labels for e in examples], dtype=bool)
        guess = np.array([category in f for f in flagged], dtype=bool)
        tp, fp, fn = int(np.sum(truth & guess)), int(np.sum(~truth & guess)), int(np.sum(truth & ~guess))
        totals += (tp, fp, fn)
        per_category[category] = {**_prf(tp, fp, fn), "support": int(truth.sum())}
    clean = [f for e, f in zip(examples, flagged) if not e.labels]
    hard = [f for e, f in zip(examples, flagged) if not e.labels and e.extra.get("kind") == "hard_negative"]
    risky = [(e, f) for e, f in zip(examples, flagged) if e.labels]
    return {
        "examples": len(examples),
        "per_category": per_category,
        "micro": _prf(*map(int, totals)),
        "clean_examples": len(clean),
        "clean_flagged_rate": _share(clean),
        "hard_negative_flagged_rate": _share(hard) if hard else None,
        "risky_caught_rate": round(sum(bool(f) for _, f in risky) / len(risky), 4) if risky else None,
    }


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


def _table(rows: dict, title: str) -> list[str]:
    lines = [f"| {title} | drafts | precision | recall | F1 | clean flagged | risky caught |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, m in rows.items():
        caught = "—" if m["risky_caught_rate"] is None else f"{m['risky_caught_rate']:.1%}"
        lines.append(f"| {name} | {m['examples']} | {m['micro']['precision']:.3f} | {m['micro']['recall']:.3f} | "
                     f"{m['micro']['f1']:.3f} | {m['clean_flagged_rate']:.1%} | {caught} |")
    return lines


def render_metrics(metrics: dict, thresholds: dict, long_thresholds: dict) -> list[str]:
    """One evaluation as Markdown: per category, micro, clean and hard negatives flagged, and
    the breakdowns by length and surface."""
    lines = [
        "| category | threshold (short / long) | precision | recall | F1 | support |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for category, m in metrics["per_category"].items():
        threshold = f"{thresholds.get(category, '—')} / {long_thresholds.get(category, '—')}"
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
    for key, title in (("by_length", "length (characters)"), ("by_surface", "surface")):
        if metrics.get(key):
            lines += [""] + _table(metrics[key], title)
    return lines


def render_report(metadata: dict) -> str:
    metrics = metadata["metrics"]
    lines = [
        f"# Draftguard model {metadata['version']}",
        "",
        f"Created {metadata['created']} from {metadata['train_examples']} training drafts "
        f"(data sha256 {metadata['data_hash'][:12]}…) in {metadata['training_seconds']} s.",
        "",
        f"## Held-out writers: {metrics['examples']} drafts ({metadata['test_source']})",
        "",
        *render_metrics(metrics, metadata["thresholds"], metadata.get("long_thresholds", {})),
    ]
    for secondary in metadata.get("secondary_tests", []):
        lines += ["", f"## Secondary: {secondary['metrics']['examples']} drafts ({secondary['source']})", "",
                  *render_metrics(secondary["metrics"], metadata["thresholds"], metadata.get("long_thresholds", {}))]
    company = metadata.get("company_holdout")
    if company:
        lines += ["", "## Company examples",
                  "", f"Recall on held-out parts of the {company['examples']} uploaded examples (each part "
                  f"scored by a model trained on the rest, weight {company['weight']}): "
                  f"{company['recall']:.1%} of {company['labels']} labels."]
    lines += ["", "Library versions: " + ", ".join(f"{k} {v}" for k, v in metadata["libraries"].items()), ""]
    return "\n".join(lines)


# An admin's own examples count this many times a default-corpus draft: a few dozen of them
# must be able to teach the model a new codename among ten thousand default drafts.
COMPANY_WEIGHT = 5.0


def company_holdout(model: classifier.Model, extra: Sequence[Example]) -> Optional[dict]:
    """Recall on the uploaded examples' out-of-fold scores (each scored by a model that learnt
    from the rest of the upload)."""
    if not extra or model.out_of_fold is None:
        return None
    scores = model.out_of_fold[-len(extra):]
    column = {c: i for i, c in enumerate(model.categories)}
    hits = labels = 0
    for example, row in zip(extra, scores):
        for label in example.labels:
            if label in column:
                labels += 1
                thresholds = model.thresholds_for(classifier.window_plan(textnorm.normalize_text(example.text)))
                hits += row[column[label]] >= thresholds[label]
    if not labels:
        return None
    return {"examples": len(extra), "labels": labels, "recall": round(hits / labels, 4), "weight": COMPANY_WEIGHT}


def train_and_register(
    registry: Registry,
    pack: PolicyPack,
    train_paths: Sequence[Path],
    test_path: Path,
    extra_examples: Sequence[Example] = (),
    activate: bool = False,
    seed: int = 0,
    progress: Progress = _quiet,
    secondary_test_paths: Sequence[Path] = (),
) -> dict:
    """Validate, fit, evaluate and register a new model version; return its metadata.

    `test_path` holds drafts by writers the training data never saw: its figures come first.
    Nothing is written until every input has been validated and the model has been evaluated.
    """
    started = time.monotonic()
    progress("validating data", 0.02)
    registry.read_index()  # a registry that cannot take the result fails the job before training
    categories, aliases = pack.category_ids, pack.label_aliases
    corpus = read_corpus(train_paths, categories, aliases)
    # Stored examples labelled before a category was renamed count for its new id.
    extra = [replace(e, labels=tuple(sorted({aliases.get(label, label) for label in e.labels})))
             for e in extra_examples]
    examples = corpus + extra
    test_examples = read_corpus([test_path], categories, aliases)
    secondary = [(Path(p), read_corpus([p], categories, aliases)) for p in secondary_test_paths if Path(p).exists()]

    def fitting(stage: str, fraction: float) -> None:
        progress(f"choosing thresholds: {stage}" if "fold" in stage else stage, 0.05 + 0.75 * fraction)

    weights = [1.0] * len(corpus) + [COMPANY_WEIGHT] * len(extra)
    model = classifier.fit([e.text for e in examples], [e.labels for e in examples], categories,
                           groups=[e.group for e in examples], seed=seed, progress=fitting,
                           sample_weight=weights if extra else None)
    progress("evaluating on held-out writers", 0.8)
    evaluation = evaluate(model, test_examples, pack)
    secondary_tests = [{"source": path.name, "metrics": evaluate(model, rows, pack).metrics} for path, rows in secondary]
    progress("writing the model", 0.9)
    now = datetime.now(timezone.utc)
    metadata = {
        "created": now.isoformat(timespec="seconds"),
        "data_hash": data_hash(examples),
        "train_examples": len(examples),
        "train_writers": len({e.group for e in corpus}),
        "test_source": str(test_path.name),
        "categories": list(model.categories),
        "thresholds": model.thresholds,
        "long_thresholds": model.long_thresholds,
        "metrics": evaluation.metrics,
        "secondary_tests": secondary_tests,
        "company_holdout": company_holdout(model, extra),
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


def cross_validate_writers(pack: PolicyPack, train_paths: Sequence[Path], seed: int = 0,
                           progress: Progress = _quiet) -> dict:
    """Leave one writer out: for each writer, a model trained on every other writer scores the
    writer's drafts with the full decision. Each held-out writer's thresholds are chosen on the
    other writers' held-out scores, so no figure comes from a model or threshold fitted on it
    (the shared vocabulary and idf weights use no labels)."""
    categories = pack.category_ids
    examples = read_corpus(train_paths, categories, pack.label_aliases)
    writers = sorted({e.group for e in examples})
    if len(writers) < 3:
        raise ValueError(f"leave-one-writer-out needs at least 3 writers; the data has {len(writers)}")
    groups = np.asarray([e.group for e in examples])
    model_categories = tuple(c for c in categories if sum(c in e.labels for e in examples) >= 2)
    y = np.array([[c in e.labels for c in model_categories] for e in examples], dtype=np.int8)
    training = classifier.TrainingSet([e.text for e in examples])
    held_scores = np.zeros(y.shape)
    regressions = {}
    for number, writer in enumerate(writers):
        progress(f"training without {writer}", number / len(writers))
        inside, held = np.flatnonzero(groups != writer), np.flatnonzero(groups == writer)
        regressions[writer] = classifier.fit_classifier(training.X[inside], y[inside], seed)
        held_scores[held] = training.decisions(regressions[writer], held)
    result = {}
    for writer in writers:
        others = groups != writer
        thresholds, long_thresholds = classifier.choose_thresholds(y[others], held_scores[others],
                                                                   training.long[others], model_categories)
        model = classifier.Model(classifier.build_pipeline(training.features, regressions[writer]),
                                 model_categories, thresholds, long_thresholds)
        result[writer] = evaluate(model, [e for e in examples if e.group == writer], pack).metrics
    progress("done", 1.0)
    return result


def render_cross_validation(result: dict) -> str:
    lines = ["| held-out writer | drafts | precision | recall | micro-F1 | clean flagged | hard negatives flagged | long recall |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for writer, m in result.items():
        hard = m["hard_negative_flagged_rate"]
        hard_text = "—" if hard is None else f"{hard:.1%}"
        long = m["by_length"]["long (>400)"]
        long_text = f"{long['recall']:.3f}" if long["examples"] else "—"
        lines.append(f"| {writer.removeprefix('writer:')} | {m['examples']} | {m['micro']['precision']:.3f} | "
                     f"{m['micro']['recall']:.3f} | {m['micro']['f1']:.3f} | {m['clean_flagged_rate']:.1%} | "
                     f"{hard_text} | {long_text} |")
    f1 = [m["micro"]["f1"] for m in result.values()]
    lines += ["", f"Median micro-F1 over {len(f1)} held-out writers: {float(np.median(f1)):.3f} "
                  f"(lowest {min(f1):.3f}, highest {max(f1):.3f})."]
    return "\n".join(lines)
