"""The Draftguard classifier: one small interface for the server and for training.

    model = fit(texts, label_sets, categories, groups)   # training
    sha = save(model, path); model = load(path, sha)     # the registry
    verdict = predict(model, text, pack)                 # the check API and evaluation
    spans = explain(model, text, ["privacy"])            # which words drove each category

A scikit-learn Pipeline goes from raw text to per-category probabilities: normalisation (undoing
obfuscation), word and character TF-IDF, one logistic regression per category. Each category has
its own threshold, chosen on out-of-fold predictions so clean drafts stay quiet. Deterministic
detectors and the policy pack's company terms are combined with the model in `predict`, so the
evaluation measures exactly what employees get.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import pickle
import re
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import repeat
from pathlib import Path
from typing import Optional, Sequence

import joblib
import numpy as np
import re2
import sklearn
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from engine.detectors import MASKS, Finding, detect, find_terms
from engine.fileio import atomic_write_bytes
from engine.policy import PolicyPack
from engine.textnorm import SLURS, Normalized, normalize, normalize_text

# Words for the word n-grams; explain() tokenises with the same pattern so offsets line up.
WORD_PATTERN = r"\w+(?:['’-]\w+)*"
WORD_RE = re.compile(WORD_PATTERN)
# A soft detector finding (an email, a phone number) flags its category only when the model's
# score reaches this share of the category's threshold.
SOFT_FINDING_SHARE = 0.35
MAX_SPANS = 3
# A draft can hold thousands of detector findings (a pasted list of cards); the warning needs a few.
MAX_FINDING_SPANS = 20


class ModelIntegrityError(Exception):
    """The artifact on disk is not the one the registry recorded."""


# pragma: no mutate start (feature arithmetic: test_classifier holds it to the pipeline)
class FeatureView:
    """A fitted feature union's analyzers, vocabularies and idf weights, applied to one draft
    or one piece of a draft without scikit-learn's per-call input validation."""

    def __init__(self, features: FeatureUnion):
        self.blocks = []
        self.per_word = []  # for character n-grams within words: one analysis per distinct word
        offset = 0
        for _, vectorizer in features.transformer_list:
            analyzer = vectorizer.build_analyzer()
            self.blocks.append((analyzer, vectorizer.vocabulary_, vectorizer.idf_.astype(np.float64), offset))
            self.per_word.append(lru_cache(maxsize=WORD_CACHE)(partial(_in_vocabulary, analyzer, vectorizer.vocabulary_))
                                 if vectorizer.analyzer == "char_wb" else None)
            offset += len(vectorizer.vocabulary_)
        self.size = offset
        self.idf = np.concatenate([idf for _, _, idf, _ in self.blocks])
        self.block_of = np.concatenate([np.full(len(vocabulary), number)
                                        for number, (_, vocabulary, _, _) in enumerate(self.blocks)])

    def counts(self, piece: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per feature block, the in-vocabulary n-gram indices of `piece` and their counts."""
        result = []
        for (analyzer, vocabulary, _, _), per_word in zip(self.blocks, self.per_word):
            if per_word is None:
                result.append(_in_vocabulary(analyzer, vocabulary, piece))
                continue
            # A word's character n-grams never change: drafts re-sent as they grow, and common
            # words, cost one cache look-up.
            result.append(_merge([per_word(word) for word in piece.split()]))
        return result

    def tfidf(self, block_counts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices and TF-IDF values (sublinear tf, l2 per block, as fitted)."""
        all_indices, all_values = [], []
        for (indices, counts), (_, _, idf, offset) in zip(block_counts, self.blocks):
            if not len(indices):
                continue
            values = (1.0 + np.log(counts)) * idf[indices]
            values /= np.sqrt(values @ values)
            all_indices.append(indices + offset)
            all_values.append(values)
        if not all_indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(all_indices), np.concatenate(all_values)

    def unit_matrix(self, normalized_text: str, units: Sequence[tuple[int, int]]) -> sparse.csr_matrix:
        """Raw n-gram counts of each unit (a span of the text that starts and ends at white
        space), one row per unit. Character n-grams come from each distinct word's cached
        analysis, so the text's words are looked up once, not analysed once per unit."""
        rows, columns, counts = [], [], []
        for (analyzer, vocabulary, _, offset), per_word in zip(self.blocks, self.per_word):
            if analyzer(normalized_text) == [NO_MENTION] and NO_MENTION in vocabulary:
                # The identity view of a draft that names no group: the same one n-gram per unit.
                rows.append(np.arange(len(units)))
                columns.append(np.full(len(units), vocabulary[NO_MENTION] + offset))
                counts.append(np.ones(len(units)))
                continue
            if per_word is None:
                for row, (start, end) in enumerate(units):
                    indices, values = _in_vocabulary(analyzer, vocabulary, normalized_text[start:end])
                    rows.append(np.full(len(indices), row))
                    columns.append(indices + offset)
                    counts.append(values)
                continue
            words = [(row, per_word(word)) for row, (start, end) in enumerate(units)
                     for word in normalized_text[start:end].split()]
            if words:
                lengths = np.fromiter((len(grams[0]) for _, grams in words), dtype=np.int64, count=len(words))
                rows.append(np.repeat(np.fromiter((row for row, _ in words), dtype=np.int64, count=len(words)), lengths))
                columns.append(np.concatenate([grams[0] for _, grams in words]) + offset)
                counts.append(np.concatenate([grams[1] for _, grams in words]))
        if not counts:
            return sparse.csr_matrix((len(units), self.size))
        # Duplicate (row, column) pairs are summed on the way to CSR.
        return sparse.csr_matrix((np.concatenate(counts), (np.concatenate(rows), np.concatenate(columns))),
                                 shape=(len(units), self.size))

    def window_matrix(self, normalized_text: str, plan: "WindowPlan") -> sparse.csr_matrix:
        """The TF-IDF features of each window of the plan, one row per window.

        Each sentence is analysed once; a window's counts are the sum of its sentences' counts
        (one sparse product), then sublinear tf, idf and l2 per block, all windows at once."""
        unit_matrix = self.unit_matrix(normalized_text, plan.units)
        membership = sparse.csr_matrix(
            (np.ones(sum(last - first for first, last in plan.windows)),
             np.concatenate([np.arange(first, last) for first, last in plan.windows]),
             np.concatenate([[0], np.cumsum([last - first for first, last in plan.windows])])),
            shape=(len(plan.windows), len(plan.units)))
        windows = (membership @ unit_matrix).tocsr()
        windows.data = (1.0 + np.log(windows.data)) * self.idf[windows.indices]
        rows = np.repeat(np.arange(windows.shape[0]), np.diff(windows.indptr))
        key = rows * len(self.blocks) + self.block_of[windows.indices]
        norms = np.sqrt(np.bincount(key, weights=windows.data ** 2, minlength=windows.shape[0] * len(self.blocks)))
        windows.data /= norms[key]
        return windows


# Distinct words whose character n-grams each worker keeps (a few MB).
WORD_CACHE = 50_000


def _in_vocabulary(analyzer, vocabulary: dict, piece: str) -> tuple[np.ndarray, np.ndarray]:
    grams = Counter(analyzer(piece))
    indices = np.fromiter(map(vocabulary.get, grams.keys(), repeat(-1)), dtype=np.int64, count=len(grams))
    found = indices >= 0
    counts = np.fromiter(grams.values(), dtype=np.float64, count=len(grams))
    return indices[found], counts[found]


def _linear(classify: OneVsRestClassifier, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights (features × categories) and intercepts of the fitted per-category regressions."""
    estimators = classify.estimators_
    # A category whose training fold held one class only is a constant predictor.
    # C order: rows are picked by feature index, and a sparse product reads them in place.
    weights = np.ascontiguousarray(np.vstack([e.coef_.ravel() if hasattr(e, "coef_") else np.zeros(size)
                                              for e in estimators]).T, dtype=np.float64)
    intercepts = np.array([e.intercept_[0] if hasattr(e, "coef_") else (40.0 if e.y_.ravel()[0] else -40.0)
                           for e in estimators], dtype=np.float64)
    return weights, intercepts


class FastScorer:
    """The fitted pipeline's arithmetic for a single draft, without scikit-learn's per-call
    input validation (which costs ~2 ms, twenty times the arithmetic itself).

    It uses the pipeline's own analyzers, vocabularies, idf weights and coefficients, so its
    whole-draft scores equal `pipeline.predict_proba` (a test holds them to that on the whole
    test file). It also scores a long draft's sentence windows (see `window_plan`).
    """

    def __init__(self, pipeline: Pipeline):
        self.view = FeatureView(pipeline.named_steps["features"])
        self.blocks = self.view.blocks
        self.weights, self.intercepts = _linear(pipeline.named_steps["classify"], self.view.size)
        self._last: Optional[tuple[str, tuple[np.ndarray, np.ndarray]]] = None

    def features(self, normalized_text: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole draft's features. The last draft's are kept, because explaining a flagged
        draft needs the features that scoring it just computed."""
        last = self._last
        if last is not None and last[0] == normalized_text:
            return last[1]
        result = self.view.tfidf(self.view.counts(normalized_text))
        self._last = (normalized_text, result)
        return result

    def _probabilities(self, features: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        indices, values = features
        return expit(values @ self.weights[indices] + self.intercepts)

    def scores(self, normalized_text: str) -> np.ndarray:
        return self._probabilities(self.features(normalized_text))

    def window_scores(self, normalized_text: str, plan: "WindowPlan") -> np.ndarray:
        """One row of probabilities per window of the plan."""
        return expit(self.view.window_matrix(normalized_text, plan) @ self.weights + self.intercepts)


def _merge(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum several pieces' (indices, counts) into one."""
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    indices = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    unique, inverse = np.unique(indices, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique))


# pragma: no mutate end
# Long drafts: the risk often sits in one sentence among ordinary ones, where it is diluted in
# the whole draft's features. Drafts longer than LONG_DRAFT are also scored on windows of
# WINDOW_UNITS consecutive sentences, and each category's score is the maximum over the windows
# and the whole draft (thresholds are calibrated on exactly that maximum).
LONG_DRAFT = 400
WINDOW_UNITS = 2
# A "sentence" shorter than UNIT_MIN characters joins the next one ("Hi all." is no window of
# its own); a longer one is cut at a space into pieces of at most UNIT_MAX.
UNIT_MIN = 40
UNIT_MAX = 300
SENTENCE_END = re2.compile(r"[.!?…]+[\s\"')\]]+|\n\s*")


@dataclass(frozen=True)
class WindowPlan:
    units: list[tuple[int, int]]    # sentence spans of the normalised text
    windows: list[tuple[int, int]]  # [first, last) unit indices of each window

    def span(self, window: int) -> tuple[int, int]:
        first, last = self.windows[window]
        return self.units[first][0], self.units[last - 1][1]


def sentence_units(text: str) -> list[tuple[int, int]]:
    """Sentences of `text` (. ! ? … followed by a space, or a line break), short ones joined to
    the next, long ones cut at a space; every unit boundary falls on white space."""
    units: list[tuple[int, int]] = []
    start = 0
    for match in [*SENTENCE_END.finditer(text), None]:
        end = match.end() if match else len(text)
        if match and end - start < UNIT_MIN:
            continue
        while end - start > UNIT_MAX:
            cut = text.rfind(" ", start + 1, start + UNIT_MAX)
            cut = cut if cut > start else start + UNIT_MAX
            units.append((start, cut))
            start = cut
        if text[start:end].strip():
            units.append((start, end))
        start = end
    return units


def window_plan(text: str) -> Optional[WindowPlan]:
    """How a draft longer than LONG_DRAFT characters is cut into windows; None for a short one."""
    if len(text) <= LONG_DRAFT:
        return None
    units = sentence_units(text)
    if len(units) <= 1:
        return None
    size = min(WINDOW_UNITS, len(units))
    return WindowPlan(units, [(i, i + size) for i in range(len(units) - size + 1)])


@dataclass
class Model:
    pipeline: Pipeline
    categories: tuple[str, ...]
    thresholds: dict[str, float]
    # Drafts scored on windows (see window_plan) take their own thresholds: the maximum over
    # many windows runs higher than one whole-draft score.
    long_thresholds: dict[str, float] = field(default_factory=dict)
    # Training's out-of-group decision scores (one row per training draft), for its report.
    out_of_fold: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    _fast: Optional[FastScorer] = field(default=None, repr=False, compare=False)

    @property
    def fast(self) -> FastScorer:
        if self._fast is None:
            self._fast = FastScorer(self.pipeline)
        return self._fast

    def thresholds_for(self, plan: Optional["WindowPlan"]) -> dict[str, float]:
        """The learnt thresholds that apply to a draft: the long ones when it has windows."""
        return self.long_thresholds if plan is not None and self.long_thresholds else self.thresholds

    def __getstate__(self) -> dict:
        # The fast scorer is derived data, rebuilt after loading; training's scores stay behind.
        return {**self.__dict__, "_fast": None, "out_of_fold": None}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    source: str  # "model", "detector" or "term"
    detector: Optional[str] = None  # for detector spans: which one ("payment_card", "password", ...)
    mask: Optional[str] = None  # the placeholder the employee may replace the span with

    def as_dict(self) -> dict:
        span = {"start": self.start, "end": self.end, "text": self.text, "source": self.source}
        if self.detector:
            span["detector"] = self.detector
        if self.mask:
            span["mask"] = self.mask
        return span


@dataclass
class CategoryVerdict:
    id: str
    score: float
    threshold: float
    flagged: bool
    spans: list[Span] = field(default_factory=list)


@dataclass
class Verdict:
    categories: list[CategoryVerdict]

    @property
    def flagged(self) -> bool:
        return any(c.flagged for c in self.categories)

    @property
    def flagged_ids(self) -> list[str]:
        return [c.id for c in self.categories if c.flagged]


# pragma: no mutate start (training, outside `make mutation`'s scope)
def _normalize_all(texts: Sequence[str]) -> list[str]:
    return [normalize_text(t) for t in texts]


def _read_terms(name: str) -> list[str]:
    path = Path(__file__).with_name("lexicon") / name
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "!"))]


