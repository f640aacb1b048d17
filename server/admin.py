"""The JSON admin API under /v1/admin/*: bearer token (DRAFTGUARD_ADMIN_TOKEN; closed when unset).

Scripts and tests drive the whole admin loop through it; the console (server/console.py) offers
the same to people. Both call the admin service (server/service/), so they cannot drift apart;
its refusals become JSON errors in server/web.py. This module only speaks HTTP: query
parameters, bodies, statuses.
"""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from engine.policy import PolicyPack
from server.extensions import limiter
from server.web import ApiError, json_body, require_token, service

bp = Blueprint("admin", __name__, url_prefix="/v1/admin")

# The audit log's "who" for everything done with the shared admin token.
ACTOR = "admin-api-token"
# Requests to these endpoints may be as large as an upload; every other request keeps the
# check API's small limit.
UPLOAD_ENDPOINTS = {"admin.add_examples", "console.preview_upload"}
MULTIPART_OVERHEAD = 64 * 1024


def allow_large_uploads() -> None:
    """Before-request hook, registered ahead of CSRF protection (which reads the form)."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        request.max_content_length = current_app.config["ADMIN_UPLOAD_MAX_BYTES"] + MULTIPART_OVERHEAD


@bp.before_request
@require_token("ADMIN_TOKEN", closed_when_unset=True)
def _authenticate() -> None:
    """Every route of this blueprint needs the admin token; none can forget it."""


# Wrong or missing tokens count against a per-client limit; past it, the client gets 429 for
# the rest of the window, right token or not, so guessing the token is slow.
limiter.limit(lambda: current_app.config["ADMIN_AUTH_FAILURE_LIMIT"],
              exempt_when=lambda: not current_app.config["ADMIN_AUTH_FAILURE_LIMIT"],
              deduct_when=lambda response: response.status_code in (401, 403))(bp)


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name} must be a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, f"query parameter {name} must be between {low} and {high}")
    return value


# --- feedback review -----------------------------------------------------------------------

class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[StrictStr] = Field(max_length=32)  # [] labels the text clean


@bp.get("/feedback")
def list_feedback():
    items = service().feedback(request.args.get("status"))
    return jsonify({"items": items, "summary": service().feedback_summary()})


@bp.post("/feedback/<int:feedback_id>/label")
def label_feedback(feedback_id: int):
    body = json_body(LabelRequest)
    example_id = service().label_feedback(feedback_id, body.labels, ACTOR)
    return jsonify({"feedback_id": feedback_id, "example_id": example_id}), 201


@bp.post("/feedback/<int:feedback_id>/discard")
def discard_feedback(feedback_id: int):
    service().discard_feedback(feedback_id, ACTOR)
    return jsonify({"feedback_id": feedback_id, "status": "discarded"})


# --- examples ------------------------------------------------------------------------------

class ExamplesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each item is validated like a JSONL row (text, labels, optional id), row errors and all.
    examples: list[dict] = Field(min_length=1)


@bp.get("/examples")
def list_examples():
    items, total = service().examples_page(query_int("limit", 50, 1, 1000), query_int("offset", 0, 0, 10**9))
    return jsonify({"items": items, "total": total, "labels": service().example_labels()})


@bp.post("/examples")
def add_examples():
    """JSON {"examples": [...]} or a multipart CSV/JSONL `file`; all rows stored, or none."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "send the CSV or JSONL file in the multipart field `file`")
        data, name, fmt = upload.read(), upload.filename[:200], None
    else:
        body = json_body(ExamplesRequest)
        # As JSONL, so an item's problems are reported by its position (line = item number).
        data = "\n".join(json.dumps(item, ensure_ascii=False) for item in body.examples).encode()
        name, fmt = "examples", "jsonl"
    examples = service().parse_upload(data, name, fmt)
    stored = service().import_examples(examples, f"upload:{name}" if fmt is None else "api", ACTOR)
    return jsonify({"stored": stored}), 201


@bp.delete("/examples/<int:example_id>")
def delete_example(example_id: int):
    service().delete_example(example_id, ACTOR)
    return jsonify({"deleted": example_id})


# --- policy pack ---------------------------------------------------------------------------

@bp.get("/policy")
def get_policy():
    return jsonify(service().current_policy().model_dump())


@bp.put("/policy")
def put_policy():
    """The whole pack, with the `version` it was read at; saved as the next version."""
    saved, warnings = service().save_policy(json_body(PolicyPack), ACTOR)
    return jsonify({"policy": saved.model_dump(), "warnings": warnings})


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=32)
    version: int = Field(ge=1)


@bp.post("/policy/categories/<category_id>/rename")
def rename_category(category_id: str):
    """Rename a category in the pack, its terms and detectors, stored examples and feedback."""
    body = json_body(RenameRequest)
    saved, relabelled = service().rename_category(category_id, body.to, body.version, ACTOR)
    return jsonify({"policy": saved.model_dump(), "relabelled": relabelled, "warnings": service().policy_warnings(saved)})


# --- training ------------------------------------------------------------------------------

@bp.post("/train")
def train():
    job_id = service().start_training(ACTOR)
    return jsonify({"job_id": job_id}), 202, {"Location": f"/v1/admin/jobs/{job_id}"}


@bp.get("/jobs")
def list_jobs():
    return jsonify({"items": service().recent_jobs()})


@bp.get("/jobs/<job_id>")
def job(job_id: str):
    return jsonify(service().job_status(job_id))


# --- model versions ------------------------------------------------------------------------

@bp.get("/models")
def list_models():
    return jsonify({"active": service().active_model_version(), "items": service().model_versions()})


@bp.post("/models/<version>/activate")
def activate(version: str):
    previous = service().activate_model(version, ACTOR)
    return jsonify({"active": version, "previous": previous})


@bp.get("/models/<version>/compare")
def compare(version: str):
    return jsonify(service().comparison(version, request.args.get("baseline")))


# --- statistics and audit ------------------------------------------------------------------

@bp.get("/stats")
def stats():
    return jsonify(service().statistics(query_int("days", 30, 1, 366)))


@bp.get("/audit")
def audit():
    items, total = service().audit_page(query_int("limit", 100, 1, 1000), query_int("offset", 0, 0, 10**9))
    return jsonify({"items": items, "total": total})
