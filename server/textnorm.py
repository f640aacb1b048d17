"""Text normalisation that undoes the obfuscation a person still reads straight through.

`p@ssw0rd`, `P A S S W O R D`, full-width letters and zero-width spaces all become plain
lowercase words before the classifier and the keyword detectors see them. Every normalised
character remembers where it came from, so spans found in the normalised text can be reported
as offsets into the text the employee typed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

LEET = str.maketrans({"@": "a", "$": "s", "!": "i", "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})

# A token of letters and look-alike symbols with at least one symbol *between* letters
# ("p@ssw0rd", "h4ck3r"); "Q3", "Web3" or "4417" stay as they are.
LEET_TOKEN = re.compile(
    r"(?<![\w@$!.])(?=[a-z@$!013457]*[a-z][@$!013457]+[a-z])[a-z@$!013457]{4,}(?![\w@$!.])"
)

# Four or more single letters separated by one space or punctuation mark: "p a s s", "p.a.s.s".
SPACED_LETTERS = re.compile(r"(?<![\w.\-*])(?:[a-z][ .\-_*]){3,}[a-z](?![\w])")


@dataclass(frozen=True)
class Normalized:
    text: str
    # origin[i] is the index in the original text of normalised character i; None when the
    # two texts line up one to one (the common case, kept cheap).
    origin: Optional[tuple[int, ...]]
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open range of the normalised text back to the original text."""
        if self.origin is None:
            return start, end
        if start >= len(self.origin):
            return self.original_length, self.original_length
        original_start = self.origin[start]
        original_end = self.origin[end - 1] + 1 if end > start else original_start
        return original_start, original_end


def _fold_unicode(text: str) -> tuple[str, Optional[list[int]]]:
    if text.isascii():
        return text.lower(), None
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":  # zero-width spaces, joiners, soft hyphens
            continue
        folded = unicodedata.normalize("NFKC", char).casefold()
        chars.append(folded)
        origin.extend([index] * len(folded))
    folded_text = "".join(chars)
    if origin == list(range(len(text))):
        return folded_text, None  # nothing dropped, nothing expanded: still one to one
    return folded_text, origin


def _join_spaced_letters(text: str, origin: Optional[list[int]]) -> tuple[str, Optional[list[int]]]:
    if not SPACED_LETTERS.search(text):
        return text, origin
    if origin is None:
        origin = list(range(len(text)))
    pieces: list[str] = []
    new_origin: list[int] = []
    position = 0
    for match in SPACED_LETTERS.finditer(text):
        pieces.append(text[position:match.start()])
        new_origin.extend(origin[position:match.start()])
        for offset in range(match.start(), match.end(), 2):
            pieces.append(text[offset])
            new_origin.append(origin[offset])
        position = match.end()
    pieces.append(text[position:])
    new_origin.extend(origin[position:])
    return "".join(pieces), new_origin


def normalize(text: str) -> Normalized:
    folded, origin = _fold_unicode(text)
    if any(symbol in folded for symbol in "@$!013457"):
        folded = LEET_TOKEN.sub(lambda m: m.group(0).translate(LEET), folded)
    joined, origin = _join_spaced_letters(folded, origin)
    return Normalized(joined, tuple(origin) if origin is not None else None, len(text))


def normalize_text(text: str) -> str:
    """The classifier's preprocessor: the normalised text alone."""
    return normalize(text).text