GROUP, SLUR, NO_MENTION = "xgroupx", "xslurx", "xnomentionx"
_GROUP_TERMS = _read_terms("identity_terms.txt")
_PLACEHOLDERS = (
    (re2.compile(r"\b(?:" + "|".join(re2.escape(t) for t in sorted(_GROUP_TERMS, key=len, reverse=True)) + r")\b"), GROUP),
    (re2.compile(r"\b(?:" + "|".join(re2.escape(t) for t in sorted(SLURS.forms, key=len, reverse=True)) + r")\b"), SLUR),
)


# Every word of every group term and slur: a draft with none of them mentions no group.
_MENTION_WORDS = {word for term in _GROUP_TERMS + SLURS.forms for word in WORD_RE.findall(term)}


def identity_ngrams(normalized_text: str) -> list[str]:
    """The n-grams around every mention of a group of people or a slur, with the mention
    replaced by one placeholder: "xgroupx are never", "why are xgroupx", "you xslurx".

    A third feature view beside words and characters: it lets the classifier learn what is
    said about *a* group once, from every group the corpus happens to name."""
    if _MENTION_WORDS.isdisjoint(WORD_RE.findall(normalized_text)):
        return [NO_MENTION]  # keeps the view's vocabulary non-empty on any corpus
    text = normalized_text
    for pattern, placeholder in _PLACEHOLDERS:
        text = pattern.sub(f" {placeholder} ", text)
    if GROUP not in text and SLUR not in text:
        return [NO_MENTION]
    tokens = WORD_RE.findall(text)
    grams = []
    for i, token in enumerate(tokens):
        if token not in (GROUP, SLUR):
            continue
        for size in range(1, 5):
            if i + size <= len(tokens):
                grams.append(" ".join(tokens[i:i + size]))
            if 1 < size <= 3 and i - size + 1 >= 0:
                grams.append(" ".join(tokens[i - size + 1:i + 1]))
    return grams


