"""The OpenAPI document at /v1/openapi.json: valid OpenAPI 3.1, complete, and true of the real
responses — typical ones and every documented error — through the Flask test client."""
from __future__ import annotations

import copy
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conftest import app_config, fill_postgres_disk
from engine.policy import default_pack
from server import create_app

RISKY = "Heads up team: the VPN password is Hunter2Secret! and the server room door code is 4417"
CLEAN = "Had a lovely weekend hiking with the family, the view from the ridge was worth every step"
API_TOKEN = "ext-token"
DOCUMENT_URI = "urn:draftguard:openapi"


@pytest.fixture
def document(client) -> dict:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def schema_validator(document: dict, pointer: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for the schema at `pointer` in the document; its $refs resolve there."""
    registry = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=registry)


def response_validator(document: dict, method: str, path: str, status: int) -> Draft202012Validator:
    parts = ("paths", path, method.lower(), "responses", str(status), "content", "application/json", "schema")
    return schema_validator(document, "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts))


def assert_documented(document: dict, method: str, path: str, response) -> None:
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in responses, f"{method} {path} answered {response.status_code}, not documented"
    assert response.mimetype in responses[str(response.status_code)]["content"]
    errors = [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
              for e in response_validator(document, method, path, response.status_code).iter_errors(response.get_json())]
    assert not errors, f"{method} {path} {response.status_code} breaks the document: {errors}"


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(document).validate()


def test_every_route_of_the_extension_api_is_documented_and_nothing_else(app, document):
    routes = {(rule.rule, method.lower()) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert routes == documented


def test_the_check_answer_promises_the_product_contract(document):
    # What the product brief promises the extension, required in the document.
    schemas = document["components"]["schemas"]
    assert {"flagged", "model_version", "categories"} <= set(schemas["CheckResponse"]["required"])
    assert {"id", "title", "score", "threshold", "flagged", "guidance", "policy_ref", "spans"} <= set(
        schemas["CategoryResult"]["required"])
    assert {"start", "end", "text", "source"} <= set(schemas["Span"]["required"])
    assert set(schemas["CheckRequest"]["required"]) == {"text"}


def test_the_document_states_this_servers_text_limit_and_categories(models_dir, tmp_path):
    client = create_app(app_config(models_dir, tmp_path / "data", MAX_TEXT_CHARS=500)).test_client()
    schemas = client.get("/v1/openapi.json").get_json()["components"]["schemas"]
    assert schemas["CheckRequest"]["properties"]["text"]["maxLength"] == 500
    assert {"type": "string", "maxLength": 500} in schemas["FeedbackRequest"]["properties"]["text"]["anyOf"]
    assert schemas["FeedbackRequest"]["properties"]["categories"]["items"]["enum"] == default_pack().category_ids


def test_the_token_is_documented_where_the_server_asks_for_it(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path in ("/v1/check", "/v1/policy", "/v1/feedback"):
        operation = next(iter(document["paths"][path].values()))
        assert {"bearerAuth": []} in operation["security"]
        assert {"401", "403"} <= set(operation["responses"])
    assert document["paths"]["/healthz"]["get"]["security"] == []


def test_the_consent_rule_is_in_the_feedback_schema(document):
    request = schema_validator(document, "components/schemas/FeedbackRequest")
    assert request.is_valid({"kind": "missed", "consent": True, "text": "the draft"})
    assert request.is_valid({"kind": "dismissed", "text": None})
    assert not request.is_valid({"kind": "missed", "text": "the draft"})
    assert not request.is_valid({"kind": "missed", "consent": False, "text": "the draft"})


@dataclass
class Exchange:
    """One request and the status the server answers it with; `server` picks the app's setup."""

    method: str
    path: str
    status: int
    body: Optional[object] = None
    raw: Optional[bytes] = None
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    server: str = "default"
    repeat: int = 1  # the last answer counts (rate limits)
    stalled: bool = False  # the body never arrives: reading it times out
    code: Optional[str] = None  # the error code the answer must carry, where one status has several

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.status} {self.server}"


AUTH = {"Authorization": f"Bearer {API_TOKEN}"}

