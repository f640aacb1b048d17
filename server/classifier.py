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
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import joblib
import numpy as np
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from server.detectors import Finding, detect, find_terms
from server.fileio import atomic_write_bytes
from server.policy import PolicyPack
from server.textnorm import Normalized, normalize, normalize_text

# Words for the word n-grams; explain() tokenises with the same pattern so offsets line up.
WORD_PATTERN = r"\w+(?:['’-]\w+)*"
WORD_RE = re.compile(WORD_PATTERN)
# A soft detector finding (an email, a phone number) flags its category only when the model's
# score reaches this share of the category's threshold.
SOFT_FINDING_SHARE = 0.35
MAX_SPANS = 3


class ModelIntegrityError(Exception):
    """The artifact on disk is not the one the registry recorded."""


class FastScorer:
    """The fitted pipeline's arithmetic for a single draft, without scikit-learn's per-call
    input validation (which costs ~2 ms, twenty times the arithmetic itself).

    It uses the pipeline's own analyzers, vocabularies, idf weights and coefficients, so its
    scores equal `pipeline.predict_proba` (a test holds them to that on the whole test file).
    """

    def __init__(self, pipeline: Pipeline):
        features = pipeline.named_steps["features"]
        self.blocks = []
        offset = 0
        for _, vectorizer in features.transformer_list:
            self.blocks.append((vectorizer.build_analyzer(), vectorizer.vocabulary_,
                                vectorizer.idf_.astype(np.float64), offset))
            offset += len(vectorizer.vocabulary_)
        estimators = pipeline.named_steps["classify"].estimators_
        self.weights = np.vstack([e.coef_.ravel() for e in estimators]).T.astype(np.float64)
        self.intercepts = np.array([e.intercept_[0] for e in estimators], dtype=np.float64)
        self._last: Optional[tuple[str, tuple[np.ndarray, np.ndarray]]] = None

    def features(self, normalized_text: str) -> tuple[np.ndarray, np.ndarray]:
        """Feature indices and TF-IDF values (sublinear tf, l2 per block, as fitted).

        The last draft's features are kept, because explaining a flagged draft needs the same
        features that scoring it just computed."""
        last = self._last
        if last is not None and last[0] == normalized_text:
            return last[1]
        result = self._compute_features(normalized_text)
        self._last = (normalized_text, result)
        return result

    def _compute_features(self, normalized_text: str) -> tuple[np.ndarray, np.ndarray]:
        all_indices, all_values = [], []
        for analyzer, vocabulary, idf, offset in self.blocks:
            counts: dict[int, int] = {}
            for gram in analyzer(normalized_text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[indices]
            values /= np.sqrt(values @ values)
            all_indices.append(indices + offset)
            all_values.append(values)
        if not all_indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(all_indices), np.concatenate(all_values)

    def scores(self, normalized_text: str) -> np.ndarray:
        indices, values = self.features(normalized_text)
        return expit(values @ self.weights[indices] + self.intercepts)


@dataclass
class Model:
    pipeline: Pipeline
    categories: tuple[str, ...]
    thresholds: dict[str, float]
    _fast: Optional[FastScorer] = field(default=None, repr=False, compare=False)

    @property
    def fast(self) -> FastScorer:
        if self._fast is None:
            self._fast = FastScorer(self.pipeline)
        return self._fast

    def __getstate__(self) -> dict:
        # The fast scorer is derived data: rebuilt after loading, never pickled.
        return {**self.__dict__, "_fast": None}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    source: str  # "model", "detector" or "term"

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "source": self.source}


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


def _normalize_all(texts: Sequence[str]) -> list[str]:
    return [normalize_text(t) for t in texts]