def build_features() -> FeatureUnion:
    """Raw normalised text to features: word 1-2-grams, character 2-5-grams within words, and
    the n-grams around mentions of groups of people and slurs (`identity_ngrams`)."""
    words = TfidfVectorizer(lowercase=False, token_pattern=WORD_PATTERN, ngram_range=(1, 2),
                            min_df=2, sublinear_tf=True, dtype=np.float32)
    chars = TfidfVectorizer(lowercase=False, analyzer="char_wb", ngram_range=(2, 5),
                            min_df=2, sublinear_tf=True, max_features=150_000, dtype=np.float32)
    identities = TfidfVectorizer(analyzer=identity_ngrams, min_df=2, sublinear_tf=True, dtype=np.float32)
    return FeatureUnion([("words", words), ("chars", chars), ("identities", identities)])


def build_classifier(seed: int = 0) -> OneVsRestClassifier:
    # dual=True: liblinear solves the dual problem, twice as fast when features outnumber drafts.
    regression = LogisticRegression(C=8.0, class_weight="balanced", solver="liblinear", dual=True,
                                    max_iter=2000, random_state=seed)
    return OneVsRestClassifier(regression, n_jobs=CLASSIFIER_JOBS)


# The per-category regressions are fitted side by side on two cores (processes: see fit_classifier).
CLASSIFIER_JOBS = 2