EXCHANGES = [
    Exchange("POST", "/v1/check", 200, {"text": RISKY, "platform": "linkedin", "surface": "post"}),
    Exchange("POST", "/v1/check", 200, {"text": CLEAN}),
    Exchange("POST", "/v1/check", 200, {"text": RISKY}, headers=AUTH, server="token"),
    Exchange("POST", "/v1/check", 400, raw=b"{not json"),
    Exchange("POST", "/v1/check", 400, {"text": "hi", "surface": "billboard"}),
    Exchange("POST", "/v1/check", 408, stalled=True, code="request_timeout"),
    Exchange("POST", "/v1/check", 401, {"text": CLEAN}, server="token"),
    Exchange("POST", "/v1/check", 403, {"text": CLEAN}, headers={"Authorization": "Bearer nope"}, server="token"),
    Exchange("POST", "/v1/check", 413, {"text": "x" * 20_001}),
    Exchange("POST", "/v1/check", 415, raw=b"text=hello", content_type="application/x-www-form-urlencoded"),
    Exchange("POST", "/v1/check", 429, {"text": CLEAN}, server="rate_limited", repeat=2),
    Exchange("POST", "/v1/check", 503, {"text": CLEAN}, server="no_model"),
    Exchange("GET", "/v1/policy", 200),
    Exchange("GET", "/v1/policy", 401, server="token"),
    Exchange("GET", "/v1/policy", 403, headers={"Authorization": "Bearer nope"}, server="token"),
    Exchange("POST", "/v1/feedback", 201, {"kind": "dismissed", "categories": ["security"], "model_version": "v1",
                                           "platform": "linkedin", "surface": "comment"}),
    Exchange("POST", "/v1/feedback", 201, {"kind": "missed", "consent": True, "text": "Our Q3 numbers leak"}),
    Exchange("POST", "/v1/feedback", 400, {"kind": "missed", "categories": ["gossip"]}),
    Exchange("POST", "/v1/feedback", 400, {"kind": "missed", "text": "no consent given"}),
    Exchange("POST", "/v1/feedback", 401, {"kind": "dismissed"}, server="token"),
    Exchange("POST", "/v1/feedback", 403, {"kind": "dismissed"}, headers={"Authorization": "Bearer nope"}, server="token"),
    Exchange("POST", "/v1/feedback", 408, stalled=True, code="request_timeout"),
    Exchange("POST", "/v1/feedback", 413, {"kind": "missed", "consent": True, "text": "x" * 20_001}),
    Exchange("POST", "/v1/feedback", 415, raw=b"kind=missed", content_type="text/plain"),
    Exchange("POST", "/v1/feedback", 429, {"kind": "dismissed"}, server="rate_limited", repeat=2),
    Exchange("POST", "/v1/feedback", 503, {"kind": "dismissed"}, server="database_down", code="database_unavailable"),
    Exchange("POST", "/v1/feedback", 507, {"kind": "dismissed"}, server="disk_full", code="insufficient_storage"),
    Exchange("POST", "/v1/diagnostics", 201, {"platform": "linkedin", "composers": [
        {"surface": "post", "rule": "specific", "count": 2}, {"surface": "message", "rule": "fallback", "count": 1}]}),
    Exchange("POST", "/v1/diagnostics", 400, {"platform": "linkedin", "composers": [
        {"surface": "post", "rule": "specific", "count": 1, "text": "a draft"}]}),
    Exchange("POST", "/v1/diagnostics", 401, {"platform": "x", "composers": [{"surface": "post", "rule": "specific", "count": 1}]},
             server="token"),
    Exchange("POST", "/v1/diagnostics", 403, {"platform": "x", "composers": [{"surface": "post", "rule": "specific", "count": 1}]},
             headers={"Authorization": "Bearer nope"}, server="token"),
    Exchange("POST", "/v1/diagnostics", 408, stalled=True, code="request_timeout"),
    Exchange("POST", "/v1/diagnostics", 415, raw=b"platform=x", content_type="text/plain"),
    Exchange("POST", "/v1/diagnostics", 429, {"platform": "x", "composers": [{"surface": "post", "rule": "specific", "count": 1}]},
             server="rate_limited", repeat=2),
    Exchange("POST", "/v1/diagnostics", 503, {"platform": "x", "composers": [{"surface": "post", "rule": "specific", "count": 1}]},
             server="database_down", code="database_unavailable"),
    Exchange("POST", "/v1/diagnostics", 507, {"platform": "x", "composers": [{"surface": "post", "rule": "specific", "count": 1}]},
             server="disk_full", code="insufficient_storage"),
    Exchange("GET", "/healthz", 200),
    Exchange("GET", "/healthz", 200, server="broken_policy"),
    Exchange("GET", "/healthz", 503, server="no_model"),
    Exchange("GET", "/v1/openapi.json", 200),
    Exchange("GET", "/v1/openapi.json", 200, headers=AUTH, server="token"),
    Exchange("GET", "/v1/openapi.json", 401, server="token"),
    Exchange("GET", "/v1/openapi.json", 403, headers={"Authorization": "Bearer nope"}, server="token"),
]


