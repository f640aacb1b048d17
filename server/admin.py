"""The admin API (bearer token) and console."""
from __future__ import annotations

from flask import Blueprint, jsonify

from server.web import require_token, state

bp = Blueprint("admin", __name__)


@bp.get("/v1/admin/feedback")
@require_token("ADMIN_TOKEN", closed_when_unset=True)
def list_feedback():
    return jsonify({"items": state("store").list_feedback()})