def build_pipeline(features: FeatureUnion, classify: OneVsRestClassifier) -> Pipeline:
    """The whole model, from raw text to per-category probabilities, from fitted parts."""
    return Pipeline([
        ("normalize", FunctionTransformer(_normalize_all)),
        ("features", features),
        ("classify", classify),
    ])


def _indicator(label_sets: Sequence[Sequence[str]], categories: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    y = np.zeros((len(label_sets), len(categories)), dtype=np.int8)
    for row, labels in enumerate(label_sets):
        for label in labels:
            if label in index:
                y[row, index[label]] = 1
    return y


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, beta: float = 0.8) -> float:
    """The threshold with the best F-beta on held-out scores (beta < 1 favours precision)."""
    best_threshold, best_score = 0.5, -1.0
    for threshold in THRESHOLD_GRID:
        predicted = scores >= threshold
        tp = float(np.sum(predicted & (y_true == 1)))
        fp = float(np.sum(predicted & (y_true == 0)))
        fn = float(np.sum(~predicted & (y_true == 1)))
        denominator = (1 + beta**2) * tp + beta**2 * fn + fp
        f_beta = (1 + beta**2) * tp / denominator if denominator else 0.0
        if f_beta > best_score + 1e-9:
            best_threshold, best_score = float(threshold), f_beta
    return round(best_threshold, 2)


THRESHOLD_GRID = np.round(np.arange(0.20, 0.96, 0.01), 2)
# The share of clean drafts that may be flagged on held-out scores. "Helpful, not a nag": when
# the per-category choice flags more, thresholds rise where that costs the fewest true warnings.
CLEAN_FLAGGED_TARGET = 0.03
# No threshold rises more than this above its own best F-beta choice: one category whose
# held-out positives all score high would otherwise absorb the whole cap, and be deaf to the
# subtler cases the held-out writers did not happen to write.
MAX_RAISE = 0.15


