"""Normalisation's map back to the typed text: exact origins where one typed character becomes
several (NFKC, case folding), none (zero-width) or spaced letters join, and exact ranges back.

Spans in warnings and detector findings are cut from the typed text with these offsets, so an
off-by-one shows the employee the wrong characters.
"""
import pytest

from engine.textnorm import MAX_EXPANSION, SlurLexicon, normalize


@pytest.mark.parametrize("typed, text, origin", [
    ("ﬁne", "fine", (0, 0, 1, 2)),                     # one ligature, two letters
    ("straße", "strasse", (0, 1, 2, 3, 4, 4, 5)),      # ß folds to ss
    ("a㎏b", "akgb", (0, 1, 1, 2)),                    # the kilogram sign expands under NFKC
    ("pa\u200bss", "pass", (0, 1, 3, 4)),              # the zero-width space is dropped
    ("ok p a s s", "ok pass", (0, 1, 2, 3, 5, 7, 9)),  # spaced letters join
    ("ok. p-a-s-s", "ok. pass", (0, 1, 2, 3, 4, 6, 8, 10)),
    ("ﬁ p a s s", "fi pass", (0, 0, 1, 2, 4, 6, 8)),   # both: the join keeps the expansion's origins
])
def test_each_normalised_character_remembers_the_typed_character_it_came_from(typed, text, origin):
    normalized = normalize(typed)
    assert (normalized.text, normalized.origin, normalized.original_length) == (text, origin, len(typed))


@pytest.mark.parametrize("typed, word, typed_word", [
    ("Re: ﬁnance update", "finance", "ﬁnance"),
    ("ＰＡＳＳ\u200bWORD: Blue42", "password", "ＰＡＳＳ\u200bWORD"),
    ("Meet me at Hauptstraße 5", "hauptstrasse", "Hauptstraße"),
    ("the p a s s w o r d is", "password", "p a s s w o r d"),
    ("ﬁ ﬂ ﬁ ﬂ done", "fi fl fi fl", "ﬁ ﬂ ﬁ ﬂ"),
    ("x ﬁ", "fi", "ﬁ"),  # at the very end
])
def test_a_normalised_word_maps_back_to_exactly_the_typed_word(typed, word, typed_word):
    normalized = normalize(typed)
    start = normalized.text.index(word)
    original_start, original_end = normalized.to_original(start, start + len(word))
    assert typed[original_start:original_end] == typed_word


def test_each_half_of_an_expansion_maps_back_to_the_whole_typed_character():
    normalized = normalize("xﬁy")
    assert normalized.text == "xfiy"
    assert [normalized.to_original(i, i + 1) for i in range(4)] == [(0, 1), (1, 2), (1, 2), (2, 3)]


@pytest.mark.parametrize("typed", ["ﬁne day", "plain ascii text"])  # with and without an origin map
def test_an_empty_range_at_the_end_maps_to_the_end_of_the_typed_text(typed):
    normalized = normalize(typed)
    end = len(normalized.text)
    assert normalized.to_original(end, end) == (len(typed), len(typed))


@pytest.mark.parametrize("typed, position, expected", [("ﬁne day", 3, (2, 2)), ("pa\u200bss", 2, (3, 3))])
def test_an_empty_range_maps_to_an_empty_range_at_its_place(typed, position, expected):
    assert normalize(typed).to_original(position, position) == expected


def test_a_text_that_lines_up_one_to_one_keeps_no_origin_map():
    # The common case stays cheap: ASCII, and non-ASCII that NFKC and case folding leave as long.
    assert normalize("Plain ASCII").origin is None
    assert normalize("Café “quoted” 🙂").origin is None
    assert normalize("Café").to_original(1, 3) == (1, 3)


def test_a_character_that_expands_too_far_is_kept_as_typed():
    # NFKC would make 18 characters of U+FDFA (more than MAX_EXPANSION); ﬁ expands to two.
    assert len("\ufdfa".casefold()) <= MAX_EXPANSION
    normalized = normalize("a\ufdfaﬁ")
    assert normalized.text == "a\ufdfafi" and normalized.origin == (0, 1, 2, 2)


