"""Hostile and random drafts against the detectors and the normalisation (hypothesis).

The patterns run on RE2, so no input can make them backtrack; what these tests hold is that
the rewrites around RE2 (neighbour rules, the offset map back to the typed text) stay correct
for any input, and that they do what Python's look-around patterns used to do.
"""
import re

from hypothesis import given, settings, strategies as st

from engine import classifier
from engine.detectors import DETECTORS, detect, find_terms, scan
from engine.policy import default_pack
from engine.textnorm import LEET, normalize

ROUTES = default_pack().detectors

# The look-around patterns the RE2 versions replace, kept as the specification.
LEET_TOKEN = re.compile(r"(?<![\w@$!.])(?=[a-z@$!013457]*[a-z][@$!013457]+[a-z])[a-z@$!013457]{4,}(?![\w@$!.])")
SPACED_LETTERS = re.compile(r"(?<![\w.\-*])(?:[a-z][ .\-_*]){3,}[a-z](?![\w])")

# Characters that take every branch of the normalisation and the detectors.
FRAGMENTS = st.sampled_from([
    "a", "b", "p", "s", "o", " ", ".", "-", "_", "*", "@", "$", "!", "0", "1", "3", "4", "9", "\n",
    "é", "ß", "ﬁ", "\u200b", "\ufdfa", "Ａ", "İ", "🎉", "password", "pw: ", "door code ", "4111 ",
    "n*gg*r", "f a g", "x@y.com", "10.0.", "xoxb-", "eyJ", "12-", "+44 ", "(415) ", "GB82 ",
])
HOSTILE = st.lists(FRAGMENTS, max_size=60).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab c.-_*x1@$é9!", max_size=40))
def test_leetspeak_and_spaced_letters_match_the_look_around_patterns(text):
    from engine import textnorm
    assert textnorm._undo_leetspeak(text) == LEET_TOKEN.sub(lambda m: m.group(0).translate(LEET), text)
    assert list(textnorm._spaced_runs(text)) == [m.span() for m in SPACED_LETTERS.finditer(text)]


@settings(max_examples=1500, deadline=None)
@given(HOSTILE)
def test_every_normalised_character_maps_back_inside_the_typed_text_in_order(text):
    normalized = normalize(text)
    if normalized.origin is None:
        assert len(normalized.text) == len(text)
        return
    assert len(normalized.origin) == len(normalized.text)
    assert all(0 <= i < len(text) for i in normalized.origin)
    assert list(normalized.origin) == sorted(normalized.origin)
    for start in range(len(normalized.text)):
        original_start, original_end = normalized.to_original(start, start + 1)
        assert 0 <= original_start < original_end <= len(text)


@settings(max_examples=1500, deadline=None)
@given(HOSTILE)
def test_findings_lie_inside_the_text_and_never_overlap(text):
    findings = sorted(detect(text, ROUTES), key=lambda f: f.start)
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)
    for before, after in zip(findings, findings[1:]):
        assert before.end <= after.start


@settings(max_examples=1500, deadline=None)
@given(HOSTILE)
def test_no_match_touches_a_forbidden_neighbour(text):
    for detector in DETECTORS:
        if detector.on_normalized:
            continue
        for start, end in scan(detector, text):
            if detector.group == 0 and detector.not_before and start > 0:
                assert not detector.not_before(text[start - 1])
            if detector.group == 0 and detector.not_after and end < len(text):
                assert not detector.not_after(text[end])


@settings(max_examples=500, deadline=None)
@given(HOSTILE)
def test_terms_are_found_whole_word_and_map_to_the_typed_text(text):
    for finding in find_terms(normalize(text), [("pass word", "security"), ("ab", "confidential")]):
        typed = text[finding.start:finding.end]
        assert typed and normalize(typed).text.replace(" ", "").replace("-", "").replace("_", "") in ("password", "ab")


@settings(max_examples=300, deadline=None)
@given(HOSTILE)
def test_sentence_units_cover_the_text_in_order(text):
    normalized = normalize(text).text
    units = classifier.sentence_units(normalized)
    assert all(0 <= s < e <= len(normalized) for s, e in units)
    assert all(a[1] <= b[0] for a, b in zip(units, units[1:]))
    covered = "".join(normalized[s:e] for s, e in units)
    assert "".join(covered.split()) == "".join(normalized.split())


def test_expanding_characters_are_capped():
    # U+FDFA becomes 18 characters under NFKC; a draft of them must not grow 18-fold.
    text = "\ufdfa" * 1000
    assert len(normalize(text).text) <= 4 * len(text)


def test_hostile_drafts_keep_the_check_whole(trained_model):
    for fragment in ("door code ", "a.", "a-", "10.1.", "a@b.cc ", "12-", "xoxb-a", "password ", "\ufdfa", "4111 "):
        text = (fragment * (5000 // len(fragment)))[:5000]
        verdict = classifier.predict(trained_model, text, default_pack())
        for category in verdict.categories:
            assert len(category.spans) <= classifier.MAX_FINDING_SPANS + classifier.MAX_SPANS
            for span in category.spans:
                assert text[span.start:span.end] == span.text
