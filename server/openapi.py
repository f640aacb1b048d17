"""The OpenAPI 3.1 document of the extension's API, served at GET /v1/openapi.json.

Every body schema is generated from the pydantic models in server/schemas.py (pydantic writes
JSON Schema 2020-12, the dialect OpenAPI 3.1 uses); this module adds the routes, the statuses
each one really answers, the bearer token, and what depends on this server: its text limit
and the active policy's category ids. tests/test_openapi.py and tests/test_openapi_live.py
hold it true.
"""
from __future__ import annotations

from functools import lru_cache

from pydantic.json_schema import models_json_schema

from server import schemas

SCHEMA_REF = "#/components/schemas/{model}"
TOKEN = [{"bearerAuth": []}, {}]  # the token is optional: the server decides (DRAFTGUARD_API_TOKEN)

ERRORS = {
    400: "The body is not a JSON object, or does not match the request schema; the message names each problem.",
    401: "The server requires a bearer token and the request has none.",
    403: "The bearer token is not the server's.",
    408: "The body arrived too slowly (the server's read timeout); send the request again.",
    413: "The text is longer than the server's limit, or the body is too large to read.",
    415: "The body is not sent with Content-Type: application/json.",
    429: "Too many requests from this client address; slow down and retry shortly.",
    503: "No model is loaded yet; an administrator must train one.",
}
# What a route that writes to the database may answer instead: nothing was saved.
STORAGE_ERRORS = {
    503: "The database cannot be reached (database_unavailable) or is read-only (storage_unavailable); "
         "nothing was saved. Checks keep working.",
    507: "The server's disk is full (insufficient_storage); nothing was saved.",
}


def _body(model: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model=model)}}}}


def _json_request(model: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model=model)}}}}


def _errors(*statuses: int) -> dict:
    return {str(status): _body("ErrorResponse", ERRORS[status]) for status in statuses}


def _storage_errors() -> dict:
    return {str(status): _body("ErrorResponse", description) for status, description in STORAGE_ERRORS.items()}


def _limit_text(schema: dict, max_chars: int) -> None:
    text = schema["properties"]["text"]
    for branch in text.get("anyOf", [text]):
        if branch.get("type") == "string":
            branch["maxLength"] = max_chars


@lru_cache(maxsize=16)  # one per category list the policy has had: a handful
def document(max_text_chars: int, category_ids: tuple[str, ...]) -> dict:
    _, generated = models_json_schema(
        [(schemas.CheckRequest, "validation"), (schemas.FeedbackRequest, "validation"),
         (schemas.DiagnosticsRequest, "validation"),
         (schemas.CheckResponse, "serialization"), (schemas.PolicyResponse, "serialization"),
         (schemas.FeedbackResponse, "serialization"), (schemas.DiagnosticsResponse, "serialization"),
         (schemas.HealthResponse, "serialization"),
         (schemas.ErrorResponse, "serialization")],
        ref_template=SCHEMA_REF)
    components = generated["$defs"]
    # This server's own: DRAFTGUARD_MAX_TEXT_CHARS, and the ids feedback may name (others get 400).
    _limit_text(components["CheckRequest"], max_text_chars)
    _limit_text(components["FeedbackRequest"], max_text_chars)
    components["FeedbackRequest"]["properties"]["categories"]["items"]["enum"] = list(category_ids)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Draftguard extension API",
            "version": "1",
            "description": "What the browser extension asks the company's Draftguard server. Every error is "
                           'JSON: {"error": {"status", "code", "message"}}. Drafts are never logged, and '
                           "feedback stores a draft's text only with the employee's consent.",
        },
        "paths": {
            "/v1/check": {"post": {
                "operationId": "check",
                "summary": "Check a draft against the company's social media policy",
                "security": TOKEN,
                "requestBody": _json_request("CheckRequest"),
                "responses": {"200": _body("CheckResponse", "Every policy category's score and decision."),
                              **_errors(400, 401, 403, 408, 413, 415, 429, 503)},
            }},
            "/v1/policy": {"get": {
                "operationId": "policy",
                "summary": "The policy pack the extension renders",
                "security": TOKEN,
                "responses": {"200": _body("PolicyResponse", "The active policy pack, without company terms."),
                              **_errors(401, 403)},
            }},
            "/v1/feedback": {"post": {
                "operationId": "feedback",
                "summary": "Record that a warning was dismissed or wrong, or that one was missed",
                "security": TOKEN,
                "requestBody": _json_request("FeedbackRequest"),
                "responses": {"201": _body("FeedbackResponse", "Recorded."),
                              **_errors(400, 401, 403, 408, 413, 415, 429), **_storage_errors()},
            }},
            "/v1/diagnostics": {"post": {
                "operationId": "diagnostics",
                "summary": "Report how many composers the extension recognised on a site, and by which rule",
                "security": TOKEN,
                "requestBody": _json_request("DiagnosticsRequest"),
                "responses": {"201": _body("DiagnosticsResponse", "Counted."),
                              **_errors(400, 401, 403, 408, 415, 429), **_storage_errors()},
            }},
            "/healthz": {"get": {
                "operationId": "health",
                "summary": "Whether a model is loaded, and which",
                "security": [],  # load balancers probe it without a token
                "responses": {"200": _body("HealthResponse", "Serving: status is ok, or degraded (see detail)."),
                              "503": _body("HealthResponse", "No model is loaded: checks answer 503.")},
            }},
            "/v1/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": TOKEN,
                "responses": {"200": {"description": "The OpenAPI 3.1 document of this API.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              **_errors(401, 403)},
            }},
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "The server's DRAFTGUARD_API_TOKEN. A server without one configured answers "
                               "without a token (meant for loopback only)."}},
        },
    }
