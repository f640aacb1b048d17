"""The decision at its boundaries: how model scores, detector findings, company terms and the
policy pack's thresholds become each category's verdict (classifier._combine, decide,
Model.thresholds_for).

The scores are given exactly (a `Decision` is the decision's input), so a test can stand right
on a threshold; the model, the detectors and the pack are the real ones.
"""
import numpy as np
import pytest

from engine import classifier
from engine.policy import Category, Term, default_pack
from engine.textnorm import normalize, normalize_text

PACK = default_pack()
CLEAN = "Lovely walk by the river this morning."
EMAIL = "Drop a line to jane.doe@example.com about it."  # a soft privacy finding
CARD = "Card 4111 1111 1111 1111 is on the desk."        # a hard privacy finding
LONG = ("What a weekend. We drove up to the lake on Saturday morning and the kids spent the whole day in "
        "the water while I read on the jetty. Sunday was my mum's seventieth, so the whole family squeezed "
        "into her little garden for a barbecue and far too much cake. ") * 3


@pytest.fixture(scope="module")
def model(trained_model):
    return trained_model


def verdicts(model, text, scores=None, pack=PACK, with_spans=False):
    """Each category's verdict on `text` when the model scores it `scores` (others 0)."""
    values = np.zeros(len(model.categories))
    for category, value in (scores or {}).items():
        values[model.categories.index(category)] = value
    normalized = normalize(text)
    decision = classifier.Decision(values, classifier.window_plan(normalized.text), np.full(len(values), -1))
    verdict = classifier._combine(model, text, normalized, decision, pack, with_spans)
    return {c.id: c for c in verdict.categories}


def with_category(pack, category_id, **changes):
    categories = [c.model_copy(update=changes) if c.id == category_id else c for c in pack.categories]
    return pack.model_copy(update={"categories": categories})


@pytest.mark.parametrize("category", PACK.category_ids)
def test_a_score_exactly_at_the_learnt_threshold_flags_and_just_below_does_not(model, category):
    threshold = model.thresholds[category]
    at = verdicts(model, CLEAN, {category: threshold})[category]
    below = verdicts(model, CLEAN, {category: np.nextafter(threshold, 0)})[category]
    assert at.flagged and at.threshold == threshold and at.score == round(threshold, 4)
    assert not below.flagged


@pytest.mark.parametrize("pack_threshold, score, flagged", [
    (0.9, 0.85, False),  # above the learnt 0.70, below the pack's stricter threshold
    (0.3, 0.3, True),    # below the learnt threshold, at the pack's looser one
    (0.3, 0.29, False),
])
def test_the_policy_packs_threshold_replaces_the_learnt_one(model, pack_threshold, score, flagged):
    assert model.thresholds["financial"] == 0.7  # the premise of the cases above
    pack = with_category(PACK, "financial", threshold=pack_threshold)
    financial = verdicts(model, CLEAN, {"financial": score}, pack)["financial"]
    assert financial.threshold == pack_threshold
    assert financial.flagged is flagged


def test_long_drafts_take_the_long_thresholds_and_short_ones_the_others(model):
    assert classifier.window_plan(normalize_text(LONG)) is not None
    assert model.long_thresholds != model.thresholds  # else the test could not tell them apart
    assert {c: v.threshold for c, v in verdicts(model, LONG).items()} == model.long_thresholds
    assert {c: v.threshold for c, v in verdicts(model, CLEAN).items()} == model.thresholds


@pytest.mark.parametrize("long_thresholds, windowed, expected", [
    ({"a": 0.8}, True, {"a": 0.8}),
    ({"a": 0.8}, False, {"a": 0.5}),
    ({}, True, {"a": 0.5}),  # a model trained without long drafts has one set for all
])
def test_thresholds_for_picks_the_set_for_the_drafts_length(long_thresholds, windowed, expected):
    model = classifier.Model(None, ("a",), {"a": 0.5}, long_thresholds)
    plan = classifier.window_plan(normalize_text(LONG)) if windowed else None
    assert model.thresholds_for(plan) == expected


# A soft finding (an email address) flags its category once the model's score reaches
# SOFT_FINDING_SHARE of the threshold: the model must lean that way, but need not be sure.
@pytest.mark.parametrize("share, flagged", [
    (0.0, False),                                        # the model sees nothing: an address alone is fine
    (np.nextafter(classifier.SOFT_FINDING_SHARE, 0), False),
    (classifier.SOFT_FINDING_SHARE, True),
    (0.6, True),                                         # leaning, but below the threshold
])
def test_a_soft_finding_flags_only_when_the_model_leans_the_same_way(model, share, flagged):
    threshold = model.thresholds["privacy"]
    privacy = verdicts(model, EMAIL, {"privacy": threshold * share}, with_spans=True)["privacy"]
    assert privacy.flagged is flagged
    # A flagged soft finding reports at least the threshold, and points at the address.
    assert privacy.score == (round(threshold, 4) if flagged else round(threshold * share, 4))
    assert [(s.text, s.source) for s in privacy.spans] == ([("jane.doe@example.com", "detector")] if flagged else [])


