"""Text normalisation that undoes the obfuscation a person still reads straight through.

`p@ssw0rd`, `P A S S W O R D`, full-width letters and zero-width spaces all become plain
lowercase words before the classifier and the keyword detectors see them. Every normalised
character remembers where it came from, so spans found in the normalised text can be reported
as offsets into the text the employee typed.

Drafts come from anyone, so everything here runs in time linear in the draft's length: the
patterns run on RE2 (no backtracking), and what RE2 cannot say (look-behind and look-ahead) is
checked on the neighbouring characters in Python.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import re2

LEET = str.maketrans({"@": "a", "$": "s", "!": "i", "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
LEET_CHARS = "@$!013457"

# A run of letters and look-alike symbols with at least one symbol *between* letters
# ("p@ssw0rd", "h4ck3r") is rewritten, so "Q3", "Web3" or "4417" stay as they are.
LEET_RUN = re2.compile(r"[a-z@$!013457]*[a-z][@$!013457]+[a-z][a-z@$!013457]*")
# Four or more single letters, each followed by one space or punctuation mark: "p a s s", "p.a.s.s".
SPACED_RUN = re2.compile(r"(?:[a-z][ .\-_*]){3,}[a-z]")

# NFKC turns a few characters into long strings (U+FDFA into 18 characters); a draft full of
# them would multiply the work downstream, so such characters are kept as typed.
MAX_EXPANSION = 4


def is_word_char(char: str) -> bool:
    """Python's `\\w` for one character (RE2's `\\w` is ASCII-only)."""
    return char.isalnum() or char == "_"


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


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    if unicodedata.category(char) == "Cf":  # zero-width spaces, joiners, soft hyphens
        return ""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return folded if len(folded) <= MAX_EXPANSION else char.casefold()[:MAX_EXPANSION]


def _fold_unicode(text: str) -> tuple[str, Optional[list[int]]]:
    if text.isascii():
        return text.lower(), None
    folded_whole = text.casefold()
    # Curly quotes, accents and most emoji change nothing under NFKC: one to one, no loop.
    if (len(folded_whole) == len(text) and unicodedata.is_normalized("NFKC", text)
            and not any(unicodedata.category(ch) == "Cf" for ch in text if not ch.isascii())):
        return folded_whole, None
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        chars.append(folded)
        origin.extend([index] * len(folded))
    folded_text = "".join(chars)
    if origin == list(range(len(text))):
        return folded_text, None  # nothing dropped, nothing expanded: still one to one
    return folded_text, origin


def _undo_leetspeak(text: str) -> str:
    """Rewrite look-alike symbols inside words; the length never changes."""
    pieces, position = [], 0
    for match in LEET_RUN.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        # A run glued to a word, a dot or another symbol is part of something else (an
        # email address, a URL, a version number).
        if end - start < 4 or is_word_char(before) or before in "@$!." or is_word_char(after) or after in "@$!.":
            continue
        pieces += [text[position:start], match.group().translate(LEET)]
        position = end
    return "".join(pieces) + text[position:] if pieces else text


def _spaced_runs(text: str):
    """(start, end) of each run of spaced-out letters, as the look-around-free pattern plus the
    neighbour rules: not glued to a word or a dotted/dashed/starred token on either side."""
    for match in SPACED_RUN.finditer(text):
        start, end = match.span()
        # A run preceded by a word character or by . - * continues something else; a later
        # letter of the same run may still start a run (after a plain space).
        while start < end and start > 0 and (is_word_char(text[start - 1]) or text[start - 1] in ".-*"):
            start += 2
        # A run followed by a word character: its last letter belongs to that word.
        while start < end < len(text) and is_word_char(text[end]):
            end -= 2
        if end - start >= 7:  # four letters and three separators
            yield start, end


def _join_spaced_letters(text: str, origin: Optional[list[int]]) -> tuple[str, Optional[list[int]]]:
    runs = list(_spaced_runs(text))
    if not runs:
        return text, origin
    if origin is None:
        origin = list(range(len(text)))
    pieces: list[str] = []
    new_origin: list[int] = []
    position = 0
    for start, end in runs:
        pieces.append(text[position:start])
        new_origin.extend(origin[position:start])
        for offset in range(start, end, 2):
            pieces.append(text[offset])
            new_origin.append(origin[offset])
        position = end
    pieces.append(text[position:])
    new_origin.extend(origin[position:])
    return "".join(pieces), new_origin


class SlurLexicon:
    """Folds obfuscated spellings of the slurs in `lexicon/slurs.txt` onto their usual spelling:
    masked letters (n*gg*r, sl_ut), stretched letters (niggggger), and for longer words one
    missing or two swapped letters (niggr, fagogt); not an extra letter, which turns too many
    real words into slurs (counts, salutes). Words listed after `!` in the file
    are real words that such a near-miss would hit, and are left alone."""

    MASK = re.compile(r"[^a-z]")
    STRETCH = re.compile(r"([a-z])\1{2,}")

    def __init__(self, path: Path):
        self.words: set[str] = set()
        self.keep: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith("!"):
                self.keep.add(line[1:].strip())
            elif line and not line.startswith("#"):
                self.words.add(line)
        self.forms = sorted({w + ending for w in self.words for ending in ("", "s", "es")}, key=len)
        self.missing_one = {w[:i] + w[i + 1:]: w for w in self.words if len(w) >= 6 for i in range(len(w))}

    def _known(self, word: str) -> Optional[str]:
        for ending in ("", "s", "es"):
            if word.endswith(ending) and word[:len(word) - len(ending)] in self.words:
                return word[:len(word) - len(ending)] + ending
        return None

    @lru_cache(maxsize=8192)
    def canonical(self, token: str) -> Optional[str]:
        """The usual spelling of an obfuscated slur, or None (also for one typed plainly)."""
        if token in self.keep or not 3 <= len(token) <= 24:
            return None
        if not token.isalpha():
            letters = sum(ch.isalpha() for ch in token)
            if letters < 2 or not token[0].isalpha():
                return None
            masked = re.compile("".join("[a-z]?" if not ch.isalpha() else ch for ch in token))
            hits = [w for w in self.forms if masked.fullmatch(w)]
            return hits[-1] if hits else None  # the longest: "fa**ot" is faggot, not fagot
        word = self.STRETCH.sub(r"\1\1", token)
        known = self._known(word)
        if known:
            return known if known != token else None
        if len(word) < 5:
            return None
        near = self.missing_one.get(word)
        for i in range(len(word) - 1):
            near = near or self._known(word[:i] + word[i + 1] + word[i] + word[i + 2:])
        return near


SLURS = SlurLexicon(Path(__file__).with_name("lexicon") / "slurs.txt")
# Candidate tokens: letters with masking symbols inside, trimmed of sentence punctuation.
SLUR_TOKEN = re2.compile(r"[a-z][a-z*#%_.\-]*[a-z*#%]")
TRIM = "\"'()[]{}<>,;:!?.-_~"


def _fold_slurs(text: str, origin: Optional[list[int]]) -> tuple[str, Optional[list[int]]]:
    # Most drafts hold no obfuscated slur: look at each distinct word once before any offsets.
    if not any(SLURS.canonical(word.strip(TRIM)) for word in set(text.split())):
        return text, origin
    pieces: list[str] = []
    new_origin: list[int] = []
    position = 0
    for match in SLUR_TOKEN.finditer(text):
        start, end = match.span()
        if (start and is_word_char(text[start - 1])) or (end < len(text) and is_word_char(text[end])):
            continue
        canonical = SLURS.canonical(match.group())
        if canonical is None:
            continue
        if origin is None:
            origin = list(range(len(text)))
        pieces.append(text[position:start])
        new_origin.extend(origin[position:start])
        pieces.append(canonical)
        # Each letter of the usual spelling points into the typed token, and the last one at
        # its last character: the whole word maps back to the whole token, also when the
        # token was longer ("faggggot").
        last = len(canonical) - 1
        new_origin.extend(origin[end - 1 if i == last else start + min(i, end - start - 1)]
                          for i in range(len(canonical)))
        position = end
    if not pieces:
        return text, origin
    pieces.append(text[position:])
    new_origin.extend(origin[position:])
    return "".join(pieces), new_origin


def normalize(text: str) -> Normalized:
    folded, origin = _fold_unicode(text)
    if any(symbol in folded for symbol in LEET_CHARS):
        folded = _undo_leetspeak(folded)
    joined, origin = _join_spaced_letters(folded, origin)
    joined, origin = _fold_slurs(joined, origin)
    return Normalized(joined, tuple(origin) if origin is not None else None, len(text))


def normalize_text(text: str) -> str:
    """The classifier's preprocessor: the normalised text alone."""
    return normalize(text).text