def test_the_slur_lexicon_reads_words_and_real_words_to_leave_alone_from_its_file(tmp_path):
    # Made-up entries: the file format and the spelling rules are what is under test.
    path = tmp_path / "lexicon.txt"
    path.write_text("# a comment\nrotten\n  brat  \n\n!roten\n", encoding="utf-8")
    lexicon = SlurLexicon(path)
    assert (lexicon.words, lexicon.keep) == ({"rotten", "brat"}, {"roten"})
    assert sorted(lexicon.forms) == ["brat", "brates", "brats", "rotten", "rottenes", "rottens"]
    # Shortest first: a masked token takes the last (longest) form it matches.
    assert [len(form) for form in lexicon.forms] == [4, 5, 6, 6, 7, 8]


@pytest.mark.parametrize("token, canonical", [
    ("rotten", None),           # typed plainly: nothing to fold
    ("rottens", None),
    ("r*tten", "rotten"),       # masked letters
    ("r**ten", "rotten"),
    ("b*at", "brat"),
    ("rottttten", "rotten"),    # stretched letters
    ("rotttens", "rottens"),
    ("rotttenes", "rottenes"),
    ("rotetn", "rotten"),       # two letters swapped
    ("rottn", "rotten"),        # one letter missing (words of six letters or more)
    ("roten", None),            # ... unless the near miss is a word listed after "!"
    ("brt", None),              # too short to guess at
    ("*otten", None),           # a mask must start with a letter
    ("r***", None),             # and keep two of them
    ("ro", None),
    ("rotten" * 5, None),       # longer than any word
    ("rottenz", None),          # an extra letter is not folded
])
def test_obfuscated_spellings_fold_onto_the_listed_word(tmp_path, token, canonical):
    path = tmp_path / "lexicon.txt"
    path.write_text("rotten\nbrat\n!roten\n", encoding="utf-8")
    assert SlurLexicon(path).canonical(token) == canonical


# Obfuscated slurs fold to the spelling the classifier learnt (the lexicon's own entries), and
# a warning's span on the folded word must cover the whole word as typed.
@pytest.mark.parametrize("typed, text, typed_word, folded_word", [
    ("you fa**ot!", "you faggot!", "fa**ot", "faggot"),
    ("so you fa*ot", "so you fagot", "fa*ot", "fagot"),
    ('"FA**OT"', '"faggot"', "FA**OT", "faggot"),            # quotes around it, any case
    ("you faggggot", "you faggot", "faggggot", "faggot"),    # stretched: shorter once folded
    ("you faggt", "you faggot", "faggt", "faggot"),          # a missing letter: longer
    ("we*rd fa**ot", "we*rd faggot", "fa**ot", "faggot"),    # a masked word that is no slur stays
])
def test_an_obfuscated_slur_folds_and_maps_back_to_the_whole_typed_word(typed, text, typed_word, folded_word):
    normalized = normalize(typed)
    assert normalized.text == text
    start = text.index(folded_word)
    original_start, original_end = normalized.to_original(start, start + len(folded_word))
    assert typed[original_start:original_end] == typed_word


def test_each_letter_of_a_folded_slur_points_into_the_typed_word_in_order():
    assert normalize("you faggggot").origin == (0, 1, 2, 3, 4, 5, 6, 7, 8, 11)
    assert normalize("you faggt").origin == (0, 1, 2, 3, 4, 5, 6, 7, 8, 8)


@pytest.mark.parametrize("typed, text", [
    ("abcfa**ot", "abcfa**ot"),            # glued to a word before
    ("fa**otx", "fa**otx"),                # or after
    ("fa**ot éfa**ot", "faggot éfa**ot"),  # each occurrence judged on its own neighbours
    ("éfa**ot fa**ot", "éfa**ot faggot"),
])
def test_a_masked_slur_glued_to_a_word_is_left_as_typed(typed, text):
    assert normalize(typed).text == text
