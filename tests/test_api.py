"""The extension's API through the Flask test client: the contract, bad input, auth, CORS."""

import pytest
import sqlalchemy as sa

from conftest import app_config, on_both_databases
from engine.policy import Term, default_pack
from server import create_app
from server.storage.schema import metadata

RISKY = "Heads up team: the VPN password is Hunter2Secret! and the server room door code is 4417"
CLEAN = "Had a lovely weekend hiking with the family, the view from the ridge was worth every step"


def check(client, text, **extra):
    return client.post("/v1/check", json={"text": text, **extra})


def test_check_answers_every_policy_category_in_the_contract_shape(client):
    response = check(client, RISKY, platform="linkedin", surface="post")
    assert response.status_code == 200
    body = response.get_json()
    assert [c["id"] for c in body["categories"]] == default_pack().category_ids
    assert body["model_version"]
    for category in body["categories"]:
        assert set(category) >= {"id", "title", "score", "threshold", "flagged", "guidance", "policy_ref", "spans"}
        assert 0.0 <= category["score"] <= 1.0
        assert category["flagged"] == bool(category["flagged"])
        if not category["flagged"]:
            assert category["spans"] == []
    assert body["flagged"] == any(c["flagged"] for c in body["categories"])


def test_a_leaked_password_and_door_code_are_flagged_with_spans_on_the_secrets(client):
    body = check(client, RISKY).get_json()
    security = next(c for c in body["categories"] if c["id"] == "security")
    assert body["flagged"] and security["flagged"]
    texts = {s["text"] for s in security["spans"] if s["source"] == "detector"}
    assert {"Hunter2Secret!", "4417"} <= texts
    for span in security["spans"]:
        assert RISKY[span["start"]:span["end"]] == span["text"]


def test_detector_spans_name_their_detector_and_the_placeholder_to_mask_them_with(client):
    text = ("Refund to card 4111 1111 1111 1111 or IBAN GB82 WEST 1234 5698 7654 32, "
            "the wifi password is Zebra42!x and the door code is 4417")
    body = check(client, text).get_json()
    spans = {s["text"]: s for c in body["categories"] for s in c["spans"] if s["source"] == "detector"}
    assert (spans["4111 1111 1111 1111"]["detector"], spans["4111 1111 1111 1111"]["mask"]) == ("payment_card", "[card number removed]")
    assert (spans["GB82 WEST 1234 5698 7654 32"]["detector"], spans["GB82 WEST 1234 5698 7654 32"]["mask"]) == ("iban", "[IBAN removed]")
    assert (spans["Zebra42!x"]["detector"], spans["Zebra42!x"]["mask"]) == ("password", "[password removed]")
    assert (spans["4417"]["detector"], spans["4417"]["mask"]) == ("access_code", "[code removed]")
    # Model and term spans carry neither key: the answer stays what older extensions read.
    for category in body["categories"]:
        for span in category["spans"]:
            if span["source"] != "detector":
                assert "detector" not in span and "mask" not in span


def test_a_plain_personal_post_is_clean(client):
    body = check(client, CLEAN).get_json()
    assert body["flagged"] is False
    assert all(not c["flagged"] for c in body["categories"])


def test_span_offsets_are_code_points_into_the_text_as_sent(client):
    text = "🎉🎉 Team offsite! ｐａｓｓｗｏｒｄ: Blue42x 🚀"
    body = check(client, text).get_json()
    spans = [s for c in body["categories"] for s in c["spans"]]
    assert spans, "the obfuscated password must be found"
    for span in spans:
        assert text[span["start"]:span["end"]] == span["text"]


def test_policy_endpoint_serves_the_pack_file(client):
    body = client.get("/v1/policy").get_json()
    assert [c["id"] for c in body["categories"]] == default_pack().category_ids
    assert all(c["title"] and c["guidance"] for c in body["categories"])
    assert "terms" not in body  # company terms stay on the server


@on_both_databases
def test_feedback_stores_text_only_with_consent(client):
    plain = client.post("/v1/feedback", json={"kind": "dismissed", "categories": ["security"],
                                              "model_version": "v1", "platform": "linkedin", "surface": "post"})
    assert plain.status_code == 201 and plain.get_json()["stored_text"] is False
    consented = client.post("/v1/feedback", json={"kind": "false_positive", "categories": ["financial"],
                                                  "consent": True, "text": "Our published Q3 results"})
    assert consented.status_code == 201 and consented.get_json()["stored_text"] is True
    refused = client.post("/v1/feedback", json={"kind": "false_positive", "text": "secret stuff"})
    assert refused.status_code == 400
    assert "consent" in refused.get_json()["error"]["message"]
    items = client.get("/v1/admin/feedback", headers={"Authorization": "Bearer test-admin-token"}).get_json()["items"]
    assert [(i["kind"], i["text"]) for i in items] == [("false_positive", "Our published Q3 results"), ("dismissed", None)]


