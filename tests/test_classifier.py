"""The classifier on the real corpus: fast path equals the pipeline, spans are faithful, quality holds."""
import numpy as np
import pytest

from engine import classifier
from engine.dataset import read_corpus
from engine.policy import default_pack
from engine.textnorm import normalize_text
from server import config

PACK = default_pack()


@pytest.fixture(scope="module")
def model(trained_model):
    return trained_model


@pytest.fixture(scope="module")
def test_examples():
    return read_corpus([config.from_env()["TEST_DATA"]], PACK.category_ids)


def test_fast_single_draft_path_equals_the_pipeline(model, test_examples):
    texts = [e.text for e in test_examples]
    batch = model.pipeline.predict_proba(texts)
    single = np.vstack([model.fast.scores(normalize_text(t)) for t in texts])
    assert np.abs(batch - single).max() < 1e-4


def test_each_window_row_is_the_tfidf_of_its_sentences_counts(model, test_examples):
    view = model.fast.view
    long_texts = [normalize_text(e.text) for e in test_examples if len(e.text) > 600][:25]
    assert len(long_texts) == 25
    for text in long_texts:
        plan = classifier.window_plan(text)
        matrix = view.window_matrix(text, plan).toarray()
        assert matrix.shape == (len(plan.windows), view.size)
        for row, (first, last) in enumerate(plan.windows):
            # A window's counts are the sum of its sentences' counts (no word bigram across a
            # sentence boundary), weighted like any draft's.
            sentences = [view.counts(text[start:end]) for start, end in plan.units[first:last]]
            indices, values = view.tfidf([classifier._merge(block) for block in zip(*sentences)])
            expected = np.zeros(view.size)
            expected[indices] = values
            assert np.abs(matrix[row] - expected).max() < 1e-9


def test_a_long_draft_is_scored_on_its_windows_and_spans_come_from_the_window(model):
    ordinary = ("What a weekend. We drove up to the lake on Saturday morning and the kids spent the whole "
                "day in the water while I read on the jetty. Sunday was my mum's seventieth, so the whole "
                "family squeezed into her little garden for a barbecue and far too much cake. ")
    risky = "Between us, we're laying off 300 people in March before the results come out, so sell your shares now. "
    text = ordinary + risky + ordinary.replace("Saturday", "Friday")
    decision = classifier.decide(model.fast, normalize_text(text))
    column = model.categories.index("financial")
    assert decision.plan is not None and decision.source[column] >= 0
    assert decision.scores[column] > model.fast.scores(normalize_text(text))[column]
    verdict = classifier.predict(model, text, PACK)
    financial = next(c for c in verdict.categories if c.id == "financial")
    assert financial.flagged and financial.threshold == model.long_thresholds["financial"]
    window_start, window_end = decision.plan.span(int(decision.source[column]))
    for span in financial.spans:
        assert window_start <= span.start and span.end <= window_end + 1


def test_every_span_points_at_its_own_text_and_flagged_categories_have_spans(model, test_examples):
    for example in test_examples:
        verdict = classifier.predict(model, example.text, PACK)
        for category in verdict.categories:
            if category.flagged:
                assert category.spans, (example.id, category.id)
            for span in category.spans:
                assert example.text[span.start:span.end] == span.text
                assert span.text.strip()


def test_model_spans_land_on_the_risky_words(model):
    text = ("Great week overall! Between us, we are acquiring our biggest competitor next month, "
            "so maybe buy some shares before the announcement. Anyway, happy Friday!")
    verdict = classifier.predict(model, text, PACK)
    financial = next(c for c in verdict.categories if c.id == "financial")
    assert financial.flagged
    highlighted = " ".join(s.text.lower() for s in financial.spans)
    assert any(word in highlighted for word in ("acquiring", "shares", "announcement", "buy"))
    assert "friday" not in highlighted


@pytest.mark.parametrize("text", [
    "Thrilled to share that our Q3 results, published this morning, beat expectations. Full release: https://investors.example.com/q3",
    "Security tip of the week: never reuse a password, and turn on two-factor authentication everywhere.",
    "We're hiring! Our platform team is looking for two senior engineers. Apply via our careers page.",
    "Had a lovely weekend hiking with the family, the view from the ridge was worth every step.",
])
def test_benign_posts_that_mention_risky_topics_are_not_flagged(model, text):
    assert classifier.predict(model, text, PACK).flagged_ids == []


@pytest.mark.parametrize("text, category", [
    ("Can't say much yet but we're laying off about 300 people in March, announcement isn't out till after earnings", "financial"),
    ("Our CEO is an absolute clown and the product is garbage, honestly embarrassed to work here", "disparagement"),
    ("On behalf of the company I can promise every customer affected by the outage a full refund", "unauthorized"),
    ("Nurse life: Mrs. Patel in bed 12 finally got her cancer diagnosis confirmed today, poor thing", "privacy"),
])
def test_clear_risks_are_flagged(model, text, category):
    assert category in classifier.predict(model, text, PACK).flagged_ids


# Floors a little below what the default corpus measured on drafts by writers the model never
# saw (BENCHMARKS.md, the model report): a change that makes the classifier clearly worse fails
# here. The targets are micro-F1 >= 0.85, every category's recall >= 0.75, long-draft
# recall >= 0.75, clean drafts flagged <= 4% and hard negatives <= 6%; confidential's recall
# (0.63) is below its target, and its floor says where it stands, not where it should be.
MIN_MICRO_F1 = 0.85
MAX_CLEAN_FLAGGED = 0.04
MAX_HARD_NEGATIVES_FLAGGED = 0.06
MIN_LONG_RECALL = 0.80
MIN_RECALL = {"confidential": 0.60, "financial": 0.75, "privacy": 0.78, "harassment": 0.92,
              "disparagement": 0.80, "unauthorized": 0.90, "security": 0.87, "ip": 0.92}
MIN_SECONDARY_MICRO_F1 = 0.87


def test_quality_on_drafts_by_writers_the_model_never_saw(trained_metadata):
    metrics = trained_metadata["metrics"]
    assert trained_metadata["test_source"] == "unseen-writers.jsonl"
    assert metrics["examples"] >= 1500
    assert metrics["micro"]["f1"] >= MIN_MICRO_F1, metrics["micro"]
    assert metrics["clean_flagged_rate"] <= MAX_CLEAN_FLAGGED, metrics["clean_flagged_rate"]
    assert metrics["hard_negative_flagged_rate"] <= MAX_HARD_NEGATIVES_FLAGGED, metrics["hard_negative_flagged_rate"]
    assert metrics["by_length"]["long (>400)"]["recall"] >= MIN_LONG_RECALL, metrics["by_length"]
    for category, figures in metrics["per_category"].items():
        assert figures["support"] >= 100, category
        assert figures["recall"] >= MIN_RECALL[category], (category, figures)


def test_quality_on_the_secondary_test_file(trained_metadata):
    (secondary,) = trained_metadata["secondary_tests"]
    assert secondary["source"] == "test.jsonl"
    assert secondary["metrics"]["micro"]["f1"] >= MIN_SECONDARY_MICRO_F1, secondary["metrics"]["micro"]


def test_training_holds_out_whole_writers(trained_metadata):
    assert trained_metadata["train_writers"] >= 13
    assert trained_metadata["train_examples"] >= 10_000