def choose_thresholds(y: np.ndarray, scores: np.ndarray, long: np.ndarray,
                      categories: Sequence[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Thresholds for short and for long (windowed) drafts from held-out decision scores: the
    best F-beta per category and length, then raised jointly until at most
    CLEAN_FLAGGED_TARGET of the clean drafts are flagged."""
    subsets = [~long, long] if long.any() and (~long).any() else [np.ones(len(y), dtype=bool)]
    chosen = np.zeros((len(subsets), len(categories)))
    for s, rows in enumerate(subsets):
        for c in range(len(categories)):
            chosen[s, c] = choose_threshold(y[rows, c], scores[rows, c])
    best_f = chosen.copy()
    clean = ~y.any(axis=1)
    subset_of = np.zeros(len(y), dtype=np.int64) if len(subsets) == 1 else long.astype(np.int64)

    def flags(thresholds: np.ndarray) -> np.ndarray:
        return scores >= thresholds[subset_of]

    current = flags(chosen)
    allowed = int(CLEAN_FLAGGED_TARGET * clean.sum())
    while current[clean].any(axis=1).sum() > allowed:
        # Only a clean draft flagged by one category alone is unflagged by raising that
        # category's threshold; each candidate raises it just past the lowest such score.
        alone = clean & (current.sum(axis=1) == 1)
        best, best_cost = None, np.inf
        for s in range(len(subsets)):
            in_subset = subset_of == s
            for c in range(len(categories)):
                mine = alone & in_subset & current[:, c]
                if not mine.any():
                    continue
                target = np.ceil(scores[mine, c].min() * 100 + 1e-6) / 100
                if target > min(THRESHOLD_GRID[-1], best_f[s, c] + MAX_RAISE):
                    continue
                dropped = in_subset & current[:, c] & (scores[:, c] < target)
                saved = int(np.sum(dropped & mine))
                lost = int(np.sum(dropped & (y[:, c] == 1)))
                if lost / saved < best_cost:
                    best, best_cost = (s, c, target), lost / saved
        if best is None:
            break
        chosen[best[0], best[1]] = best[2]
        current = flags(chosen)
    as_dict = lambda row: {c: float(round(row[i], 2)) for i, c in enumerate(categories)}
    return as_dict(chosen[0]), as_dict(chosen[-1])


# Folds for threshold calibration: no fold's model saw a held-out draft's writer.
FOLDS = 4
# An admin's uploaded examples are spread over all folds instead, so each held-out part is
# scored by a model that learnt from the rest of the upload, as the final model will.
SPREAD_GROUP_PREFIX = "company:"


def assign_folds(groups: Sequence[str], folds: int) -> np.ndarray:
    """A fold number per draft: whole groups, largest first, to the smallest fold (as
    GroupKFold does); drafts of SPREAD_GROUP_PREFIX groups round-robin over every fold."""
    fold_of = np.zeros(len(groups), dtype=np.int64)
    sizes = np.zeros(folds, dtype=np.int64)
    members: dict[str, list[int]] = {}
    spread = []
    for index, group in enumerate(groups):
        (spread if group.startswith(SPREAD_GROUP_PREFIX) else members.setdefault(group, [])).append(index)
    for group in sorted(members, key=lambda g: (-len(members[g]), g)):
        fold = int(np.argmin(sizes))
        fold_of[members[group]] = fold
        sizes[fold] += len(members[group])
    for position, index in enumerate(spread):
        fold_of[index] = position % folds
    return fold_of


class TrainingSet:
    """Training drafts turned into features once: the whole drafts (X) and every window of
    the long ones (one row each, `owner` naming its draft). Out-of-fold models differ only in
    their regressions, so every fold reuses these matrices; the vocabulary and idf weights
    come from all the drafts (they use no labels)."""

    def __init__(self, texts: Sequence[str]):
        self.normalized = _normalize_all(texts)
        self.features = build_features()
        self.X = self.features.fit_transform(self.normalized).tocsr()
        view = FeatureView(self.features)
        self.long = np.zeros(len(texts), dtype=bool)
        blocks, owner = [], []
        for number, text in enumerate(self.normalized):
            plan = window_plan(text)
            if plan is not None:
                self.long[number] = True
                blocks.append(view.window_matrix(text, plan))
                owner += [number] * len(plan.windows)
        self.windows = sparse.vstack(blocks, format="csr") if blocks else sparse.csr_matrix((0, view.size))
        self.owner = np.array(owner, dtype=np.int64)

    def decisions(self, classify: OneVsRestClassifier, rows: np.ndarray) -> np.ndarray:
        """Decision scores (the maximum over the whole draft and its windows) of `rows`."""
        weights, intercepts = _linear(classify, self.X.shape[1])
        result = expit(self.X[rows] @ weights + intercepts)
        position = np.full(len(self.normalized), -1)
        position[rows] = np.arange(len(rows))
        mine = np.flatnonzero(position[self.owner] >= 0)
        if len(mine):
            window_scores = expit(self.windows[mine] @ weights + intercepts)
            np.maximum.at(result, position[self.owner[mine]], window_scores)
        return result


def fit_classifier(X, y: np.ndarray, seed: int = 0, sample_weight: Optional[np.ndarray] = None) -> OneVsRestClassifier:
    classify = build_classifier(seed)
    # Processes, not threads: liblinear draws its coordinate order from one global random
    # generator, so two threads fitting at once make training non-deterministic. joblib
    # memory-maps the matrix for the worker processes instead of copying it; converting it
    # once here (float64, sorted indices) spares every worker the same conversion.
    X = sparse.csr_matrix(X, dtype=np.float64)
    X.sort_indices()
    with joblib.parallel_config(backend="loky"):
        if sample_weight is None:
            return classify.fit(X, y)
        # OneVsRestClassifier passes weights on to each category's regression only through
        # scikit-learn's metadata routing.
        with sklearn.config_context(enable_metadata_routing=True):
            classify.estimator.set_fit_request(sample_weight=True)
            return classify.fit(X, y, sample_weight=sample_weight)


def held_out_scores(training: TrainingSet, y: np.ndarray, fold_of: np.ndarray, seed: int = 0,
                    sample_weight: Optional[np.ndarray] = None, progress=None) -> np.ndarray:
    """Each draft's decision scores from a model fitted on the other folds only."""
    result = np.zeros(y.shape, dtype=np.float64)
    folds = sorted(set(fold_of.tolist()))
    for number, fold in enumerate(folds):
        if progress:
            progress(f"fold {number + 1} of {len(folds)}", (number + 1) / (len(folds) + 2))
        inside, held = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        classify = fit_classifier(training.X[inside], y[inside], seed,
                                  None if sample_weight is None else sample_weight[inside])
        result[held] = training.decisions(classify, held)
    return result


def fit(texts: Sequence[str], label_sets: Sequence[Sequence[str]], categories: Sequence[str],
        groups: Optional[Sequence[str]] = None, seed: int = 0, progress=None,
        sample_weight: Optional[Sequence[float]] = None) -> Model:
    """Fit the pipeline on every draft; choose thresholds on out-of-group decision scores
    (no fold's model saw the writer of the drafts it scores).

    `sample_weight` lets some drafts count more (an admin's own examples); `progress(stage,
    fraction)` hears of each step."""
    # A category needs positive examples to be learned; with fewer than two it is left to the
    # detectors and company terms.
    categories = tuple(c for c in categories if sum(c in labels for labels in label_sets) >= 2)
    y = _indicator(label_sets, categories)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if progress:
        progress("computing features", 0.0)
    training = TrainingSet(texts)
    groups = list(groups or ["all"] * len(texts))
    folds = min(FOLDS, len({g for g in groups if not g.startswith(SPREAD_GROUP_PREFIX)}))
    if folds >= 2:
        oof = held_out_scores(training, y, assign_folds(groups, folds), seed, weights, progress)
        thresholds, long_thresholds = choose_thresholds(y, oof, training.long, categories)
    else:
        oof, thresholds, long_thresholds = None, {c: 0.5 for c in categories}, {}
    if progress:
        progress("fitting the final model", (folds + 1) / (folds + 2))
    classify = fit_classifier(training.X, y, seed, weights)
    return Model(build_pipeline(training.features, classify), categories, thresholds, long_thresholds,
                 out_of_fold=oof)


# pragma: no mutate end
def save(model: Model, path: Path) -> str:
    """Write the artifact atomically; return its sha256 for the registry."""
    buffer = io.BytesIO()
    # The model is pickled by Python's C pickler, and joblib compresses those bytes: joblib's own
    # unpickler runs in pure Python and took 1.2 s over the vocabularies, this 0.3 s, which a
    # promotion waits for on every worker.
    joblib.dump(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), buffer, compress=3)
    data = buffer.getvalue()
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


# Artifacts saved before the engine moved out of server/ name their classes and functions there.
FORMER_MODULES = {f"server.{name}": f"engine.{name}" for name in ("classifier", "detectors", "textnorm", "policy")}


@contextmanager
def _former_module_names():
    added = [old for old in FORMER_MODULES if old not in sys.modules]
    for old in added:
        sys.modules[old] = importlib.import_module(FORMER_MODULES[old])
    try:
        yield
    finally:
        for old in added:
            del sys.modules[old]


def load(path: Path, expected_sha256: str) -> Model:
    """Load an artifact only if its bytes hash to what the registry recorded (joblib is code)."""
    data = Path(path).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelIntegrityError(f"{Path(path).parent.name}/{Path(path).name}: sha256 {actual[:12]}… "
                                  "does not match the registry")
    with _former_module_names():
        model = joblib.load(io.BytesIO(data))
        if isinstance(model, bytes):  # saved since models were pickled inside (see save); before, the model itself
            model = pickle.loads(model)
    if not isinstance(model, Model):
        raise ModelIntegrityError(f"{Path(path).parent.name}/{Path(path).name}: not a Draftguard model")
    return model


@dataclass(frozen=True)
class Decision:
    """A draft's model scores: per category the maximum over the whole draft and its windows,
    and which window gave it (-1: the whole draft)."""
    scores: np.ndarray
    plan: Optional[WindowPlan]
    source: np.ndarray


def decide(fast: FastScorer, normalized_text: str) -> Decision:
    whole = fast.scores(normalized_text)
    plan = window_plan(normalized_text)
    if plan is None:
        return Decision(whole, None, np.full(len(whole), -1))
    per_window = fast.window_scores(normalized_text, plan)
    best = per_window.max(axis=0)
    source = np.where(best > whole, per_window.argmax(axis=0), -1)
    return Decision(np.maximum(whole, best), plan, source)


def _decision_batch(fast: FastScorer, texts: Sequence[str]) -> np.ndarray:
    return np.vstack([decide(fast, normalize_text(t)).scores for t in texts]) if len(texts) else \
        np.zeros((0, len(fast.intercepts)))


def scores(model: Model, texts: Sequence[str]) -> np.ndarray:
    """Decision scores for a batch, one row per text and one column per model category."""
    return _decision_batch(model.fast, texts)


def score(model: Model, text: str) -> np.ndarray:
    """Decision scores for one draft (the check path), one per model category."""
    return decide(model.fast, normalize_text(text)).scores


def _combine(model: Model, text: str, normalized: Normalized, decision: Decision,
             pack: PolicyPack, with_spans: bool) -> Verdict:
    findings = detect(text, pack.detectors, normalized)
    if pack.terms:
        findings += find_terms(normalized, ((t.term, t.category) for t in pack.terms))
    column = model_columns(model, pack)
    fitted = model.thresholds_for(decision.plan)
    verdicts = []
    for category in pack.categories:
        scored = category.id in column
        threshold = category.threshold or (fitted.get(model.categories[column[category.id]], 0.5) if scored else 0.5)
        model_score = float(decision.scores[column[category.id]]) if scored else 0.0
        mine = [f for f in findings if f.category == category.id]
        hard = [f for f in mine if f.hard]
        soft = [f for f in mine if not f.hard and model_score >= threshold * SOFT_FINDING_SHARE]
        flagged = model_score >= threshold or bool(hard or soft)
        score = 1.0 if hard else max(model_score, threshold) if soft else model_score
        spans = [_finding_span(text, f) for f in (hard + soft)[:MAX_FINDING_SPANS]] if flagged and with_spans else []
        verdicts.append(CategoryVerdict(category.id, round(score, 4), threshold, flagged, spans))
    if with_spans:
        _add_model_spans(model, text, normalized, verdicts, decision, column)
    return Verdict(verdicts)


def model_columns(model: Model, pack: PolicyPack) -> dict[str, int]:
    """The model's score column for each pack category it scores, found by the category's id
    or an id it had before a rename. A category the model was not trained on has none."""
    position = {c: i for i, c in enumerate(model.categories)}
    columns = {}
    for category in pack.categories:
        found = next((position[i] for i in category.ids if i in position), None)
        if found is not None:
            columns[category.id] = found
    return columns


def _add_model_spans(model: Model, text: str, normalized: Normalized, verdicts: list[CategoryVerdict],
                     decision: Decision, column: dict[str, int]) -> None:
    """Add the words behind each category the model itself flagged, beside detector spans;
    they come from the window that gave the category its score."""
    driven = [v for v in verdicts if v.id in column and decision.scores[column[v.id]] >= v.threshold]
    by_window: dict[int, list[CategoryVerdict]] = {}
    for verdict in driven:
        by_window.setdefault(int(decision.source[column[verdict.id]]), []).append(verdict)
    for window, group in by_window.items():
        span = decision.plan.span(window) if window >= 0 else None
        scored_as = {v.id: model.categories[column[v.id]] for v in group}  # differs after a rename
        explained = explain(model, text, list(scored_as.values()), normalized, span)
        for verdict in group:
            verdict.spans += [s for s in explained[scored_as[verdict.id]]
                              if not any(s.start < o.end and o.start < s.end for o in verdict.spans)]
            verdict.spans.sort(key=lambda s: s.start)


def _finding_span(text: str, finding: Finding) -> Span:
    if finding.detector == "term":
        return Span(finding.start, finding.end, text[finding.start:finding.end], "term")
    return Span(finding.start, finding.end, text[finding.start:finding.end], "detector",
                finding.detector, MASKS.get(finding.detector))


def predict(model: Model, text: str, pack: PolicyPack) -> Verdict:
    """The full decision for one draft: model scores, detectors, company terms, thresholds."""
    normalized = normalize(text)
    return _combine(model, text, normalized, decide(model.fast, normalized.text), pack, with_spans=True)


def predict_many(model: Model, texts: Sequence[str], pack: PolicyPack) -> list[Verdict]:
    """`predict` for a batch (evaluation), without spans."""
    verdicts = []
    for text in texts:
        normalized = normalize(text)
        verdicts.append(_combine(model, text, normalized, decide(model.fast, normalized.text), pack,
                                 with_spans=False))
    return verdicts


# pragma: no mutate start (explanations, outside `make mutation`'s scope)
def explain(model: Model, text: str, category_ids: Sequence[str],
            normalized: Optional[Normalized] = None,
            window: Optional[tuple[int, int]] = None) -> dict[str, list[Span]]:
    """For each category, the character ranges of `text` whose n-grams raised its score most.

    Every word and character n-gram of the draft (or of one window of it, given as a range of
    the normalised text) is attributed to a word token (a bigram half to each of its words, a
    character n-gram to the word under its middle), weighted by its TF-IDF value times the
    category's coefficient; the strongest runs of tokens become spans.
    """
    normalized = normalized or normalize(text)
    offset, end = window or (0, len(normalized.text))
    norm = normalized.text[offset:end]
    tokens = [(m.start(), m.end()) for m in WORD_RE.finditer(norm)]
    if not tokens:
        return {c: [] for c in category_ids}
    feature_ids, token_ids, shares = _attribute_features(model.fast, norm, tokens)
    indices, values = model.fast.features(norm)
    value_of = np.zeros(model.fast.weights.shape[0])
    value_of[indices] = values
    columns = [model.categories.index(c) for c in category_ids]
    contributions = (value_of[feature_ids] * shares)[:, None] * model.fast.weights[feature_ids][:, columns]
    result = {}
    for position, category_id in enumerate(category_ids):
        token_scores = np.bincount(token_ids, weights=contributions[:, position], minlength=len(tokens))
        result[category_id] = _top_runs(text, normalized, tokens, token_scores, offset)
    return result


def _attribute_features(fast: FastScorer, norm: str, tokens: list[tuple[int, int]]):
    """(feature index, token index, share) for every n-gram occurrence in the draft."""
    # Spans come from the word and character views; the identity view repeats their words.
    (_, word_vocabulary, _, _), (_, char_vocabulary, _, char_offset) = fast.blocks[:2]
    pairs: list[tuple[int, int, float]] = []
    words = [norm[s:e] for s, e in tokens]
    for i, word in enumerate(words):
        index = word_vocabulary.get(word)
        if index is not None:
            pairs.append((index, i, 1.0))
        if i + 1 < len(words):
            index = word_vocabulary.get(f"{word} {words[i + 1]}")
            if index is not None:
                pairs += [(index, i, 0.5), (index, i + 1, 0.5)]
    owner = [-1] * len(norm)
    for i, (start, end) in enumerate(tokens):
        owner[start:end] = [i] * (end - start)
    for chunk in re.finditer(r"\S+", norm):
        padded = f" {chunk.group()} "
        last = chunk.end() - 1
        for n in range(2, 6):
            for offset in range(len(padded) - n + 1):
                index = char_vocabulary.get(padded[offset:offset + n])
                if index is not None:
                    middle = min(max(chunk.start() + offset - 1 + n // 2, chunk.start()), last)
                    if owner[middle] >= 0:
                        pairs.append((char_offset + index, owner[middle], 1.0))
    if not pairs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    feature_ids, token_ids, shares = zip(*pairs)
    feature_ids = np.array(feature_ids, dtype=np.int64)
    # A feature seen several times has one TF-IDF value: split it between its occurrences.
    occurrences = np.bincount(feature_ids)[feature_ids]
    return feature_ids, np.array(token_ids, dtype=np.int64), np.array(shares) / occurrences


def _top_runs(text: str, normalized: Normalized, tokens: list[tuple[int, int]],
              token_scores: np.ndarray, offset: int = 0) -> list[Span]:
    """Merge neighbouring strong tokens into runs and keep the strongest few."""
    peak = token_scores.max() if len(token_scores) else 0.0
    if peak <= 0:
        return []
    strong = token_scores >= 0.35 * peak
    runs: list[tuple[float, int, int]] = []
    i = 0
    while i < len(tokens):
        if not strong[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and strong[j + 1] and tokens[j + 1][0] - tokens[j][1] <= 2:
            j += 1
        runs.append((float(token_scores[i:j + 1].sum()), tokens[i][0], tokens[j][1]))
        i = j + 1
    runs.sort(reverse=True)
    spans = []
    for _, start, end in runs[:MAX_SPANS]:
        original_start, original_end = normalized.to_original(offset + start, offset + end)
        spans.append(Span(original_start, original_end, text[original_start:original_end], "model"))
    return sorted(spans, key=lambda s: s.start)
# pragma: no mutate end
