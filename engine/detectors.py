"""Deterministic detectors for structured data, where a pattern beats statistics.

Each detector finds character ranges in a draft; the policy pack's `detectors` mapping says
which category each detector's findings belong to, so a category can be renamed without
touching this file. A *hard* finding flags its category on its own (a Luhn-valid card number is never harmless to
post); a *soft* finding (an email address, a phone number, a private IP) flags only when the
classifier also leans that way, because a recruiter posting their own work email is fine.

Every pattern runs on RE2, whose matching time is linear in the draft's length whatever the
draft holds (Python's `re` backtracks: one hostile draft could hold a worker for seconds). RE2
has no look-around, so each detector names the characters that must not stand right before or
after a match, and `scan` checks them. RE2's word boundary and white space classes are
ASCII-only; keyword patterns run on the normalised text, where that makes no difference that
matters.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Mapping, Optional

import re2

from engine.textnorm import Normalized, is_word_char, normalize


@dataclass(frozen=True)
class Finding:
    category: str
    start: int
    end: int
    detector: str
    hard: bool


@dataclass(frozen=True)
class Detector:
    name: str
    hard: bool
    pattern: re2._Regexp
    # Optional check on the matched text, for what a regex cannot say (checksums, entropy).
    accept: Optional[Callable[[str], bool]] = None
    # Search the normalised text (keywords that people obfuscate) instead of the raw text
    # (structured values, where case and symbols carry meaning).
    on_normalized: bool = False
    group: int = 0
    # Characters that may not touch the match (the look-behind and look-ahead of `re`).
    not_before: Optional[Callable[[str], bool]] = None
    not_after: Optional[Callable[[str], bool]] = None


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = re.sub(r"\s", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def phone_like(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 9 <= len(digits) <= 15:
        return False
    # Dates, years and ranges ("2019-2024", "2024 05 11") are not phone numbers.
    if re.fullmatch(r"(19|20)\d{2}[-./ ](0?[1-9]|1[0-2])[-./ ]\d{1,2}", candidate.strip()):
        return False
    return len(set(digits)) > 2


def ssn_valid(candidate: str) -> bool:
    area, group, serial = candidate.split("-")
    return area not in {"000", "666"} and not area.startswith("9") and group != "00" and serial != "0000"


def secret_like(value: str) -> bool:
    """A value someone would actually use as a password or code, not a word in a sentence."""
    value = value.strip("\"'`.,;)")
    if len(value) < 4:
        return False
    if value.isdigit():
        return True  # door codes, PINs
    has_digit = any(ch.isdigit() for ch in value)
    has_symbol = any(not ch.isalnum() for ch in value)
    mixed_case = any(ch.isupper() for ch in value[1:]) and any(ch.islower() for ch in value)
    return has_digit or has_symbol or mixed_case


def _digit_or_dash(char: str) -> bool:
    return char.isdigit() or char == "-"


def _word_or_plus(char: str) -> bool:
    return is_word_char(char) or char == "+"


def _word_or_dash(char: str) -> bool:
    return is_word_char(char) or char == "-"


def _digit(char: str) -> bool:
    return char.isdigit()


DETECTORS: tuple[Detector, ...] = (
    Detector("private_key", True,
             re2.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    Detector("aws_access_key", True, re2.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    Detector("github_token", True,
             re2.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b")),
    Detector("slack_token", True, re2.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    Detector("stripe_key", True, re2.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    Detector("google_api_key", True, re2.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    Detector("jwt", True,
             re2.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    Detector("secret_assignment", True,
             re2.compile(r"(?i)\b(?:api[_-]?key|secret|token|client[_-]?secret|access[_-]?key)\s*[:=]\s*"
                         r"[\"']?([A-Za-z0-9_\-+/=]{16,})"),
             accept=lambda v: any(c.isdigit() for c in v) and any(c.isalpha() for c in v), group=1),
    Detector("password", True,
             # "password: x", "the VPN password is x", "password for the VPN is x", "pw x"
             re2.compile(r"\b(?:password|passwd|pwd|passcode|pin|pw|login|wi-?fi)"
                         r"(?:\s+(?:for|to|of|on)(?:\s+[\w.-]+){1,3}?)?\s*(?:is|was|=|:|->|-)\s*"
                         r"([^\s]{4,40})"),
             accept=secret_like, on_normalized=True, group=1),
    Detector("access_code", True,
             re2.compile(r"\b(?:door|gate|alarm|access|entry|keypad|lock|safe|vault|building)\s+"
                         r"(?:code|combo|combination|pin)s?\s*(?:is|was|=|:|-)?\s*(?:now\s+)?#?(\d{3,8})"),
             on_normalized=True, group=1, not_after=_digit),
    Detector("payment_card", True,
             re2.compile(r"\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19}"),
             accept=luhn_valid, not_before=_digit_or_dash, not_after=_digit_or_dash),
    Detector("iban", True,
             re2.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), accept=iban_valid),
    Detector("us_ssn", True, re2.compile(r"\b\d{3}-\d{2}-\d{4}\b"), accept=ssn_valid),
    Detector("email", False,
             re2.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    Detector("phone", False,
             re2.compile(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,6}(?:[ .-]\d{2,6}){1,4}"),
             accept=phone_like, not_before=_word_or_plus, not_after=_word_or_dash),
    Detector("internal_host", False,
             re2.compile(r"(?i)\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:internal|corp|intranet|lan|local)\b")),
    Detector("private_ip", False,
             re2.compile(r"\b(?:10\.\d{1,3}|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.\d{1,3}\.\d{1,3}\b")),
)

DETECTOR_NAMES: tuple[str, ...] = tuple(d.name for d in DETECTORS)


# What a detector's match is called when the employee masks it in the composer (the extension's
# "Mask" button replaces the span with this placeholder). Only values that can be taken out of a
# draft without changing what it says get one: secrets, codes and contact or account numbers.
MASKS: dict[str, str] = {
    "private_key": "[private key removed]",
    "aws_access_key": "[key removed]",
    "github_token": "[token removed]",
    "slack_token": "[token removed]",
    "stripe_key": "[key removed]",
    "google_api_key": "[key removed]",
    "jwt": "[token removed]",
    "secret_assignment": "[secret removed]",
    "password": "[password removed]",
    "access_code": "[code removed]",
    "payment_card": "[card number removed]",
    "iban": "[IBAN removed]",
    "us_ssn": "[SSN removed]",
    "email": "[email removed]",
    "phone": "[phone number removed]",
}


def scan(detector: Detector, haystack: str) -> Iterator[tuple[int, int]]:
    """The spans of `haystack` the detector's pattern matches, with its neighbour rules.

    One pass of RE2's `finditer` (each `search` call would re-encode the whole draft). A match
    that touches a forbidden neighbour is dropped whole, where `re` would have tried a shorter
    match or a later start inside it: a number glued to a word is not taken apart."""
    for match in detector.pattern.finditer(haystack):
        start, end = match.span()
        if detector.not_before and start > 0 and detector.not_before(haystack[start - 1]):
            continue
        if detector.not_after and end < len(haystack) and detector.not_after(haystack[end]):
            continue
        yield match.span(detector.group)


class _Taken:
    """Non-overlapping ranges already claimed, kept sorted: one overlap test costs O(log n)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def claim(self, start: int, end: int) -> bool:
        """Claim [start, end) if it overlaps nothing claimed yet; say whether it did."""
        at = bisect_left(self.starts, start)
        if at < len(self.starts) and self.starts[at] < max(end, start + 1):
            return False
        if at > 0 and self.ends[at - 1] > start:
            return False
        self.starts.insert(at, start)
        self.ends.insert(at, end)
        return True