def test_a_soft_finding_leaves_a_score_above_the_threshold_as_it_is(model):
    assert verdicts(model, EMAIL, {"privacy": 0.97})["privacy"].score == 0.97


def test_a_hard_finding_flags_on_its_own_with_full_score(model):
    privacy = verdicts(model, CARD, {}, with_spans=True)["privacy"]
    assert privacy.flagged and privacy.score == 1.0
    assert [(s.text, s.source) for s in privacy.spans] == [("4111 1111 1111 1111", "detector")]
    assert not verdicts(model, CARD)["security"].flagged  # a finding flags its own category only


def test_a_company_term_flags_a_category_the_model_does_not_know(model):
    pack = PACK.model_copy(update={
        "categories": [*PACK.categories, Category(id="codenames", title="Codenames", guidance="Keep them in.")],
        "terms": [Term(term="Bluefinch", category="codenames")]})
    text = "Sneak peek: Bluefinch goes to beta next week!"
    codenames = verdicts(model, text, {}, pack, with_spans=True)["codenames"]
    assert codenames.flagged and codenames.score == 1.0 and codenames.threshold == 0.5
    assert [(s.start, s.end, s.text, s.source) for s in codenames.spans] == [(12, 21, "Bluefinch", "term")]
    assert not verdicts(model, "Nothing to see here.", {}, pack)["codenames"].flagged


def test_spans_of_findings_are_capped(model):
    text = " ".join(f"card {n} is 4111 1111 1111 1111." for n in range(classifier.MAX_FINDING_SPANS + 5))
    privacy = verdicts(model, text, {}, with_spans=True)["privacy"]
    assert privacy.flagged and len(privacy.spans) == classifier.MAX_FINDING_SPANS


def test_only_categories_the_model_itself_flags_get_model_spans(model):
    text = "Between us, we are acquiring our biggest competitor next month, so buy shares now."
    result = verdicts(model, text, {"financial": model.thresholds["financial"], "privacy": 0.1}, with_spans=True)
    assert result["financial"].spans and {s.source for s in result["financial"].spans} == {"model"}
    assert all(s.text == text[s.start:s.end] for s in result["financial"].spans)
    assert result["privacy"].spans == []


def test_a_short_draft_is_decided_on_the_whole_text(model):
    text = normalize_text("Between us, we are laying off 300 people in March.")
    decision = classifier.decide(model.fast, text)
    assert decision.plan is None
    assert list(decision.source) == [-1] * len(model.categories)
    assert np.array_equal(decision.scores, model.fast.scores(text))


RISKY = "Between us, we're laying off 300 people in March before the results come out, so sell your shares now. "


# In the first draft one window holds the financial risk; in the second, the whole draft's
# harassment score beats every window's (as the default model scores them).
@pytest.mark.parametrize("text, category, from_window", [
    (LONG[:300] + RISKY + LONG[:300], "financial", True),
    (LONG, "harassment", False),
], ids=["one risky sentence", "ordinary"])
def test_a_long_drafts_score_is_its_best_window_or_the_whole_and_says_which(model, text, category, from_window):
    text = normalize_text(text)
    decision = classifier.decide(model.fast, text)
    whole = model.fast.scores(text)
    windows = model.fast.window_scores(text, decision.plan)
    assert decision.plan is not None and len(decision.plan.windows) == len(windows) >= 3
    for column in range(len(model.categories)):
        source = decision.source[column]
        if source == -1:
            assert decision.scores[column] == whole[column] >= windows[:, column].max()
        else:
            assert decision.scores[column] == windows[source, column] == windows[:, column].max() > whole[column]
    assert bool(decision.source[model.categories.index(category)] >= 0) is from_window


def test_predict_decides_on_the_typed_draft_with_spans_from_detectors_terms_and_the_model(model):
    pack = PACK.model_copy(update={"terms": [Term(term="Bluefinch")]})
    text = "Between us, Bluefinch is acquiring Northwind next month. Pay with card 4111 1111 1111 1111."
    verdict = {c.id: c for c in classifier.predict(model, text, pack).categories}
    assert ("Bluefinch", "term") in [(s.text, s.source) for s in verdict["confidential"].spans]
    assert [(s.text, s.source) for s in verdict["privacy"].spans] == [("4111 1111 1111 1111", "detector")]
    for category in verdict.values():
        assert all(text[s.start:s.end] == s.text for s in category.spans)


BATCH = [CLEAN, EMAIL, CARD, LONG, "Between us, we're laying off 300 people in March, so sell your shares now."]


