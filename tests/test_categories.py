"""Category ids are safe to edit: detectors are routed by the pack, a rename reaches stored data,
corpus files and older models, and a save says what the active model cannot score."""
import pytest

from conftest import ADMIN_TOKEN
from engine import classifier
from engine.policy import PolicyError, default_pack, parse_pack
from engine.registry import Registry
from test_admin_console import admin, app, policy_form, post_form  # noqa: F401 (fixtures)
from test_training import SMALL, write_jsonl
from train.training import train_and_register

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
IP_DRAFT = "Pasting our proprietary ranking algorithm source code here before the patent is filed, enjoy"
CARD_DRAFT = "Paying for the team lunch, card 4111 1111 1111 1111 exp 09/29"


def _flagged(client, text: str) -> set[str]:
    return {c["id"] for c in client.post("/v1/check", json={"text": text}).get_json()["categories"] if c["flagged"]}


def _pack(client) -> dict:
    return client.get("/v1/admin/policy", headers=AUTH).get_json()


def test_the_pack_decides_which_category_a_detector_flags(client):
    assert "privacy" in _flagged(client, CARD_DRAFT)
    pack = _pack(client)
    pack["detectors"]["payment_card"] = "financial"
    assert client.put("/v1/admin/policy", json=pack, headers=AUTH).status_code == 200
    flagged = _flagged(client, CARD_DRAFT)
    assert "financial" in flagged and "privacy" not in flagged


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("password"), "detectors without a category would be silenced: password"),
    (lambda d: d.update(password="gossip"), "detectors refer to unknown categories: gossip"),
    (lambda d: d.update(telepathy="security"), "unknown detectors: telepathy"),
])
def test_a_pack_that_would_silence_or_misroute_a_detector_is_refused(client, change, message):
    pack = _pack(client)
    change(pack["detectors"])
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 400 and message in response.get_json()["error"]["message"]
    assert _pack(client)["version"] == pack["version"]


def test_a_new_category_is_saved_with_a_warning_that_the_model_does_not_score_it(client):
    pack = _pack(client)
    pack["categories"].append({"id": "medical", "title": "Medical details", "guidance": "Keep health details private."})
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 200
    assert any(w.startswith("medical has no model score") for w in response.get_json()["warnings"])
    medical = next(c for c in client.post("/v1/check", json={"text": "hello"}).get_json()["categories"]
                   if c["id"] == "medical")
    assert medical["score"] == 0.0 and not medical["flagged"]


def test_deleting_a_category_with_stored_examples_is_refused(client):
    client.post("/v1/admin/examples", headers=AUTH, json={"examples": [{"text": IP_DRAFT, "labels": ["ip"]}]})
    pack = _pack(client)
    pack["categories"] = [c for c in pack["categories"] if c["id"] != "ip"]
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 409
    assert "cannot delete ip (1 stored examples are labelled with it)" in response.get_json()["error"]["message"]


def test_deleting_an_unused_category_warns_that_its_scores_are_ignored(client):
    pack = _pack(client)
    pack["categories"] = [c for c in pack["categories"] if c["id"] != "ip"]
    response = client.put("/v1/admin/policy", json=pack, headers=AUTH)
    assert response.status_code == 200
    assert "the active model scores ip, which the pack no longer has: those scores are ignored" in \
        response.get_json()["warnings"]