# A warning shows a few spans; a pasted list of thousands of addresses needs no more findings
# than this per detector to be flagged, and more would only cost time.
MAX_FINDINGS_PER_DETECTOR = 100


def detect(text: str, routes: Mapping[str, str], normalized: Optional[Normalized] = None) -> list[Finding]:
    """All findings in `text`, as offsets into `text`; earlier detectors win overlaps.
    `routes` maps each detector's name to its category (the policy pack's `detectors`)."""
    normalized = normalized or normalize(text)
    findings: list[Finding] = []
    taken = _Taken()
    for detector in DETECTORS:
        haystack = normalized.text if detector.on_normalized else text
        kept = 0
        for start, end in scan(detector, haystack):
            if kept == MAX_FINDINGS_PER_DETECTOR:
                break
            if detector.on_normalized:
                start, end = normalized.to_original(start, end)
            # Values are judged on what was typed (case and symbols), not on the folded text.
            if detector.accept is not None and not detector.accept(text[start:end]):
                continue
            if taken.claim(start, end):
                findings.append(Finding(routes[detector.name], start, end, detector.name, detector.hard))
                kept += 1
    return findings


@lru_cache(maxsize=512)
def _term_detector(phrase: str) -> Optional[Detector]:
    words = normalize(phrase).text.split()
    if not words:
        return None
    pattern = re2.compile(r"[\s\-_]*".join(re2.escape(w) for w in words))
    return Detector("term", True, pattern, not_before=is_word_char, not_after=is_word_char)


def find_terms(normalized: Normalized, terms: Iterable[tuple[str, str]]) -> list[Finding]:
    """Admin-defined phrases (codenames, client names), matched whole-word and case-blind."""
    findings = []
    for phrase, category in terms:
        detector = _term_detector(phrase)
        if detector is None:
            continue
        for start, end in scan(detector, normalized.text):
            start, end = normalized.to_original(start, end)
            findings.append(Finding(category, start, end, "term", True))
    return findings
