"""What an admin can do and see, shared by the JSON admin API, the console and the CLI.

Each action validates everything first, then changes state and records who did what in the
audit log. Problems leave as ApiError (a status and a message every surface can show) or, for
uploads, as DatasetError listing every bad row; either way nothing has been written.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional, Sequence

from flask import current_app

from server import evaluation
from server.classifier import ModelIntegrityError
from server.policy import PolicyPack
from server.registry import RegistryError
from server.store import Conflict, NotFound
from server.web import ApiError, state
from train.dataset import DatasetError, Example, RowError, duplicate_key, parse_examples

UPLOAD_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@contextmanager
def _store_refusals() -> Iterator[None]:
    """The store's refusals as the statuses every surface shows."""
    try:
        yield
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except Conflict as exc:  # e.g. stored or reviewed by someone else since the page was read
        raise ApiError(409, str(exc)) from None


def _known_categories(labels: Sequence[str]) -> list[str]:
    known = state("policy").current().category_ids
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise ApiError(400, f"unknown categories: {', '.join(unknown)}; known: {', '.join(known)}")
    return sorted(set(labels))


# --- examples ------------------------------------------------------------------------------

def parse_upload(data: bytes, filename: str, fmt: Optional[str] = None) -> list[Example]:
    """Validate uploaded examples as a whole: every row's problems, or the examples.

    The format follows the file name (.csv or .jsonl) unless given. A file over the size limit
    is refused before it is parsed (ApiError 413)."""
    limit = current_app.config["ADMIN_UPLOAD_MAX_BYTES"]
    if len(data) > limit:
        raise ApiError(413, f"{filename} has {len(data):,} bytes; the limit is {limit:,}: split it into smaller files")
    fmt = fmt or UPLOAD_FORMATS.get(Path(filename).suffix.lower())
    if fmt is None:
        raise DatasetError([RowError(filename, 0, "unsupported file type: upload a .csv or .jsonl file")])
    examples = parse_examples(data, filename, state("policy").current().category_ids, fmt=fmt, group="upload")
    if not examples:
        raise DatasetError([RowError(filename, 0, "the file holds no examples")])
    stored = state("store").stored_example_ids(e.text for e in examples)
    if stored:
        raise DatasetError([RowError(filename, e.line, f"already stored as example #{stored[duplicate_key(e.text)]}")
                            for e in examples if duplicate_key(e.text) in stored])
    return examples


def import_examples(examples: Sequence[Example], source: str, actor: str) -> int:
    with _store_refusals():
        return state("store").add_examples(examples, source, actor)


def delete_example(example_id: int, actor: str) -> None:
    with _store_refusals():
        state("store").delete_example(example_id, actor)


# --- feedback review -----------------------------------------------------------------------

def label_feedback(feedback_id: int, labels: Sequence[str], actor: str) -> int:
    """The feedback's text becomes a training example with these labels ([] means clean)."""
    labels = _known_categories(labels)
    with _store_refusals():
        return state("store").label_feedback(feedback_id, labels, actor)


def discard_feedback(feedback_id: int, actor: str) -> None:
    with _store_refusals():
        state("store").discard_feedback(feedback_id, actor)


# --- policy pack ---------------------------------------------------------------------------

def save_policy(pack: PolicyPack, actor: str) -> PolicyPack:
    """Save an edited pack as the next version. `pack.version` must be the version the admin
    started from, so two admins editing at once cannot silently overwrite each other."""
    current = state("policy").current()
    if pack.version != current.version:
        raise ApiError(409, f"the policy changed since version {pack.version} was read (it is now version "
                            f"{current.version}); reload it and apply your edit again")
    saved = pack.model_copy(update={"version": current.version + 1})
    state("policy").save(saved)
    before = {t.term for t in current.terms}
    after = {t.term for t in saved.terms}
    state("store").record(actor, "policy.edit", {
        "version": saved.version,
        "categories_changed": [c.id for c in saved.categories if c not in current.categories],
        "categories_removed": sorted(set(current.category_ids) - set(saved.category_ids)),
        "terms_added": sorted(after - before),
        "terms_removed": sorted(before - after),
    })
    return saved


# --- model versions ------------------------------------------------------------------------