def build_pipeline(seed: int = 0) -> Pipeline:
    words = TfidfVectorizer(lowercase=False, token_pattern=WORD_PATTERN, ngram_range=(1, 2),
                            min_df=2, sublinear_tf=True, dtype=np.float32)
    chars = TfidfVectorizer(lowercase=False, analyzer="char_wb", ngram_range=(2, 5),
                            min_df=2, sublinear_tf=True, max_features=150_000, dtype=np.float32)
    classifier = LogisticRegression(C=8.0, class_weight="balanced", solver="liblinear",
                                    max_iter=2000, random_state=seed)
    return Pipeline([
        ("normalize", FunctionTransformer(_normalize_all)),
        ("features", FeatureUnion([("words", words), ("chars", chars)])),
        ("classify", OneVsRestClassifier(classifier)),
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
    for threshold in np.arange(0.20, 0.91, 0.01):
        predicted = scores >= threshold
        tp = float(np.sum(predicted & (y_true == 1)))
        fp = float(np.sum(predicted & (y_true == 0)))
        fn = float(np.sum(~predicted & (y_true == 1)))
        denominator = (1 + beta**2) * tp + beta**2 * fn + fp
        f_beta = (1 + beta**2) * tp / denominator if denominator else 0.0
        if f_beta > best_score + 1e-9:
            best_threshold, best_score = float(threshold), f_beta
    return round(best_threshold, 2)


def out_of_fold_scores(texts: Sequence[str], y: np.ndarray, groups: Sequence[str],
                       seed: int = 0, progress=None) -> np.ndarray:
    """Scores for each training draft from a model that never saw its group (slice)."""
    distinct = sorted(set(groups))
    folds = min(5, len(distinct)) if len(distinct) >= 2 else 0
    scores = np.zeros(y.shape, dtype=np.float64)
    if folds < 2:
        return scores
    texts = np.asarray(texts, dtype=object)
    for fold, (train_idx, held_idx) in enumerate(GroupKFold(n_splits=folds).split(texts, y, groups)):
        pipeline = build_pipeline(seed).fit(list(texts[train_idx]), y[train_idx])
        scores[held_idx] = pipeline.predict_proba(list(texts[held_idx]))
        if progress:
            progress(fold + 1, folds)
    return scores


def fit(texts: Sequence[str], label_sets: Sequence[Sequence[str]], categories: Sequence[str],
        groups: Optional[Sequence[str]] = None, seed: int = 0, progress=None) -> Model:
    """Fit the pipeline on every draft; choose thresholds on out-of-fold scores."""
    # A category needs positive examples to be learned; with fewer than two it is left to the
    # detectors and company terms.
    categories = tuple(c for c in categories if sum(c in labels for labels in label_sets) >= 2)
    y = _indicator(label_sets, categories)
    oof = out_of_fold_scores(texts, y, groups or ["all"] * len(texts), seed, progress)
    if oof.any():
        thresholds = {c: choose_threshold(y[:, i], oof[:, i]) for i, c in enumerate(categories)}
    else:
        thresholds = {c: 0.5 for c in categories}
    pipeline = build_pipeline(seed).fit(list(texts), y)
    return Model(pipeline, categories, thresholds)


def save(model: Model, path: Path) -> str:
    """Write the artifact atomically; return its sha256 for the registry."""
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    data = buffer.getvalue()
    atomic_write_bytes(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def load(path: Path, expected_sha256: str) -> Model:
    """Load an artifact only if its bytes hash to what the registry recorded (joblib is code)."""
    data = Path(path).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelIntegrityError(f"{path}: sha256 {actual[:12]}… does not match the registry")
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, Model):
        raise ModelIntegrityError(f"{path}: not a Draftguard model")
    return model


def scores(model: Model, texts: Sequence[str]) -> np.ndarray:
    """Model probabilities for a batch, one row per text and one column per model category."""
    return model.pipeline.predict_proba(list(texts))


def score(model: Model, text: str) -> np.ndarray:
    """Model probabilities for one draft (the check path), one per model category."""
    return model.fast.scores(normalize_text(text))


def _combine(model: Model, text: str, normalized: Normalized, model_scores: np.ndarray,
             pack: PolicyPack, with_spans: bool) -> Verdict:
    findings = detect(text, normalized)
    if pack.terms:
        findings += find_terms(normalized, ((t.term, t.category) for t in pack.terms))
    column = {c: i for i, c in enumerate(model.categories)}
    verdicts = []
    for category in pack.categories:
        threshold = category.threshold or model.thresholds.get(category.id, 0.5)
        model_score = float(model_scores[column[category.id]]) if category.id in column else 0.0
        mine = [f for f in findings if f.category == category.id]
        hard = [f for f in mine if f.hard]
        soft = [f for f in mine if not f.hard and model_score >= threshold * SOFT_FINDING_SHARE]
        flagged = model_score >= threshold or bool(hard or soft)
        score = 1.0 if hard else max(model_score, threshold) if soft else model_score
        spans = [_finding_span(text, f) for f in hard + soft] if flagged and with_spans else []
        verdicts.append(CategoryVerdict(category.id, round(score, 4), threshold, flagged, spans))
    if with_spans:
        _add_model_spans(model, text, normalized, verdicts, model_scores, column)
    return Verdict(verdicts)


def _add_model_spans(model: Model, text: str, normalized: Normalized, verdicts: list[CategoryVerdict],
                     model_scores: np.ndarray, column: dict[str, int]) -> None:
    """Add the words behind each category the model itself flagged, beside detector spans."""
    driven = [v for v in verdicts if v.id in column and model_scores[column[v.id]] >= v.threshold]
    if not driven:
        return
    explained = explain(model, text, [v.id for v in driven], normalized)
    for verdict in driven:
        verdict.spans += [s for s in explained[verdict.id]
                          if not any(s.start < o.end and o.start < s.end for o in verdict.spans)]
        verdict.spans.sort(key=lambda s: s.start)


def _finding_span(text: str, finding: Finding) -> Span:
    source = "term" if finding.detector == "term" else "detector"
    return Span(finding.start, finding.end, text[finding.start:finding.end], source)


def predict(model: Model, text: str, pack: PolicyPack) -> Verdict:
    """The full decision for one draft: model scores, detectors, company terms, thresholds."""
    normalized = normalize(text)
    return _combine(model, text, normalized, model.fast.scores(normalized.text), pack, with_spans=True)


def predict_many(model: Model, texts: Sequence[str], pack: PolicyPack) -> list[Verdict]:
    """`predict` for a batch (evaluation): one vectorised model pass, no spans."""
    all_scores = scores(model, texts)
    return [_combine(model, t, normalize(t), s, pack, with_spans=False) for t, s in zip(texts, all_scores)]


def explain(model: Model, text: str, category_ids: Sequence[str],
            normalized: Optional[Normalized] = None) -> dict[str, list[Span]]:
    """For each category, the character ranges of `text` whose n-grams raised its score most.

    Every word and character n-gram of the draft is attributed to a word token (a bigram half
    to each of its words, a character n-gram to the word under its middle), weighted by its
    TF-IDF value times the category's coefficient; the strongest runs of tokens become spans.
    """
    normalized = normalized or normalize(text)
    norm = normalized.text
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
        result[category_id] = _top_runs(text, normalized, tokens, token_scores)
    return result


def _attribute_features(fast: FastScorer, norm: str, tokens: list[tuple[int, int]]):
    """(feature index, token index, share) for every n-gram occurrence in the draft."""
    (_, word_vocabulary, _, _), (_, char_vocabulary, _, char_offset) = fast.blocks
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
              token_scores: np.ndarray) -> list[Span]:
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
        original_start, original_end = normalized.to_original(start, end)
        spans.append(Span(original_start, original_end, text[original_start:original_end], "model"))
    return sorted(spans, key=lambda s: s.start)
