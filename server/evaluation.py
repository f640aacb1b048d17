"""Candidate versus active: two model versions evaluated on the same held-out drafts.

Evaluating a version means scoring every held-out draft with the full decision employees get
(train.training.evaluate). The result depends only on the version, the held-out file and the
policy pack, so it is cached in the database under a key made of the latter two; the training job
fills the cache for its candidate and the active model, so the compare page usually opens at once.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from engine.dataset import Example, read_corpus
from engine.policy import PolicyPack
from engine.registry import Registry
from server.storage.evaluations import EvaluationCache
from train.training import evaluate


def data_key(test_path: Path, pack: PolicyPack) -> str:
    digest = hashlib.sha256(Path(test_path).read_bytes())
    digest.update(pack.model_dump_json().encode())
    return digest.hexdigest()


def held_out(test_path: Path, pack: PolicyPack) -> list[Example]:
    return read_corpus([test_path], pack.category_ids, pack.label_aliases)


def evaluation(version: str, registry: Registry, cache: EvaluationCache, pack: PolicyPack, test_path: Path) -> dict:
    """{"metrics": ..., "flagged": [categories flagged per held-out draft, in file order]}."""
    key = data_key(test_path, pack)
    cached = cache.get(version, key)
    if cached is not None:
        return cached
    result = evaluate(registry.load(version), held_out(test_path, pack), pack)
    cached = {"metrics": result.metrics, "flagged": result.flagged}
    cache.save(version, key, cached)
    return cached


def _outcome(truth: set, before: set, after: set) -> str:
    if after == truth and before != truth:
        return "fixed"
    if before == truth and after != truth:
        return "broken"
    return "changed"


def compare(candidate: str, baseline: str, registry: Registry, cache: EvaluationCache, pack: PolicyPack,
            test_path: Path) -> dict:
    """Per-category precision/recall/F1 of both versions, clean drafts flagged, and every
    held-out draft whose flagged categories differ between them."""
    new = evaluation(candidate, registry, cache, pack, test_path)
    old = evaluation(baseline, registry, cache, pack, test_path)
    categories = []
    for category in pack.categories:
        categories.append({
            "id": category.id,
            "title": category.title,
            "candidate": new["metrics"]["per_category"][category.id],
            "baseline": old["metrics"]["per_category"][category.id],
        })
    changed = []
    for example, before, after in zip(held_out(test_path, pack), old["flagged"], new["flagged"]):
        if set(before) != set(after):
            truth = set(example.labels)
            changed.append({"id": example.id, "text": example.text, "labels": sorted(truth),
                            "baseline": sorted(before), "candidate": sorted(after),
                            "outcome": _outcome(truth, set(before), set(after))})
    return {
        "candidate": candidate,
        "baseline": baseline,
        "test_source": Path(test_path).name,
        "examples": new["metrics"]["examples"],
        "categories": categories,
        "micro": {"candidate": new["metrics"]["micro"], "baseline": old["metrics"]["micro"]},
        "clean_flagged_rate": {"candidate": new["metrics"]["clean_flagged_rate"],
                               "baseline": old["metrics"]["clean_flagged_rate"]},
        "clean_examples": new["metrics"]["clean_examples"],
        "changed": changed,
        "outcomes": {k: sum(c["outcome"] == k for c in changed) for k in ("fixed", "broken", "changed")},
        # What the candidate learnt from the company's own uploads: recall on held-out parts.
        "company_holdout": registry.metadata(candidate).get("company_holdout"),
    }
