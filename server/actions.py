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

from engine import classifier
from engine.classifier import ModelIntegrityError
from engine.dataset import DatasetError, Example, RowError, duplicate_key, parse_examples
from engine.fileio import StorageError
from engine.policy import PolicyError, PolicyPack, parse_pack
from engine.registry import RegistryError
from server import evaluation
from server.storage import Conflict, NotFound
from server.web import ApiError, state

UPLOAD_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@contextmanager
def _storage_refusals() -> Iterator[None]:
    """The storage's refusals as the statuses every surface shows."""
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
    pack = state("policy").current()
    examples = parse_examples(data, filename, pack.category_ids, fmt=fmt, group="upload", aliases=pack.label_aliases)
    if not examples:
        raise DatasetError([RowError(filename, 0, "the file holds no examples")])
    stored = state("storage").examples.stored_ids(e.text for e in examples)
    if stored:
        raise DatasetError([RowError(filename, e.line, f"already stored as example #{stored[duplicate_key(e.text)]}")
                            for e in examples if duplicate_key(e.text) in stored])
    return examples


def import_examples(examples: Sequence[Example], source: str, actor: str) -> int:
    with _storage_refusals():
        return state("storage").examples.add(examples, source, actor)


def delete_example(example_id: int, actor: str) -> None:
    with _storage_refusals():
        state("storage").examples.delete(example_id, actor)


# --- feedback review -----------------------------------------------------------------------

def label_feedback(feedback_id: int, labels: Sequence[str], actor: str) -> int:
    """The feedback's text becomes a training example with these labels ([] means clean)."""
    labels = _known_categories(labels)
    with _storage_refusals():
        return state("storage").feedback.label(feedback_id, labels, actor)


def discard_feedback(feedback_id: int, actor: str) -> None:
    with _storage_refusals():
        state("storage").feedback.discard(feedback_id, actor)


# --- policy pack ---------------------------------------------------------------------------

def _current_pack_at(version: int) -> PolicyPack:
    current = state("policy").current()
    if version != current.version:
        raise ApiError(409, f"the policy changed since version {version} was read (it is now version "
                            f"{current.version}); reload it and apply your edit again")
    return current


def save_policy(pack: PolicyPack, actor: str) -> tuple[PolicyPack, list[str]]:
    """Save an edited pack as the next version; return it with warnings about what the active
    model cannot score. `pack.version` must be the version the admin started from, so two
    admins editing at once cannot silently overwrite each other. A category that stored
    examples are labelled with cannot be deleted (the next training would fail on them)."""
    current = _current_pack_at(pack.version)
    labelled = state("storage").examples.label_counts()
    in_use = {c: labelled[c] for c in sorted(set(current.category_ids) - set(pack.category_ids)) if labelled.get(c)}
    if in_use:
        raise ApiError(409, "cannot delete " + ", ".join(f"{c} ({n} stored examples are labelled with it)"
                                                          for c, n in in_use.items())
                       + ": relabel or delete those examples first, or rename the category instead")
    saved = pack.model_copy(update={"version": current.version + 1})
    state("policy").save(saved)
    before = {t.term for t in current.terms}
    after = {t.term for t in saved.terms}
    try:
        state("storage").audit.record(actor, "policy.edit", {
            "version": saved.version,
            "categories_changed": [c.id for c in saved.categories if c not in current.categories],
            "categories_removed": sorted(set(current.category_ids) - set(saved.category_ids)),
            "terms_added": sorted(after - before),
            "terms_removed": sorted(before - after),
        })
    except StorageError:
        state("policy").save(current)  # an edit without its audit entry would be half a change
        raise
    return saved, policy_warnings(saved)


def rename_category(old: str, new: str, version: int, actor: str) -> tuple[PolicyPack, dict[str, int]]:
    """Rename category `old` to `new` everywhere: the pack (its terms and detectors follow),
    stored examples and feedback. Corpus files and models made before keep counting for it
    through the category's former ids. Returns the saved pack and how many rows were relabelled."""
    current = _current_pack_at(version)
    if old not in current.category_ids:
        raise ApiError(404, f"no category {old!r}")
    renamed = current.category(old)
    taken = {i for c in current.categories if c.id != old for i in c.ids}
    if new in taken or new == old:
        raise ApiError(409, f"the id {new!r} is already used by a category (now or before a rename)")
    update = {
        "version": current.version + 1,
        "categories": [c.model_copy(update={"id": new, "formerly": [old] + [f for f in c.formerly if f != new]})
                       if c.id == old else c for c in current.categories],
        "terms": [t.model_copy(update={"category": new}) if t.category == old else t for t in current.terms],
        "detectors": {name: new if category == old else category for name, category in current.detectors.items()},
    }
    try:
        saved = parse_pack(current.model_copy(update=update).model_dump())
    except PolicyError as exc:  # the new id's shape
        raise ApiError(400, str(exc)) from None
    # The pack first: through its former ids, rows not yet relabelled still count for it.
    state("policy").save(saved)
    relabelled = state("storage").labels.rename(old, new, actor, {"from": old, "to": new, "version": saved.version,
                                                                   "title": renamed.title})
    return saved, relabelled


def policy_warnings(pack: PolicyPack) -> list[str]:
    """What the pack asks that the active model cannot give: categories without a model score,
    scores without a category."""
    loaded = state("model").current()
    if loaded is None:
        return []
    model = loaded.value
    columns = classifier.model_columns(model, pack)
    warnings = [f"{c.id} has no model score: only detectors and company terms flag it until a model is trained "
                "with examples labelled with it (upload them, then train)"
                for c in pack.categories if c.id not in columns]
    claimed = {model.categories[i] for i in columns.values()}
    ignored = [c for c in model.categories if c not in claimed]
    if ignored:
        warnings.append(f"the active model scores {', '.join(ignored)}, which the pack no longer has: "
                        "those scores are ignored")
    return warnings


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
    state("storage").audit.record(actor, "model.promote" if newer else "model.rollback",
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
        return evaluation.compare(candidate, baseline, registry, state("storage").evaluations, state("policy").current(),
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
    storage = state("storage")
    rows = {(first + timedelta(days=i)).isoformat(): _empty_day() for i in range(days)}
    for row in storage.counts.since(first.isoformat()):
        day = rows.setdefault(row["day"], _empty_day())
        metric = row["metric"]
        if metric.startswith("flagged:"):
            day["by_category"][metric.split(":", 1)[1]] = row["count"]
        elif metric.startswith("composers:") and metric.count(":") == 3:
            _, platform, surface, rule = metric.split(":")
            day["composers"].setdefault(platform, {}).setdefault(surface, {"specific": 0, "fallback": 0})[rule] = row["count"]
        elif metric in day:
            day[metric] = row["count"]
    for row in storage.feedback.daily(first.isoformat()):
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