def test_a_rename_reaches_the_pack_stored_data_and_the_model_trained_before_it(client):
    assert "ip" in _flagged(client, IP_DRAFT)
    storage = client.application.extensions["draftguard"]["storage"]
    client.post("/v1/admin/examples", headers=AUTH, json={"examples": [
        {"text": IP_DRAFT, "labels": ["ip", "confidential"]}, {"text": "Lovely hike today", "labels": []}]})
    storage.feedback.add("missed", ["ip"], None, None, None, None)
    pack = _pack(client)
    pack["terms"] = [{"term": "Heron engine", "category": "ip"}]
    pack = client.put("/v1/admin/policy", json=pack, headers=AUTH).get_json()["policy"]

    response = client.post("/v1/admin/policy/categories/ip/rename", headers=AUTH,
                           json={"to": "intellectual_property", "version": pack["version"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["relabelled"] == {"examples": 1, "feedback": 1} and body["warnings"] == []
    renamed = next(c for c in body["policy"]["categories"] if c["id"] == "intellectual_property")
    assert renamed["formerly"] == ["ip"]
    assert body["policy"]["terms"] == [{"term": "Heron engine", "category": "intellectual_property"}]
    assert "ip" not in body["policy"]["categories"] and "ip" not in body["policy"]["detectors"].values()
    # The model trained with "ip" scores the renamed category, spans and all.
    verdict = client.post("/v1/check", json={"text": IP_DRAFT}).get_json()
    category = next(c for c in verdict["categories"] if c["id"] == "intellectual_property")
    assert category["flagged"] and category["spans"]
    assert "ip" not in {c["id"] for c in verdict["categories"]}
    assert "intellectual_property" in _flagged(client, "The Heron engine internals, as a thread")
    assert sorted(e["labels"] for e in storage.examples.page()[0]) == [[], ["confidential", "intellectual_property"]]
    assert storage.feedback.recent()[0]["categories"] == ["intellectual_property"]
    audit = client.get("/v1/admin/audit", headers=AUTH).get_json()["items"][0]
    assert audit["action"] == "policy.rename_category"
    assert audit["detail"]["from"] == "ip" and audit["detail"]["to"] == "intellectual_property"


@pytest.mark.parametrize("to, status, message", [
    ("security", 409, "already used"),
    ("Bad Id", 400, "lowercase letters"),
])
def test_a_rename_to_a_taken_or_malformed_id_changes_nothing(client, to, status, message):
    pack = _pack(client)
    response = client.post("/v1/admin/policy/categories/ip/rename", headers=AUTH, json={"to": to, "version": pack["version"]})
    assert response.status_code == status and message in response.get_json()["error"]["message"]
    assert _pack(client) == pack


def test_renaming_an_unknown_category_is_404(client):
    response = client.post("/v1/admin/policy/categories/gossip/rename", headers=AUTH,
                           json={"to": "rumours", "version": _pack(client)["version"]})
    assert response.status_code == 404


def test_training_after_a_rename_reads_the_old_labels_as_the_new_id(tmp_path):
    # Labelled "ip", as the shipped corpus is; each category twice, so each gets a model score.
    rows = [{"id": f"r-{n}-{i}", "text": f"{text} ({variant})", "labels": labels}
            for n, variant in enumerate(("first", "again")) for i, (text, labels) in enumerate(SMALL)]
    train_dir = tmp_path / "train"
    write_jsonl(train_dir / "a.jsonl", rows[::2])
    write_jsonl(train_dir / "b.jsonl", rows[1::2])
    test = write_jsonl(tmp_path / "test.jsonl", [{**r, "id": f"t-{r['id']}", "text": r["text"] + "!"} for r in rows])
    pack = default_pack()
    categories = [c.model_copy(update={"id": "intellectual_property", "formerly": ["ip"]}) if c.id == "ip" else c
                  for c in pack.categories]
    renamed = parse_pack({**pack.model_dump(), "categories": [c.model_dump() for c in categories],
                          "detectors": pack.detectors})
    registry = Registry(tmp_path / "models")
    metadata = train_and_register(registry, renamed, [train_dir], test, activate=True)
    model = registry.load(metadata["version"])
    assert "intellectual_property" in model.categories and "ip" not in model.categories
    assert classifier.model_columns(model, renamed)["intellectual_property"] == model.categories.index("intellectual_property")


def test_former_ids_cannot_be_reused_by_another_category():
    pack = default_pack().model_dump()
    pack["categories"][0]["formerly"] = ["security"]
    with pytest.raises(PolicyError, match="duplicate category ids \\(current or former\\): security"):
        parse_pack(pack)


def test_the_console_keeps_ids_read_only_and_renames_with_its_own_form(app, admin):
    page = admin.get("/admin/policy").get_data(as_text=True)
    assert '<input name="cat-0-id" value="confidential" size="14" aria-label="id" readonly' in page
    version = app.extensions["draftguard"]["policy"].current().version
    response = post_form(admin, "/admin/policy/rename", {"category": "ip", "to": "intellectual_property",
                                                         "version": str(version)}, "/admin/policy")
    assert response.status_code == 302
    page = admin.get("/admin/policy").get_data(as_text=True)
    assert "Renamed ip to intellectual_property" in page and "formerly ip" in page
    assert app.extensions["draftguard"]["policy"].current().category("intellectual_property").formerly == ["ip"]

    # A plain save keeps the former ids and the detectors' routes.
    form = policy_form(admin)
    form["cat-0-title"] = "Confidential information"
    assert post_form(admin, "/admin/policy", form, "/admin/policy").status_code == 302
    saved = app.extensions["draftguard"]["policy"].current()
    assert saved.category("intellectual_property").formerly == ["ip"]
    assert saved.detectors == default_pack().detectors


def test_the_console_marks_a_category_the_model_does_not_score(app, admin):
    form = policy_form(admin)
    count = sum(1 for key in form if key.endswith("-title"))
    form.update({f"cat-{count}-id": "medical", f"cat-{count}-title": "Medical", f"cat-{count}-guidance": "Private."})
    response = post_form(admin, "/admin/policy", form, "/admin/policy", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Medical has no model score" in page  # the save's warning
    assert "<strong>no model score</strong>" in page
