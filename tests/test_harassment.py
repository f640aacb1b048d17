"""Harassment as a functional specification: what must be flagged and what must not.

The cases in data/harassment_functional.jsonl were written for this test, apart from the
corpus. Each function has a floor: the share of its cases decided right by the full check
(model, normalisation of obfuscated spellings, thresholds) on the default model.
"""
import collections
import json
from pathlib import Path

import pytest

from engine import classifier
from engine.policy import default_pack
from engine.registry import Registry

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "harassment_functional.jsonl").open(encoding="utf-8")]
# Share of each function's cases the default model must decide right (flagged as harassment
# when it should be, not flagged for harassment when it should not): one case below what it
# measured, except where that would leave no floor at all. Negated positives ("X are never any
# good at ...") are the weak spot: 1 of 4 measured.
FLOORS = {
    "slur": 0.75, "slur_obfuscated": 0.85, "threat": 0.66, "should_be_hurt": 0.6, "dehumanising": 0.6,
    "derogatory_group": 0.6, "hate_question": 0.75, "hate_opinion": 0.5, "negated_positive": 0.25,
    "insult_named": 0.6, "counter_speech": 0.7, "identity_neutral_positive": 0.7,
    "profanity_untargeted": 0.8, "resembles_slur": 0.85,
}
MIN_OVERALL = 0.8


@pytest.fixture(scope="module")
def decided(trained_models):
    registry = Registry(trained_models)
    model = registry.load(registry.active_version())
    results = collections.defaultdict(list)
    for case in CASES:
        flagged = "harassment" in classifier.predict(model, case["text"], default_pack()).flagged_ids
        results[case["function"]].append(flagged == case["flagged"])
    return results


def test_every_function_has_cases_and_a_floor(decided):
    assert set(decided) == set(FLOORS)
    assert all(len(v) >= 4 for v in decided.values())


@pytest.mark.parametrize("function", sorted(FLOORS))
def test_function_is_decided_right_often_enough(decided, function):
    right = decided[function]
    assert sum(right) / len(right) >= FLOORS[function], f"{function}: {sum(right)} of {len(right)} right"


def test_the_whole_specification_is_decided_right_often_enough(decided):
    right = [r for results in decided.values() for r in results]
    assert sum(right) / len(right) >= MIN_OVERALL, f"{sum(right)} of {len(right)} right"
