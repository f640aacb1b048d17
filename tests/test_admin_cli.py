"""The admin CLI (`flask --app server ...`): accounts, example import/export, model versions."""
import json

from conftest import on_both_databases
from engine.dataset import read_corpus
from engine.registry import Registry


def storage_of(app):
    return app.extensions["draftguard"]["storage"]


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


@on_both_databases
def test_admins_are_added_listed_and_removed(app):
    result = run(app, "admins", "add", "alice", input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert storage_of(app).admins.password_hash("alice").startswith("scrypt:")
    assert run(app, "admins", "add", "alice", input="a long password\na long password\n").exit_code == 1
    assert run(app, "admins", "add", "bob", input="short\nshort\n").exit_code == 1
    assert run(app, "admins", "add", "no spaces", input="a long password\na long password\n").exit_code == 1
    assert "alice" in run(app, "admins", "list").output
    assert run(app, "admins", "password", "alice", input="another password\nanother password\n").exit_code == 0
    assert run(app, "admins", "remove", "alice").exit_code == 0
    assert run(app, "admins", "remove", "alice").exit_code == 1
    entries = [(e["actor"].split(":")[0], e["action"]) for e in storage_of(app).audit.page()[0]]
    assert entries == [("cli", "admins.remove"), ("cli", "admins.password"), ("cli", "admins.add")]


def test_examples_import_stores_a_valid_file(app, tmp_path):
    path = tmp_path / "heron.jsonl"
    path.write_text('{"text": "Heron ships in May", "labels": ["confidential"]}\n{"text": "Nice lunch", "labels": []}\n')
    checked = run(app, "examples", "import", "--check", str(path))
    assert checked.exit_code == 0 and "2 valid examples" in checked.output
    assert storage_of(app).examples.page()[1] == 0
    result = run(app, "examples", "import", str(path))
    assert result.exit_code == 0 and "Stored 2 examples" in result.output
    assert {e["source"] for e in storage_of(app).examples.page()[0]} == {"upload:heron.jsonl"}


def test_examples_import_reports_every_bad_row_and_stores_nothing(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,labels\nHeron ships,confidential\n,privacy\nOsprey,gossip\n")
    result = run(app, "examples", "import", str(path))
    assert result.exit_code == 2
    assert "bad.csv:3: empty or missing text" in result.output
    assert "bad.csv:4: unknown label(s) gossip" in result.output
    assert "nothing was stored" in result.output
    assert storage_of(app).examples.page()[1] == 0


@on_both_databases
def test_examples_export_is_a_training_file(app, tmp_path):
    source = tmp_path / "a.csv"
    source.write_text("text,labels\nHeron ships in May,confidential;financial\nNice lunch,\n")
    run(app, "examples", "import", str(source))
    exported = tmp_path / "company.jsonl"
    assert run(app, "examples", "export", str(exported)).exit_code == 0
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [(r["text"], r["labels"]) for r in rows] == [("Heron ships in May", ["confidential", "financial"]),
                                                       ("Nice lunch", [])]
    categories = app.extensions["draftguard"]["policy"].current().category_ids
    assert len(read_corpus([exported], categories)) == 2  # what `python -m train --data` reads


def test_models_are_listed_and_activated(app, models_dir):
    registry = Registry(models_dir)
    first = registry.active_version()
    registry.add("2099-01-01T00-00-00Z-copy", registry.load(first), {"created": "2099-01-01T00:00:00+00:00"}, "# copy\n")
    listing = run(app, "models", "list").output
    assert f"* {first}" in listing and "  2099-01-01T00-00-00Z-copy" in listing
    result = run(app, "models", "activate", "2099-01-01T00-00-00Z-copy")
    assert result.exit_code == 0 and f"(was {first})" in result.output
    assert registry.active_version() == "2099-01-01T00-00-00Z-copy"
    assert run(app, "models", "activate", first).exit_code == 0  # roll back
    assert registry.active_version() == first
    missing = run(app, "models", "activate", "nope")
    assert missing.exit_code == 1 and "no model version 'nope'" in missing.output
    assert [e["action"] for e in storage_of(app).audit.page()[0]] == ["model.rollback", "model.promote"]
