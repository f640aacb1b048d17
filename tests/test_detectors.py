"""Deterministic detectors and text normalisation: true cases, and the look-alikes they must ignore."""
import pytest

from engine.detectors import _Taken, detect, find_terms, iban_valid, luhn_valid, phone_like, secret_like
from engine.policy import default_pack
from engine.textnorm import normalize

ROUTES = default_pack().detectors


def found(text):
    return [(f.detector, text[f.start:f.end]) for f in detect(text, ROUTES)]


@pytest.mark.parametrize("text, detector, value", [
    ("Test card 4111 1111 1111 1111 works", "payment_card", "4111 1111 1111 1111"),
    ("amex 3782-822463-10005 thanks", "payment_card", "3782-822463-10005"),
    ("paid with 5555555555554444 lol", "payment_card", "5555555555554444"),
    ("order 4111 1111 1111 1112, card 4111 1111 1111 1111", "payment_card", "4111 1111 1111 1111"),  # after a refused one
    ("wire it to GB82 WEST 1234 5698 7654 32 today", "iban", "GB82 WEST 1234 5698 7654 32"),
    ("her SSN is 123-45-6789", "us_ssn", "123-45-6789"),
    ("email jane.doe@northwind-health.com for the file", "email", "jane.doe@northwind-health.com"),
    ("call Tom on +44 7700 900123 tonight", "phone", "+44 7700 900123"),
    ("his cell (415) 555-0132", "phone", "(415) 555-0132"),
    ("key AKIAIOSFODNN7EXAMPLE in the repo", "aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "private_key", "-----BEGIN RSA PRIVATE KEY-----"),
    ("api_key = 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "secret_assignment", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("VPN password is Hunter2Secret! fyi", "password", "Hunter2Secret!"),
    ("wifi: CoffeeBar2024 enjoy", "password", "CoffeeBar2024"),
    ("My password for the VPN is Hunter2Secret! ok", "password", "Hunter2Secret!"),
    ("Server room door code is 4417", "access_code", "4417"),
    ("alarm code: 8812#", "access_code", "8812"),
    ("ssh into db-prod-03.corp.acme.internal", "internal_host", "db-prod-03.corp.acme.internal"),
    ("the box is at 10.20.3.44", "private_ip", "10.20.3.44"),
])
def test_detects_structured_secrets_and_personal_data(text, detector, value):
    assert (detector, value) in found(text)


@pytest.mark.parametrize("text", [
    "Order 4111 1111 1111 1112 shipped",          # 16 digits, fails Luhn: not a card
    "0000 0000 0000 0000",                          # passes Luhn trivially, but no card is all zeros
    "Never share your password with anyone!",       # advice, not a password
    "My password is weak, I know.",                 # a word, not a secret
    "the password for my gym locker is weak",
    "We served customers from 2019-2024 and again on 2024-05-11",
    "Q3 2025 results are out: revenue up 12%",
    "Reach the team at +1 800",                     # too short to be a phone number
    "Code review at 10:30, then lunch",
])
def test_ignores_look_alikes(text):
    assert found(text) == []


def test_obfuscated_password_keyword_is_still_caught():
    for text in ("my p@ssw0rd: Tr0ub4dor&3", "P A S S W O R D = Sunshine#42", "ｐａｓｓｗｏｒｄ: Blue42x"):
        assert [d for d, _ in found(text)] == ["password"], text


def test_offsets_point_into_the_original_text_after_normalisation():
    text = "🎉 ｐａｓｓｗｏｒｄ: Blue42x"
    finding = detect(text, ROUTES)[0]
    assert text[finding.start:finding.end] == "Blue42x"


def test_iban_with_a_bad_checksum_is_not_an_iban():
    assert "iban" not in [d for d, _ in found("See GB82 WEST 1234 5698 7654 33")]


def test_luhn_and_iban_checksums():
    assert luhn_valid("4012888888881881")
    assert not luhn_valid("4012888888881882")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE89 3704 0044 0532 0130 01")


def test_terms_match_whole_words_case_blind_and_across_spacing():
    text = "Can't wait for PROJECT   nightjar to ship! (not nightjars)"
    findings = find_terms(normalize(text), [("Project Nightjar", "confidential"), ("Nightjar", "confidential")])
    spans = sorted(text[f.start:f.end] for f in findings)
    assert spans == ["PROJECT   nightjar", "nightjar"]
    assert all(f.category == "confidential" and f.hard for f in findings)


def test_normalisation_undoes_leetspeak_spacing_and_width_but_not_real_tokens():
    assert normalize("P@ssw0rd h4ck3r").text == "password hacker"
    assert normalize("p.a.s.s.w.o.r.d and s e c r e t").text == "password and secret"
    assert normalize("Q3 Web3 4417 B2B").text == "q3 web3 4417 b2b"
    assert normalize("ｆｕｌｌ\u200bwidth").text == "fullwidth"


def test_findings_per_detector_are_capped_but_every_kind_is_still_found():
    from engine.detectors import MAX_FINDINGS_PER_DETECTOR
    text = "a@b.cc " * 1000 + "card 4111 1111 1111 1111 " + "x@y.org " * 500
    found_kinds = [f.detector for f in detect(text, ROUTES)]
    assert found_kinds.count("email") == MAX_FINDINGS_PER_DETECTOR
    assert "payment_card" in found_kinds


@pytest.mark.parametrize("number, valid", [
    ("123-45-6789", True),
    ("000-45-6789", False),  # area 000, 666 and 9xx are never issued
    ("666-45-6789", False),
    ("900-45-6789", False),
    ("899-45-6789", True),
    ("123-00-6789", False),  # nor group 00
    ("123-45-0000", False),  # nor serial 0000
])
def test_social_security_numbers_that_are_never_issued_are_not_reported(number, valid):
    assert (("us_ssn", number) in found(f"SSN {number} on file")) is valid


def test_a_term_that_normalises_to_nothing_does_not_stop_the_others():
    text = "Heron ships in May"
    findings = find_terms(normalize(text), [("\u200b\u200b", "confidential"), ("Heron", "confidential")])
    assert [(text[f.start:f.end], f.category, f.detector) for f in findings] == [("Heron", "confidential", "term")]


# The checksum validators at their length limits. A leading zero leaves both checksums as they
# are, so it turns the longest valid number into a too-long one that still "adds up".
@pytest.mark.parametrize("number, valid", [
    ("4222222222214", True),            # 13 digits, the shortest card number
    ("4222222222222222216", True),      # 19 digits, the longest
    ("04222222222222222216", False),    # 20 digits
    ("4222222222222222217", False),     # checksum off by one
])
def test_luhn_accepts_13_to_19_digits_that_add_up(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize("candidate, valid", [
    ("GB68NWBK6016133", True),                        # 15 characters, the shortest IBAN
    ("GB77NWBK60161331926812345678901234", True),     # 34, the longest
    ("GB770NWBK60161331926812345678901234", False),   # 35
    ("GB82WEST123456", False),                        # 14
    ("gb68 nwbk 6016 133", True),                     # spaces and case as typed
])
def test_iban_accepts_15_to_34_characters_that_add_up(candidate, valid):
    assert iban_valid(candidate) is valid


@pytest.mark.parametrize("candidate, phone", [
    ("555 012 345", True),           # 9 digits, the fewest
    ("555 012 34", False),
    ("+44 7700 900 12 4567", True),   # 15 digits, the most
    ("+44 7700 900 123 4567", False),
    ("555 555 5567", True),          # three distinct digits
    ("555 555 5556", False),         # two: a filler, not a number
])
def test_a_phone_number_has_9_to_15_digits_and_more_than_two_distinct(candidate, phone):
    assert phone_like(candidate) is phone


@pytest.mark.parametrize("value, secret", [
    ("4417", True),        # digits only: door codes, PINs
    ("417", False),        # too short to be one
    ("a1", False),
    ("weak", False),       # a plain word
    ("Weak", False),       # a capital first letter is no mixed case
    ("hUnter", True),      # mixed case
    ("hunTer", True),
    ("pass-word", True),   # a symbol
    ("X1aX", True),        # a digit (only quotes and punctuation are trimmed off)
    ("'Blue42x'.", True),  # quotes and punctuation around it are not part of it
])
def test_a_secret_is_a_value_someone_would_use_as_a_password(value, secret):
    assert secret_like(value) is secret


@pytest.mark.parametrize("claimed, new, free", [
    ([(5, 8)], (0, 5), True),              # touching on the right
    ([(0, 5)], (5, 8), True),              # touching on the left
    ([(0, 5)], (3, 8), False),             # overlapping the one before
    ([(4, 6)], (2, 5), False),             # overlapping the one after
    ([(0, 2), (4, 8)], (6, 9), False),     # inside the nearest one, clear of the one before it
    ([(0, 2), (4, 8)], (2, 4), True),      # the gap between two
    ([(4, 6)], (4, 4), False),             # an empty range where one starts
    ([(4, 6)], (3, 3), True),              # an empty range just before one
])
def test_a_range_is_claimed_only_if_it_overlaps_nothing_claimed(claimed, new, free):
    taken = _Taken()
    for start, end in claimed:
        assert taken.claim(start, end)
    assert taken.claim(*new) is free


# A value glued to a forbidden neighbour is part of something else and dropped whole; the
# same value further on, standing free, is still found.
@pytest.mark.parametrize("text, detector", [
    ("ref 12-4111 1111 1111 1111 or 4111 1111 1111 1111", "payment_card"),  # a dash or digit before
    ("4111 1111 1111 1111-12 or 4111 1111 1111 1111", "payment_card"),      # or after
    ("x+44 7700 900123 or +44 7700 900123", "phone"),                      # a word character before
    ("call ++44 7700 900123 or +44 7700 900123", "phone"),                 # or a plus
    ("+44 7700 900123-5 or +44 7700 900123", "phone"),                     # a dash after
])
def test_a_value_glued_to_a_forbidden_neighbour_is_dropped_and_the_next_one_found(text, detector):
    assert found(text) == [(detector, text[text.rindex(" or ") + 4:])]
