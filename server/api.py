"""The extension's API: check a draft, read the policy, send feedback, report which composers
it recognised (counts only), health, and its OpenAPI document."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify

from engine import classifier
from server import openapi
from server.extensions import configured_limit
from server.schemas import CheckRequest, DiagnosticsRequest, FeedbackRequest
from server.web import ApiError, json_body, require_token, state

bp = Blueprint("api", __name__)


def _active_model():
    loaded = state("model").current()
    if loaded is None:
        raise ApiError(503, "no model is loaded yet; an administrator must train one (python -m train)")
    return loaded


@bp.post("/v1/check")
@configured_limit("CHECK_RATE_LIMIT")
@require_token("API_TOKEN", closed_when_unset=False)
def check():
    body = json_body(CheckRequest)
    limit = current_app.config["MAX_TEXT_CHARS"]
    if len(body.text) > limit:
        raise ApiError(413, f"text is {len(body.text)} characters; the limit is {limit}")
    loaded = _active_model()  # read once: the whole answer comes from this one model
    pack = state("policy").current()
    verdict = classifier.predict(loaded.value, body.text, pack)
    state("counter").count(verdict.flagged_ids)
    categories = []
    for result in verdict.categories:
        category = pack.category(result.id)
        categories.append({
            "id": result.id,
            "title": category.title,
            "score": result.score,
            "threshold": result.threshold,
            "flagged": result.flagged,
            "guidance": category.guidance,
            "policy_ref": category.policy_ref,
            "spans": [span.as_dict() for span in result.spans],
        })
    return jsonify({
        "flagged": verdict.flagged,
        "model_version": loaded.name,
        "policy_version": pack.version,
        "categories": categories,
    })


@bp.get("/v1/policy")
@require_token("API_TOKEN", closed_when_unset=False)
def policy():
    return jsonify(state("policy").current().public_view())


@bp.post("/v1/feedback")
@configured_limit("FEEDBACK_RATE_LIMIT")
@require_token("API_TOKEN", closed_when_unset=False)
def feedback():
    body = json_body(FeedbackRequest)
    known = set(state("policy").current().category_ids)
    unknown = sorted(set(body.categories) - known)
    if unknown:
        raise ApiError(400, f"unknown categories: {', '.join(unknown)}")
    if body.text is not None and len(body.text) > current_app.config["MAX_TEXT_CHARS"]:
        raise ApiError(413, f"text is longer than {current_app.config['MAX_TEXT_CHARS']} characters")
    feedback_id = state("storage").feedback.add(
        body.kind, body.categories, body.model_version, body.platform, body.surface,
        body.text if body.consent else None,
    )
    return jsonify({"id": feedback_id, "stored_text": body.text is not None}), 201


@bp.post("/v1/diagnostics")
@configured_limit("DIAGNOSTICS_RATE_LIMIT")
@require_token("API_TOKEN", closed_when_unset=False)
def diagnostics():
    """How many composers the extension recognised, per surface and rule; kept as daily counts
    so the admin statistics show when a site's markup changed (the fallback takes over)."""
    body = json_body(DiagnosticsRequest)
    counts: Counter = Counter()
    for item in body.composers:
        counts[f"composers:{body.platform}:{item.surface}:{item.rule}"] += item.count
    state("storage").counts.add(datetime.now(timezone.utc).date().isoformat(), dict(counts))
    return jsonify({"recorded": sum(counts.values())}), 201


@bp.get("/healthz")
def healthz():
    loaded = state("model").current()
    problems = [p for p in (state("model").problem, state("policy").problem, state("replica").problem,
                                  state("storage").database.storage_problem()) if p]
    if loaded is None:
        status, code = "unavailable", 503
    else:
        status, code = ("degraded" if problems else "ok"), 200
    return jsonify({
        "status": status,
        "model_version": loaded.name if loaded else None,
        "policy_version": state("policy").current().version,
        "detail": "; ".join(problems) or None,
    }), code


@bp.get("/v1/openapi.json")
@require_token("API_TOKEN", closed_when_unset=False)
def openapi_document():
    category_ids = tuple(state("policy").current().category_ids)
    return jsonify(openapi.document(current_app.config["MAX_TEXT_CHARS"], category_ids))
