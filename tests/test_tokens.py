"""Bearer tokens (server/web.py): the whole token or nothing, on the check API and the admin API.

The routes used here need no model, so the app runs on an empty models folder and these tests
stay fast enough to run once per mutant of the auth code (`make mutation`).
"""
import pytest

from conftest import app_config
from server import create_app

TOKEN = "s3cret-Token-42"
# (config key, a route it guards, whether a wrong token is audited)
GUARDED = [("API_TOKEN", "/v1/policy", False), ("ADMIN_TOKEN", "/v1/admin/audit", True)]


def make_client(tmp_path, **tokens):
    app = create_app(app_config(tmp_path / "models", tmp_path / "data", **{"API_TOKEN": "", "ADMIN_TOKEN": "", **tokens}))
    return app, app.test_client()


def audit_actions(app) -> list[str]:
    return [item["action"] for item in audit_entries(app)]


def audit_entries(app) -> list[dict]:
    items, _ = app.extensions["draftguard"]["storage"].audit.page()
    return items


@pytest.mark.parametrize("key, path, audited", GUARDED)
@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer   {TOKEN}  "])
def test_the_exact_token_is_let_in(tmp_path, key, path, audited, header):
    app, client = make_client(tmp_path, **{key: TOKEN})
    assert client.get(path, headers={"Authorization": header}).status_code == 200
    assert audit_actions(app) == []


@pytest.mark.parametrize("key, path, audited", GUARDED)
@pytest.mark.parametrize("guess", [
    TOKEN[:-1],          # a prefix: the token compared by prefix only would let this in
    TOKEN[:1],
    TOKEN + "x",         # the token as a prefix of the guess
    TOKEN.upper(),
    TOKEN[:-1] + "3",    # same length, last character wrong
    "x" + TOKEN[1:],     # same length, first character wrong
])
def test_anything_but_the_exact_token_is_refused_and_an_admin_guess_is_audited(tmp_path, key, path, audited, guess):
    app, client = make_client(tmp_path, **{key: TOKEN})
    response = client.get(path, headers={"Authorization": f"Bearer {guess}"})
    assert response.status_code == 403
    assert response.get_json()["error"] == {"status": 403, "code": "forbidden",
                                            "message": "the bearer token is not valid"}
    assert audit_actions(app) == (["auth.failed"] if audited else [])


@pytest.mark.parametrize("key, path, audited", GUARDED)
@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer    ", f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}"])
def test_a_missing_token_asks_for_one_and_is_not_audited(tmp_path, key, path, audited, header):
    app, client = make_client(tmp_path, **{key: TOKEN})
    response = client.get(path, headers={"Authorization": header} if header is not None else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="draftguard"'
    assert response.get_json()["error"]["message"] == "missing bearer token: send Authorization: Bearer <token>"
    assert audit_actions(app) == []


def test_without_a_configured_token_the_check_api_is_open_and_the_admin_api_closed(tmp_path):
    app, client = make_client(tmp_path)
    assert client.get("/v1/policy").status_code == 200
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {TOKEN}"}):
        closed = client.get("/v1/admin/audit", headers=headers)
        assert closed.status_code == 403
        assert "set DRAFTGUARD_ADMIN_TOKEN" in closed.get_json()["error"]["message"]
    assert audit_actions(app) == []


def test_each_api_takes_its_own_token(tmp_path):
    _, client = make_client(tmp_path, API_TOKEN="extension-token", ADMIN_TOKEN="admin-token")
    assert client.get("/v1/policy", headers={"Authorization": "Bearer admin-token"}).status_code == 403
    assert client.get("/v1/admin/audit", headers={"Authorization": "Bearer extension-token"}).status_code == 403
    assert client.get("/v1/admin/audit", headers={"Authorization": "Bearer admin-token"}).status_code == 200


@pytest.mark.parametrize("client_address, recorded", [("203.0.113.9", "203.0.113.9"), ("", "")])
def test_a_wrong_admin_token_is_audited_with_the_path_and_client_but_not_the_guess(tmp_path, client_address,
                                                                                  recorded):
    app, client = make_client(tmp_path, ADMIN_TOKEN=TOKEN)
    client.get("/v1/admin/audit", headers={"Authorization": "Bearer my-guess"},
               environ_base={"REMOTE_ADDR": client_address})
    (entry,) = audit_entries(app)
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "unknown", "auth.failed", {"path": "/v1/admin/audit", "client": recorded})
    assert "my-guess" not in str(entry)
