"""The training CLI and dataset validation: bad data is rejected whole and nothing is written."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.dataset import DatasetError, parse_examples, read_corpus
from engine.policy import default_pack
from server.storage import Storage, sqlite_url

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = default_pack().category_ids

SMALL = [
    ("Our Q3 revenue will beat guidance, load up on the stock before Thursday", ["financial"]),
    ("We are acquiring a competitor next month, not announced yet", ["financial", "confidential"]),
    ("Project Osprey ships in May with the new enterprise tier, internal only", ["confidential"]),
    ("Patient in bed 4, Mrs Ortega, just got her HIV results back", ["privacy"]),
    ("You people are vermin and I know where you live", ["harassment"]),
    ("Our CEO is a clown and our product is garbage", ["disparagement"]),
    ("On behalf of the company I promise every customer a full refund", ["unauthorized"]),
    ("Here's the VPN login for everyone, password is Summer2024!", ["security"]),
    ("Pasting our proprietary ranking code here, enjoy", ["ip"]),
    ("Loved the public earnings call today, congrats team", []),
    ("Security tip: never share your password with anyone", []),
    ("We're hiring backend engineers, apply on our careers page", []),
    ("Had a lovely weekend hiking with the family", []),
    ("Proud of my colleague Ana who agreed I could share her award", []),
]


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def small_corpus(folder: Path) -> tuple[Path, Path]:
    rows = [{"id": f"s-{i}", "text": text, "labels": labels} for i, (text, labels) in enumerate(SMALL)]
    half = len(rows) // 2
    write_jsonl(folder / "train" / "a.jsonl", rows[:half])
    write_jsonl(folder / "train" / "b.jsonl", rows[half:])
    test = write_jsonl(folder / "test.jsonl", [{**r, "id": f"t-{i}", "text": r["text"] + "!"} for i, r in enumerate(rows)])
    return folder / "train", test


def run_train(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_trains_registers_and_activates_the_first_version(tmp_path):
    train_dir, test = small_corpus(tmp_path)
    models = tmp_path / "models"
    result = run_train("--data", str(train_dir), "--test", str(test), "--models-dir", str(models))
    assert result.returncode == 0, result.stderr
    index = json.loads((models / "registry.json").read_text())
    version = index["active"]
    assert version in result.stdout and "micro" in result.stdout
    folder = models / version
    assert {p.name for p in folder.iterdir()} == {"model.joblib", "metadata.json", "report.md"}
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["train_examples"] == len(SMALL)
    assert set(metadata["metrics"]["per_category"]) == set(CATEGORIES)

    second = run_train("--data", str(train_dir), "--test", str(test), "--models-dir", str(models), "--quiet")
    assert second.returncode == 0
    assert json.loads((models / "registry.json").read_text())["active"] == version, "a retrain is only a candidate"
    skipped = run_train("--if-missing", "--models-dir", str(models))
    assert skipped.returncode == 0 and "nothing to train" in skipped.stdout


def test_training_is_deterministic(tmp_path):
    from engine import classifier
    texts = [t for t, _ in SMALL]
    labels = [l for _, l in SMALL]
    groups = ["a"] * 7 + ["b"] * 7
    first = classifier.fit(texts, labels, CATEGORIES, groups)
    second = classifier.fit(texts, labels, CATEGORIES, groups)
    assert first.thresholds == second.thresholds
    probe = ["is the vpn password still Summer2024!", "great hike today"]
    assert (classifier.scores(first, probe) == classifier.scores(second, probe)).all()


@pytest.mark.parametrize("line, message", [
    ('{"id": "x1", "text": "hello", "labels": ["gossip"]}', "unknown label(s) gossip"),
    ('{"id": "x1", "text": "   ", "labels": []}', "empty or missing text"),
    ('{"id": "x1", "labels": []}', "empty or missing text"),
    ('{"id": "x1", "text": "hi", "labels": "privacy"}', "labels must be a list"),
    ('{"id": "x1", "text": "hi", "labels": ["privacy", "privacy"]}', "a label is repeated"),
    ('{"id": "x1", "text": "hi"', "not valid JSON"),
    ('["not", "an", "object"]', "each line must be a JSON object"),
])
def test_row_errors_name_the_file_line_and_reason(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "text": "fine", "labels": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        read_corpus([path], CATEGORIES)
    assert f"{path}:2: " in str(caught.value) and message in str(caught.value)


def test_duplicate_ids_and_texts_across_files_are_rejected(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "same", "text": "Hello world", "labels": []}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "same", "text": "hello   WORLD", "labels": []}])
    with pytest.raises(DatasetError) as caught:
        read_corpus([tmp_path], CATEGORIES)
    assert "duplicate id 'same'" in str(caught.value) and "duplicate text" in str(caught.value)


def test_csv_with_semicolon_labels_is_accepted_and_bad_encoding_is_not(tmp_path):
    csv_bytes = 'id,text,labels\nc1,"Door code is 4417, don\'t tell",security\nc2,Nice day,\nc3,"Deal + leak",financial;confidential\n'.encode()
    examples = parse_examples(csv_bytes, "upload.csv", CATEGORIES)
    assert [(e.id, e.labels) for e in examples] == [
        ("c1", ("security",)), ("c2", ()), ("c3", ("confidential", "financial"))]
    with pytest.raises(DatasetError) as caught:
        parse_examples("id,text,labels\nc1,caf\xe9,\n".encode("latin-1"), "upload.csv", CATEGORIES)
    assert "not UTF-8" in str(caught.value)
    with pytest.raises(DatasetError) as caught:
        parse_examples(b"id,body\n1,hi\n", "upload.csv", CATEGORIES)
    assert "`text` and `labels`" in str(caught.value)


def test_cli_rejects_a_corrupt_corpus_and_writes_nothing(tmp_path):
    train_dir, test = small_corpus(tmp_path)
    with open(train_dir / "b.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"id": "bad", "text": "", "labels": ["nonsense"]}\n')
    (train_dir / "c.jsonl").write_bytes(b'{"id": "latin", "text": "caf\xe9", "labels": []}\n')
    models = tmp_path / "models"
    result = run_train("--data", str(train_dir), "--test", str(test), "--models-dir", str(models))
    assert result.returncode == 2
    assert "nothing was written" in result.stderr
    assert "b.jsonl:8: empty or missing text" in result.stderr
    assert "unknown label(s) nonsense" in result.stderr
    assert "c.jsonl:1: not UTF-8" in result.stderr
    assert not models.exists()


def test_cli_reports_missing_paths_and_bad_arguments(tmp_path):
    missing = run_train("--data", str(tmp_path / "nope"), "--models-dir", str(tmp_path / "m"))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    bad_flag = run_train("--seed", "many")
    assert bad_flag.returncode == 2 and "invalid int value" in bad_flag.stderr
    assert not (tmp_path / "m").exists()


def test_rows_are_grouped_by_their_writer(tmp_path):
    rows = [{"id": "a", "text": "one", "labels": [], "writer": "ada"},
            {"id": "b", "text": "two", "labels": []}]
    examples = parse_examples(json.dumps(rows[0]).encode() + b"\n" + json.dumps(rows[1]).encode(),
                              "slice.jsonl", CATEGORIES)
    assert [e.group for e in examples] == ["writer:ada", "slice"]


def test_folds_keep_writers_whole_and_spread_company_examples():
    from engine.classifier import assign_folds
    groups = ["writer:a"] * 5 + ["writer:b"] * 4 + ["writer:c"] * 3 + ["company:upload"] * 6
    folds = assign_folds(groups, 3)
    for writer in ("writer:a", "writer:b", "writer:c"):
        assert len({folds[i] for i, g in enumerate(groups) if g == writer}) == 1
    assert len({folds[i] for i, g in enumerate(groups) if g == "writer:a"} |
               {folds[i] for i, g in enumerate(groups) if g == "writer:b"} |
               {folds[i] for i, g in enumerate(groups) if g == "writer:c"}) == 3
    company = [int(folds[i]) for i, g in enumerate(groups) if g.startswith("company:")]
    assert sorted(company) == [0, 0, 1, 1, 2, 2]


def synthetic_scores(tail_high: float):
    import numpy as np
    rng = np.random.default_rng(0)
    # Two categories. Most drafts score low on both; a tenth of them reach up to `tail_high`;
    # positives score from 0.55 up.
    y = np.zeros((1000, 2), dtype=np.int8)
    y[:150, 0] = 1
    y[150:300, 1] = 1
    scores = rng.uniform(0.0, 0.5, size=(1000, 2))
    tail = rng.random(1000) < 0.1
    scores[tail] = rng.uniform(0.5, tail_high, size=(tail.sum(), 2))
    scores[:150, 0] = rng.uniform(0.55, 1.0, 150)
    scores[150:300, 1] = rng.uniform(0.55, 1.0, 150)
    return y, scores


def clean_flagged(y, scores, thresholds) -> float:
    flagged = (scores[:, 0] >= thresholds["a"]) | (scores[:, 1] >= thresholds["b"])
    return flagged[~y.any(axis=1)].mean()


def test_thresholds_rise_from_the_best_f_beta_until_the_clean_share_is_met():
    import numpy as np
    from engine import classifier
    y, scores = synthetic_scores(0.8)
    short, _ = classifier.choose_thresholds(y, scores, np.zeros(1000, dtype=bool), ["a", "b"])
    best = {name: classifier.choose_threshold(y[:, column], scores[:, column]) for name, column in (("a", 0), ("b", 1))}
    assert best != short  # the per-category choice alone flags too many clean drafts here
    assert clean_flagged(y, scores, best) > classifier.CLEAN_FLAGGED_TARGET
    assert clean_flagged(y, scores, short) <= classifier.CLEAN_FLAGGED_TARGET
    for name in ("a", "b"):
        assert best[name] <= short[name] <= best[name] + classifier.MAX_RAISE + 1e-9
        if short[name] > best[name]:  # raised only as far as needed
            lower = dict(short, **{name: round(short[name] - 0.01, 2)})
            assert clean_flagged(y, scores, lower) > classifier.CLEAN_FLAGGED_TARGET


def test_no_threshold_rises_past_its_limit_even_if_the_cap_is_missed():
    import numpy as np
    from engine import classifier
    y, scores = synthetic_scores(1.0)  # some clean drafts score as high as positives
    short, _ = classifier.choose_thresholds(y, scores, np.zeros(1000, dtype=bool), ["a", "b"])
    for name, column in (("a", 0), ("b", 1)):
        best = classifier.choose_threshold(y[:, column], scores[:, column])
        assert short[name] <= best + classifier.MAX_RAISE + 1e-9


def test_cross_validation_holds_out_each_writer(tmp_path):
    rows = []
    for writer in ("ada", "bo", "cy"):
        for i, (text, labels) in enumerate(SMALL):
            rows.append({"id": f"{writer}-{i}", "writer": writer, "text": f"{text} ({writer} {i})", "labels": labels})
    data = write_jsonl(tmp_path / "writers.jsonl", rows)
    result = run_train("--cross-validate", "--data", str(data))
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split("|")[1].strip() for line in table] == ["ada", "bo", "cy"]
    assert "Median micro-F1 over 3 held-out writers" in result.stdout


def test_cross_validation_needs_three_writers(tmp_path):
    train_dir, _ = small_corpus(tmp_path)
    result = run_train("--cross-validate", "--data", str(train_dir))
    assert result.returncode == 1 and "at least 3 writers" in result.stderr


def test_a_data_error_leads_with_its_root_cause_and_lists_a_few_rows_by_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "corpus" / "a.jsonl", [{"text": f"draft {n}", "labels": ["gossip"]} for n in range(15)])
    with pytest.raises(DatasetError) as caught:
        read_corpus([tmp_path / "corpus"], CATEGORIES)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("15 problem(s) in the data, so nothing was written; the first is "
                               "corpus/a.jsonl:1: unknown label(s) gossip")
    assert lines[1:3] == [f"  corpus/a.jsonl:{n}: unknown label(s) gossip; known: {', '.join(CATEGORIES)}" for n in (1, 2)]
    assert len(lines) == 1 + 10 + 1 and lines[-1] == "  … and 5 more"
    assert str(tmp_path) not in str(caught.value)


def test_the_audit_keeps_a_failed_jobs_root_cause_not_every_row(tmp_path):
    storage = Storage(sqlite_url(tmp_path / "db.sqlite3"))
    storage.migrate()
    assert storage.jobs.create("j1", "api", stale_after=60)
    storage.jobs.finish("j1", error="3 problem(s) in the data, so nothing was written; the first is a.jsonl:1: x\n"
                                    "  a.jsonl:1: x\n  a.jsonl:2: x\n  a.jsonl:3: x")
    assert storage.jobs.get("j1")["error"].count("\n") == 3  # the job page shows the list
    detail = storage.audit.page()[0][0]["detail"]
    assert detail["error"] == "3 problem(s) in the data, so nothing was written; the first is a.jsonl:1: x"