class StalledBody(io.BytesIO):
    """A request body that stops coming: the read times out, as the server's socket does
    (server/serving.py). Its bytes only set the Content-Length the test client sends."""

    def read(self, size=-1) -> bytes:
        raise TimeoutError("timed out")

    def readinto(self, buffer) -> int:
        raise TimeoutError("timed out")


def make_client(server: str, models_dir: Path, tmp_path: Path, request):
    data_dir = tmp_path / f"data-{server}"
    settings = {
        "default": {},
        "token": {"API_TOKEN": API_TOKEN},
        "rate_limited": {"CHECK_RATE_LIMIT": "1 per minute", "FEEDBACK_RATE_LIMIT": "1 per minute",
                         "DIAGNOSTICS_RATE_LIMIT": "1 per minute"},
        "no_model": {"MODELS_DIR": tmp_path / "no-models"},
        "broken_policy": {},
        # A PostgreSQL socket folder where no server listens.
        "database_down": {"DATABASE_URL": f"postgresql+psycopg://draftguard@/draftguard?host={tmp_path / 'no-server'}"},
        "disk_full": {},
    }[server]
    if server == "broken_policy":  # the server keeps the default pack and says it is degraded
        data_dir.mkdir()
        (data_dir / "policy.json").write_text("{not json", encoding="utf-8")
    if server == "disk_full":
        settings["DATABASE_URL"] = request.getfixturevalue("database_url_on_postgresql")
    app = create_app(app_config(models_dir, data_dir, **settings))
    if server == "disk_full":
        with app.extensions["draftguard"]["storage"].database.writing() as conn:
            fill_postgres_disk(conn, ("feedback", "daily_counts"))
    return app.test_client()


@pytest.fixture
def database_url_on_postgresql(postgres_server):
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.mark.parametrize("exchange", EXCHANGES, ids=lambda exchange: exchange.id)
def test_real_responses_match_the_document(exchange, document, models_dir, tmp_path, request):
    client = make_client(exchange.server, models_dir, tmp_path, request)
    data = exchange.raw if exchange.raw is not None else (
        json.dumps(exchange.body).encode() if exchange.body is not None else None)
    body = {"input_stream": StalledBody(b"{" * 500)} if exchange.stalled else {"data": data}
    for _ in range(exchange.repeat):
        response = client.open(exchange.path, method=exchange.method, headers=exchange.headers,
                               content_type=exchange.content_type if data is not None or exchange.stalled else None,
                               **body)
    assert response.status_code == exchange.status, response.get_data(as_text=True)
    if exchange.code:
        assert response.get_json()["error"]["code"] == exchange.code
    assert_documented(document, exchange.method, exchange.path, response)


def test_every_documented_response_is_exercised_above(document):
    documented = {(method.upper(), path, int(status)) for path, operations in document["paths"].items()
                  for method, operation in operations.items() for status in operation["responses"]}
    assert documented == {(e.method, e.path, e.status) for e in EXCHANGES}


def test_a_response_that_drifts_from_the_document_fails(document, client):
    # What the tests above lean on: a renamed, missing, extra or mistyped field is caught.
    body = client.post("/v1/check", json={"text": RISKY}).get_json()
    validator = response_validator(document, "post", "/v1/check", 200)
    assert validator.is_valid(body)
    renamed = copy.deepcopy(body)
    renamed["categories"][0]["policy_url"] = renamed["categories"][0].pop("policy_ref")
    assert {e.validator for e in validator.iter_errors(renamed)} == {"required", "additionalProperties"}
    unknown_source = copy.deepcopy(body)
    next(s for c in unknown_source["categories"] for s in c["spans"])["source"] = "regex"
    assert [e.validator for e in validator.iter_errors(unknown_source)] == ["enum"]
    stringly = copy.deepcopy(body)
    stringly["policy_version"] = str(stringly["policy_version"])
    assert [e.validator for e in validator.iter_errors(stringly)] == ["type"]