def activate_model(version: str, actor: str) -> str:
    """Make a version active (promote a candidate or roll back); return the one it replaced.

    The artifact is loaded and its sha256 checked first, so a broken version is refused here
    rather than left for every worker to reject."""
    registry = state("registry")
    created = {v["version"]: v.get("created", "") for v in registry.versions()}
    if version not in created:
        raise ApiError(404, f"no model version {version!r}")
    try:
        registry.load(version)
    except Exception as exc:  # integrity error, missing or unreadable artifact
        raise ApiError(409, f"version {version} cannot be loaded, so it was not activated: {exc}") from None
    previous = registry.active_version()
    try:
        registry.activate(version)
    except RegistryError as exc:
        raise ApiError(409, str(exc)) from None
    newer = previous is None or created[version] >= created.get(previous, "")
    state("store").record(actor, "model.promote" if newer else "model.rollback",
                          {"version": version, "previous": previous})
    return previous


def comparison(candidate: str, baseline: Optional[str] = None) -> dict:
    """The candidate's evaluation beside the baseline's (default: the active model's)."""
    registry = state("registry")
    baseline = baseline or registry.active_version()
    known = {v["version"] for v in registry.versions()}
    for version in (candidate, baseline):
        if version not in known:
            raise ApiError(404, f"no model version {version!r}")
    try:
        return evaluation.compare(candidate, baseline, registry, state("store"), state("policy").current(),
                                  current_app.config["TEST_DATA"])
    except DatasetError as exc:
        raise ApiError(503, f"the held-out data cannot be read: {exc}") from None
    except (RegistryError, ModelIntegrityError, OSError) as exc:
        raise ApiError(409, f"cannot evaluate: {exc}") from None


# --- statistics (counts only) --------------------------------------------------------------

FEEDBACK_KINDS = ("dismissed", "false_positive", "missed")


def statistics(days: int) -> dict:
    """Per day: checks, flagged checks (overall and per category) and feedback reports, with
    dismiss and false-alarm rates per flagged check, and the composers the extension recognised
    per platform, surface and rule. Numbers only, never texts."""
    first = datetime.now(timezone.utc).date() - timedelta(days=days - 1)  # counts are kept per UTC day
    store = state("store")
    rows = {(first + timedelta(days=i)).isoformat(): _empty_day() for i in range(days)}
    for row in store.daily_counts(first.isoformat()):
        day = rows.setdefault(row["day"], _empty_day())
        metric = row["metric"]
        if metric.startswith("flagged:"):
            day["by_category"][metric.split(":", 1)[1]] = row["count"]
        elif metric.startswith("composers:") and metric.count(":") == 3:
            _, platform, surface, rule = metric.split(":")
            day["composers"].setdefault(platform, {}).setdefault(surface, {"specific": 0, "fallback": 0})[rule] = row["count"]
        elif metric in day:
            day[metric] = row["count"]
    for row in store.feedback_daily(first.isoformat()):
        rows.setdefault(row["day"], _empty_day())[row["kind"]] = row["count"]
    totals = _empty_day()
    for day in rows.values():
        for key in ("checks", "flagged", *FEEDBACK_KINDS):
            totals[key] += day[key]
        for category, count in day["by_category"].items():
            totals["by_category"][category] = totals["by_category"].get(category, 0) + count
        for platform, surfaces in day["composers"].items():
            for surface, rules in surfaces.items():
                total = totals["composers"].setdefault(platform, {}).setdefault(surface, {"specific": 0, "fallback": 0})
                for rule, count in rules.items():
                    total[rule] = total.get(rule, 0) + count
    return {"since": first.isoformat(),
            "days": [{"day": d, **_with_rates(v)} for d, v in sorted(rows.items())],
            "totals": _with_rates(totals)}


def _empty_day() -> dict:
    return {"checks": 0, "flagged": 0, "by_category": {}, **{kind: 0 for kind in FEEDBACK_KINDS},
            # composers the extension recognised: {platform: {surface: {"specific": n, "fallback": n}}}
            "composers": {}}


def _with_rates(day: dict) -> dict:
    flagged = day["flagged"]
    return {**day,
            "dismiss_rate": round(day["dismissed"] / flagged, 4) if flagged else None,
            "false_alarm_rate": round(day["false_positive"] / flagged, 4) if flagged else None}