@pytest.mark.parametrize("kwargs, status", [
    ({"data": b""}, 415),
    ({"data": b"", "content_type": "application/json"}, 400),
    ({"data": b"text=hello", "content_type": "application/x-www-form-urlencoded"}, 415),
    ({"data": b"{not json", "content_type": "application/json"}, 400),
    ({"data": b"\xff\xfe{}", "content_type": "application/json"}, 400),
    ({"data": b"[1, 2]", "content_type": "application/json"}, 400),
    ({"data": b"null", "content_type": "application/json"}, 400),
    ({"data": b'"just a string"', "content_type": "application/json"}, 400),
    ({"json": {}}, 400),
    ({"json": {"text": None}}, 400),
    ({"json": {"text": 42}}, 400),
    ({"json": {"text": ["a"]}}, 400),
    ({"json": {"text": {"nested": "x"}}}, 400),
    ({"json": {"text": "hi", "surface": "billboard"}}, 400),
    ({"json": {"text": "hi", "platform": 7}}, 400),
    ({"data": b'{"text": "\\ud800 lone surrogate"}', "content_type": "application/json"}, 400),
    ({"data": b"[" * 50_000 + b"]" * 50_000, "content_type": "application/json"}, 400),
    ({"data": b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", "content_type": "application/json"}, 400),
    ({"json": {"text": "x" * 20_001}}, 413),
    ({"data": b'{"text": "' + b"x" * 300_000 + b'"}', "content_type": "application/json"}, 413),
])
def test_bad_input_gets_a_json_error_never_a_500(client, kwargs, status):
    response = client.post("/v1/check", **kwargs)
    assert response.status_code == status
    assert response.is_json
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"]


@pytest.mark.parametrize("text", ["", " ", "\x00\x01", "🙂" * 5000, "é" * 20_000, "‮reversed‬", "a\u0301" * 100,
                                  "\n\n\t", "🏳️‍🌈👨‍👩‍👧", "x" * 20_000])
def test_unicode_edge_cases_are_answered(client, text):
    response = check(client, text)
    assert response.status_code == 200
    for category in response.get_json()["categories"]:
        for span in category["spans"]:
            assert text[span["start"]:span["end"]] == span["text"]


def test_errors_for_unknown_routes_and_methods_are_json(client):
    missing = client.get("/v1/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.get("/v1/check")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.get_json()["error"]["status"] == 405


def test_feedback_validation(client):
    assert client.post("/v1/feedback", json={"kind": "loved_it"}).status_code == 400
    unknown = client.post("/v1/feedback", json={"kind": "missed", "categories": ["gossip"]})
    assert unknown.status_code == 400 and "gossip" in unknown.get_json()["error"]["message"]
    assert client.post("/v1/feedback", json={"kind": "missed", "consent": "yes", "text": "x"}).status_code == 400


def test_api_token_is_enforced_when_configured(models_dir, tmp_path):
    client = create_app(app_config(models_dir, tmp_path / "data", API_TOKEN="ext-token")).test_client()
    missing = check(client, CLEAN)
    assert missing.status_code == 401 and "WWW-Authenticate" in missing.headers
    wrong = client.post("/v1/check", json={"text": CLEAN}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = client.post("/v1/check", json={"text": CLEAN}, headers={"Authorization": "Bearer ext-token"})
    assert right.status_code == 200
    assert client.get("/healthz").status_code == 200  # load balancers probe without a token


def test_cors_allows_extension_origins_only(client):
    extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    allowed = client.options("/v1/check", headers={"Origin": extension, "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == extension
    firefox = "moz-extension://6f1c9a2e-1b7d-4c4e-9a55-0d9c2e1f7a10"
    assert check(client, CLEAN).status_code == 200
    response = client.post("/v1/check", json={"text": CLEAN}, headers={"Origin": firefox})
    assert response.headers.get("Access-Control-Allow-Origin") == firefox
    page = client.post("/v1/check", json={"text": CLEAN}, headers={"Origin": "https://www.linkedin.com"})
    assert "Access-Control-Allow-Origin" not in page.headers


@pytest.mark.parametrize("setting, path, body, status", [
    ("CHECK_RATE_LIMIT", "/v1/check", {"text": CLEAN}, 200),
    ("FEEDBACK_RATE_LIMIT", "/v1/feedback", {"kind": "dismissed", "categories": ["security"]}, 201),
])
def test_rate_limit_answers_429_json(models_dir, tmp_path, setting, path, body, status):
    client = create_app(app_config(models_dir, tmp_path / "data", **{setting: "3 per minute"})).test_client()
    statuses = [client.post(path, json=body).status_code for _ in range(4)]
    assert statuses == [status, status, status, 429]
    limited = client.post(path, json=body)
    assert limited.get_json()["error"]["code"] == "rate_limited"


def test_diagnostics_take_composer_counts_only(client):
    report = {"platform": "facebook", "composers": [{"surface": "comment", "rule": "fallback", "count": 2},
                                                      {"surface": "post", "rule": "specific", "count": 1}]}
    response = client.post("/v1/diagnostics", json=report)
    assert response.status_code == 201 and response.get_json() == {"recorded": 3}
    bad = [
        {**report, "text": "my password is Zebra42!"},  # never text: unknown fields are refused
        {**report, "composers": [{"surface": "comment", "rule": "fallback", "count": 1, "text": "hi"}]},
        {**report, "composers": [{"surface": "comment", "rule": "guessed", "count": 1}]},
        {**report, "composers": [{"surface": "comment", "rule": "fallback", "count": 0}]},
        {**report, "composers": [{"surface": "comment", "rule": "fallback", "count": "2"}]},
        {**report, "composers": []},
        {**report, "platform": "Face Book"},
        {"composers": report["composers"]},
    ]
    for body in bad:
        refused = client.post("/v1/diagnostics", json=body)
        assert refused.status_code == 400, body
        assert refused.get_json()["error"]["code"]
    assert client.get("/v1/diagnostics").status_code == 405


def test_diagnostics_are_rate_limited_like_feedback(models_dir, tmp_path):
    client = create_app(app_config(models_dir, tmp_path / "data", DIAGNOSTICS_RATE_LIMIT="2 per minute")).test_client()
    report = {"platform": "linkedin", "composers": [{"surface": "post", "rule": "specific", "count": 1}]}
    statuses = [client.post("/v1/diagnostics", json=report).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_policy_edit_reaches_the_check_api_without_restart(app, client):
    text = "Sneak peek: Bluefinch goes to beta next week!"
    before = check(client, text).get_json()
    assert not any(s["source"] == "term" for c in before["categories"] for s in c["spans"])
    pack = default_pack().model_copy(update={"version": 2, "terms": [Term(term="Bluefinch")]})
    app.extensions["draftguard"]["policy"].save(pack)
    after = check(client, text).get_json()
    confidential = next(c for c in after["categories"] if c["id"] == "confidential")
    assert confidential["flagged"]
    assert {"start": 12, "end": 21, "text": "Bluefinch", "source": "term"} in confidential["spans"]
    assert after["policy_version"] == 2


def test_healthz_reports_the_model(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["model_version"]


@on_both_databases
def test_statistics_are_counts_only(app, client):
    check(client, RISKY)
    check(client, CLEAN)
    app.extensions["draftguard"]["counter"].flush()
    rows = app.extensions["draftguard"]["storage"].counts.since("2000-01-01")
    counts = {r["metric"]: r["count"] for r in rows}
    assert counts["checks"] == 2 and counts["flagged"] == 1 and counts["flagged:security"] == 1
    database = app.extensions["draftguard"]["storage"].database
    with database.reading() as conn:
        for table in metadata.sorted_tables:
            assert "Hunter2Secret" not in repr(conn.execute(sa.select(table)).all())
    if database.sqlite_path:  # nor in the file's free pages
        assert b"Hunter2Secret" not in database.sqlite_path.read_bytes()


@pytest.mark.parametrize("count, status", [(3, 201), (3.0, 201), (3.5, 400), ("3", 400), (True, 400), (0, 400)])
def test_diagnostics_counts_are_whole_numbers_as_json_schema_means_them(client, count, status):
    body = {"platform": "linkedin", "composers": [{"surface": "post", "rule": "specific", "count": count}]}
    assert client.post("/v1/diagnostics", json=body).status_code == status