def test_the_batch_paths_decide_exactly_as_the_single_draft_path(model):
    pack = PACK.model_copy(update={"terms": [Term(term="Bluefinch")]})
    batch = classifier.predict_many(model, [*BATCH, "Bluefinch ships"], pack)
    assert [v.flagged_ids for v in batch][2:] == [["privacy"], [], ["financial"], ["confidential"]]
    for text, verdict in zip([*BATCH, "Bluefinch ships"], batch):
        single = classifier.predict(model, text, pack)
        assert [(c.id, c.score, c.threshold, c.flagged) for c in verdict.categories] == \
               [(c.id, c.score, c.threshold, c.flagged) for c in single.categories]
        assert all(c.spans == [] for c in verdict.categories)  # evaluation needs no spans
    scores = classifier.scores(model, BATCH)
    assert scores.shape == (len(BATCH), len(model.categories))
    for row, text in zip(scores, BATCH):
        assert np.array_equal(row, classifier.score(model, text))
        assert np.array_equal(row, classifier.decide(model.fast, normalize_text(text)).scores)
    assert classifier.scores(model, []).shape == (0, len(model.categories))


def test_a_windows_span_runs_from_its_first_sentence_to_the_end_of_its_last():
    plan = classifier.window_plan(normalize_text(LONG))
    assert len(plan.units) >= 3 and plan.windows == [(i, i + 2) for i in range(len(plan.units) - 1)]
    for window in range(len(plan.windows)):
        assert plan.span(window) == (plan.units[window][0], plan.units[window + 1][1])


def test_a_span_is_sent_as_its_four_fields():
    assert classifier.Span(3, 7, "code", "detector").as_dict() == {"start": 3, "end": 7, "text": "code",
                                                                   "source": "detector"}


def test_a_saved_model_leaves_the_derived_scorer_and_the_training_scores_behind(model):
    assert model.fast is not None  # built on first use
    state = model.__getstate__()
    assert state["_fast"] is None and state["out_of_fold"] is None
    assert {k: v for k, v in state.items() if k not in ("_fast", "out_of_fold")} == \
           {k: v for k, v in vars(model).items() if k not in ("_fast", "out_of_fold")}
    assert model._fast is not None  # saving does not take the scorer from the model in use


ORDINARY = ("What a weekend. We drove up to the lake on Saturday morning and the kids spent the whole day in "
            "the water while I read on the jetty. ")
# Leans financial a little ("results", "stock", "announcement") but is harmless.
DECOY = "I shared the quiz results with the team, and our stock of biscuits is low again after the big announcement of cake. "


@pytest.mark.parametrize("text, window", [
    (RISKY + ORDINARY + DECOY + ORDINARY, 0),
    (DECOY + ORDINARY + ORDINARY + RISKY, 2),
], ids=["first window", "last window"])
def test_a_long_drafts_model_spans_come_from_the_window_that_scored(model, text, window):
    decision = classifier.decide(model.fast, normalize_text(text))
    assert decision.source[model.categories.index("financial")] == window
    start, end = decision.plan.span(window)
    financial = {c.id: c for c in classifier.predict(model, text, PACK).categories}["financial"]
    # Explained over the whole draft, the decoy's "big announcement" would be among them.
    assert financial.spans and all(start <= s.start and s.end <= end for s in financial.spans)


def test_model_spans_join_the_detector_spans_of_the_same_category(model):
    text = ("Nurse life: Mrs. Patel in bed 12 finally got her cancer diagnosis confirmed today, poor thing. "
            "Her card 4111 1111 1111 1111 is at the desk.")
    privacy = {c.id: c for c in classifier.predict(model, text, PACK).categories}["privacy"]
    assert [(s.text, s.source) for s in privacy.spans if s.source == "detector"] == [("4111 1111 1111 1111", "detector")]
    assert "her cancer diagnosis" in [s.text for s in privacy.spans if s.source == "model"]
    assert [s.start for s in privacy.spans] == sorted(s.start for s in privacy.spans)


@pytest.mark.parametrize("text, units", [
    # A "sentence" shorter than UNIT_MIN (40) joins the next one; one of exactly 40 stands alone.
    ("a" * 50 + ". " + "Hi all. " + "b" * 45 + ".", [(0, 52), (52, 106)]),
    ("a" * 38 + ". " + "b" * 45 + ".", [(0, 40), (40, 86)]),
    # One longer than UNIT_MAX (300) is cut at its last space before 300 characters, or at 300.
    ("abcd " * 70, [(0, 299), (299, 350)]),
    ("x" * 350, [(0, 300), (300, 350)]),
    ("abc " * 75, [(0, 300)]),
])
def test_sentence_units_join_short_sentences_and_cut_long_ones(text, units):
    assert classifier.sentence_units(text) == units


@pytest.mark.parametrize("text, windows", [
    ("a" * 200 + ". " + "b" * 198, None),      # exactly LONG_DRAFT characters: scored whole
    ("a" * 200 + ". " + "b" * 199, [(0, 2)]),  # one more: two sentences make one window
    (("c" * 100 + ". ") * 5, [(0, 2), (1, 3), (2, 4), (3, 5)]),
    ("x" * 300 + " " * 101, None),             # long only by its trailing spaces: one sentence
])
def test_drafts_longer_than_long_draft_are_cut_into_windows_of_two_sentences(text, windows):
    plan = classifier.window_plan(text)
    assert (plan.windows if plan else None) == windows


def test_scores_are_reported_to_four_decimals(model):
    assert verdicts(model, CLEAN, {"financial": 0.123456})["financial"].score == 0.1235
