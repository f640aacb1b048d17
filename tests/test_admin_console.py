"""The admin console with the Flask test client: login, sessions, CSRF, and each page's forms
(the real-browser walk-through is in test_admin_console_browser.py)."""
import re
from io import BytesIO

import pytest

from conftest import app_config, on_both_databases
from engine.registry import Registry
from server import create_app
from server.service import Invalid

PASSWORD = "correct horse battery"
COOKIE = "draftguard_admin"


def storage_of(app):
    return app.extensions["draftguard"]["storage"]


def service_of(app):
    return app.extensions["draftguard"]["service"]


def console_app(models_dir, tmp_path, **overrides):
    app = create_app(app_config(models_dir, tmp_path / "data", **{"LOGIN_RATE_LIMIT": "", **overrides}))
    service_of(app).add_admin("alice", PASSWORD, "test")
    return app


@pytest.fixture
def app(models_dir, tmp_path, database_url):
    return console_app(models_dir, tmp_path, DATABASE_URL=database_url)


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, name="alice", password=PASSWORD, next_path=""):
    token = csrf_token(client, "/admin/login")
    return client.post("/admin/login", data={"name": name, "password": password, "csrf_token": token, "next": next_path})


def post_form(client, path: str, data: dict, page: str = "/admin/", **kwargs):
    """Submit a console form the way a browser does: with the page's CSRF token."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)}, **kwargs)


@pytest.fixture
def admin(client):
    assert login(client).status_code == 302
    return client


def audit_actions(app) -> list[str]:
    return [entry["action"] for entry in storage_of(app).audit.page()[0]]


# --- login, sessions, headers --------------------------------------------------------------

def test_pages_need_a_login_and_come_back_after_it(client):
    response = client.get("/admin/models?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/admin/models?x%3D1"
    assert client.get("/admin/static/admin.css").status_code == 200
    response = login(client, next_path="/admin/models")
    assert response.headers["Location"] == "/admin/models"


def test_login_never_redirects_off_site(client):
    assert login(client, next_path="https://evil.example/admin").headers["Location"] == "/admin/"


def test_a_wrong_password_or_name_is_refused_and_audited(app, client):
    for name, password in (("alice", "wrong password!"), ("mallory", PASSWORD)):
        response = login(client, name, password)
        assert response.status_code == 401
        assert "do not match an admin account" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302
    failed = [(e["actor"], e["action"]) for e in storage_of(app).audit.page()[0]]
    assert failed[:2] == [("mallory", "login.failed"), ("alice", "login.failed")]


def test_passwords_are_stored_hashed(app):
    stored = storage_of(app).admins.password_hash("alice")
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    with pytest.raises(Invalid, match="at least 10 characters"):
        service_of(app).add_admin("bob", "short", "test")


def test_login_attempts_are_rate_limited(models_dir, tmp_path):
    client = console_app(models_dir, tmp_path, LOGIN_RATE_LIMIT="3 per minute").test_client()
    for _ in range(3):
        login(client, password="wrong password!")
    response = login(client)
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


@on_both_databases
def test_logout_ends_the_session_on_the_server(app, admin):
    cookie = admin.get_cookie(COOKIE).value
    assert admin.get("/admin/").status_code == 200
    response = post_form(admin, "/admin/logout", {})
    assert response.headers["Location"] == "/admin/login"
    assert audit_actions(app)[:2] == ["logout", "login"]
    admin.set_cookie(COOKIE, cookie)  # replaying the old cookie does not bring the session back
    assert admin.get("/admin/").status_code == 302


@on_both_databases
def test_a_password_change_ends_existing_sessions(app, admin):
    service_of(app).set_admin_password("alice", "another long password", "test")
    assert admin.get("/admin/").status_code == 302


def test_console_pages_are_protected_by_headers(admin):
    response = admin.get("/admin/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = admin.get_cookie(COOKIE)
    assert cookie.http_only and cookie.same_site == "Lax"


@pytest.mark.parametrize("path, expected", [
    ("/admin/", "Active model"), ("/admin/policy", "Company terms"), ("/admin/feedback", "Waiting for review"),
    ("/admin/examples", "Upload"), ("/admin/training", "Start training"), ("/admin/models", "Model versions"),
    ("/admin/stats", "Checks and flagged checks per day"), ("/admin/audit", "login"),
])
def test_every_page_renders(admin, path, expected):
    response = admin.get(path)
    assert response.status_code == 200 and expected in response.get_data(as_text=True)


def test_errors_are_pages_with_a_clear_message(admin):
    response = admin.get("/admin/jobs/nope")
    assert response.status_code == 404 and "no training job" in response.get_data(as_text=True)
    response = admin.get("/admin/stats?days=abc")
    assert response.status_code == 400 and "whole number" in response.get_data(as_text=True)


# --- CSRF ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path, data", [
    ("/admin/training", {}),
    ("/admin/policy", {"name": "Hijacked", "version": "1"}),
    ("/admin/models/ACTIVE/activate", {}),
    ("/admin/logout", {}),
])
@pytest.mark.parametrize("token", [None, "forged-token"])
def test_forms_without_the_session_csrf_token_are_refused(app, admin, models_dir, path, data, token):
    before = (storage_of(app).audit.page()[1], storage_of(app).jobs.recent(), Registry(models_dir).read_index())
    body = {**data, **({"csrf_token": token} if token else {})}
    response = admin.post(path.replace("ACTIVE", Registry(models_dir).active_version()), data=body)
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert (storage_of(app).audit.page()[1], storage_of(app).jobs.recent(), Registry(models_dir).read_index()) == before
    assert admin.get("/admin/").status_code == 200  # still logged in


def test_a_token_from_another_session_is_refused(app, admin):
    other = app.test_client()
    login(other)
    stolen = csrf_token(other, "/admin/")
    assert admin.post("/admin/training", data={"csrf_token": stolen}).status_code == 400
    assert storage_of(app).jobs.recent() == []


# --- forms ---------------------------------------------------------------------------------

def policy_form(admin) -> dict:
    """The policy page's fields as the browser would send them, unchanged."""
    page = admin.get("/admin/policy").get_data(as_text=True)
    fields = dict(re.findall(r'<input name="([^"]+)" value="([^"]*)"', page))
    fields.update(re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', page))
    fields.update(re.findall(r'<input type="hidden" name="(version)" value="([^"]*)"', page))
    for select, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        # Without a selected option, the browser sends the first.
        chosen = re.search(r'<option value="([^"]+)" selected', options) or re.search(r'<option value="([^"]+)"', options)
        fields[select] = chosen.group(1)
    return {k: v.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') for k, v in fields.items()}


def test_the_policy_form_saves_terms_and_edits(app, admin):
    form = policy_form(admin)
    pack = app.extensions["draftguard"]["policy"].current()
    form["term-0-term"], form["term-0-category"] = "Bluefinch", "confidential"
    form["cat-1-threshold"] = "0.7"
    response = post_form(admin, "/admin/policy", form, "/admin/policy")
    assert response.status_code == 302
    saved = app.extensions["draftguard"]["policy"].current()
    assert saved.version == pack.version + 1
    assert [(t.term, t.category) for t in saved.terms] == [("Bluefinch", "confidential")]
    assert saved.categories[1].threshold == 0.7
    assert [c.model_dump(exclude={"threshold"}) for c in saved.categories] == \
           [c.model_dump(exclude={"threshold"}) for c in pack.categories]
    assert "Policy saved as version" in admin.get("/admin/policy").get_data(as_text=True)


def test_an_invalid_policy_form_keeps_the_edits_and_says_why(app, admin):
    form = policy_form(admin)
    form["cat-0-title"] = ""
    form["term-0-term"] = "Osprey-9"
    response = post_form(admin, "/admin/policy", form, "/admin/policy")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Not saved" in page and "categories.0.title" in page
    assert 'value="Osprey-9"' in page
    assert app.extensions["draftguard"]["policy"].current().version == int(form["version"])


def test_deleting_a_category_still_used_by_a_term_is_refused(app, admin):
    form = policy_form(admin)
    form["term-0-term"], form["term-0-category"] = "Bluefinch", "ip"
    post_form(admin, "/admin/policy", form, "/admin/policy")
    form = policy_form(admin)
    ip_row = next(k.split("-")[1] for k, v in form.items() if k.endswith("-id") and v == "ip")
    form[f"cat-{ip_row}-delete"] = "1"
    response = post_form(admin, "/admin/policy", form, "/admin/policy")
    assert response.status_code == 400 and "terms refer to unknown categories: ip" in response.get_data(as_text=True)


def upload_file(admin, name: str, data: bytes):
    return post_form(admin, "/admin/examples/preview", {"file": (BytesIO(data), name)}, "/admin/examples",
                     content_type="multipart/form-data")


@on_both_databases
def test_an_upload_is_previewed_then_stored_once(app, admin):
    data = b"text,labels\nHeron ships in May,confidential\nLovely weekend,\n"
    preview = upload_file(admin, "heron.csv", data)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2 valid examples" in page and "Heron ships in May" in page
    assert storage_of(app).examples.page()[1] == 0  # nothing stored before the admin confirms
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', page).group(1)
    stored = post_form(admin, "/admin/examples/import", {"upload_id": upload_id}, "/admin/examples")
    assert stored.headers["Location"] == "/admin/examples"
    assert "Stored 2 examples from heron.csv" in admin.get("/admin/examples").get_data(as_text=True)
    again = post_form(admin, "/admin/examples/import", {"upload_id": upload_id}, "/admin/examples")
    assert "no longer waiting" in admin.get(again.headers["Location"]).get_data(as_text=True)
    assert storage_of(app).examples.page()[1] == 2
    assert audit_actions(app)[0] == "examples.add"


def test_a_bad_upload_lists_each_row_and_stores_nothing(app, admin):
    data = b"text,labels\nHeron ships in May,confidential\n,privacy\nHeron ships,gossip\nheron ships in may,confidential\n"
    response = upload_file(admin, "bad.csv", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "3 problem(s) in bad.csv" in page and "Nothing was stored" in page
    for line, message in ((3, "empty or missing text"), (4, "unknown label(s) gossip"), (5, "duplicate text")):
        assert re.search(rf"<td>{line}</td><td>{re.escape(message)}", page)
    assert storage_of(app).examples.page()[1] == 0


def test_an_oversized_upload_is_refused_with_a_message(models_dir, tmp_path):
    app = console_app(models_dir, tmp_path, ADMIN_UPLOAD_MAX_BYTES=1000)
    client = app.test_client()
    login(client)
    response = upload_file(client, "big.csv", b"text,labels\n" + b"x" * 200_000 + b",\n")
    assert response.status_code == 413 and "larger than the limit" in response.get_data(as_text=True)
    response = upload_file(client, "big.csv", b"text,labels\n" + b"x" * 2000 + b",\n")
    assert response.status_code == 413 and "the limit is 1,000" in response.get_data(as_text=True)
    assert storage_of(app).examples.page()[1] == 0


@on_both_databases
def test_feedback_is_labelled_from_the_console(app, admin):
    feedback = {"kind": "missed", "categories": ["confidential"], "consent": True, "text": "Heron ships in May"}
    feedback_id = admin.post("/v1/feedback", json=feedback).get_json()["id"]
    page = admin.get("/admin/feedback").get_data(as_text=True)
    assert "Heron ships in May" in page and 'value="confidential"\n      checked' in page
    response = post_form(admin, f"/admin/feedback/{feedback_id}/label", {"labels": ["confidential", "financial"]},
                         "/admin/feedback")
    assert response.headers["Location"] == "/admin/feedback"
    assert f"Feedback #{feedback_id} is now example" in admin.get("/admin/feedback").get_data(as_text=True)
    example = storage_of(app).examples.page()[0][0]
    assert (example["text"], example["labels"], example["added_by"]) == (feedback["text"], ["confidential", "financial"], "alice")


def test_a_refused_action_returns_to_its_page_with_the_reason(app, admin, models_dir):
    storage_of(app).jobs.create("other", "bob", stale_after=60)
    response = post_form(admin, "/admin/training", {}, "/admin/training",
                         headers={"Referer": "http://localhost/admin/training"})
    assert response.headers["Location"] == "http://localhost/admin/training"
    assert "already running" in admin.get("/admin/training").get_data(as_text=True)


def test_activating_from_the_console_is_audited_with_the_admin(app, admin, models_dir):
    registry = Registry(models_dir)
    first = registry.active_version()
    registry.add("2099-01-01T00-00-00Z-copy", registry.load(first), {"created": "2099-01-01T00:00:00+00:00"}, "# copy\n")
    response = post_form(admin, "/admin/models/2099-01-01T00-00-00Z-copy/activate", {}, "/admin/models")
    assert response.headers["Location"] == "/admin/models"
    assert registry.active_version() == "2099-01-01T00-00-00Z-copy"
    entry = storage_of(app).audit.page()[0][0]
    assert (entry["actor"], entry["action"], entry["detail"]["previous"]) == ("alice", "model.promote", first)
    assert "Roll back to this" in admin.get("/admin/models").get_data(as_text=True)


def test_the_compare_page_draws_every_bar_to_scale(admin, models_dir):
    registry = Registry(models_dir)
    registry.add("2099-01-01T00-00-00Z-copy", registry.load(registry.active_version()),
                 {"created": "2099-01-01T00:00:00+00:00"}, "# copy\n")
    page = admin.get("/admin/models/2099-01-01T00-00-00Z-copy/compare").get_data(as_text=True)
    bars = re.findall(r'<rect class="(?:muted|accent)-bar" x="150" y="[\d.]+" width="([\d.]+)"[^>]*>'
                      r'<title>[^<]*: ([\d.]+)</title>', page)
    categories = len(registry.metadata(registry.active_version())["metrics"]["per_category"])
    assert len(bars) == 2 * (3 * (categories + 1) + 1)  # P, R, F1 per category and micro; clean flagged
    for width, value in bars:
        assert float(width) == pytest.approx(float(value) * 220, abs=0.01)
