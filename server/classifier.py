"""The Draftguard classifier: one small interface for the server and for training.

    model = fit(texts, label_sets, categories, groups)   # training
    sha = save(model, path); model = load(path, sha)     # the registry
    verdict = predict(model, text, pack)                 # the check API and evaluation
    spans = explain(model, text, category_id)            # which words drove a category

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


@dataclass(frozen=True)
class Model:
    pipeline: Pipeline
    categories: tuple[str, ...]
    thresholds: dict[str, float]


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
    categories = tuple(c for c in categories if any(c in labels for labels in label_sets))
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
    """Model probabilities, one row per text and one column per model category."""
    return model.pipeline.predict_proba(list(texts))


def _combine(model: Model, text: str, normalized: Normalized, model_scores: np.ndarray,
             pack: PolicyPack, with_spans: bool) -> Verdict:
    findings = detect(text, normalized)
    if pack.terms:
        findings += find_terms(normalized, ((t.term, t.category) for t in pack.terms))
    column = {c: i for i, c in enumerate(model.categories)}
    verdicts = []
    for category in pack.categories:
        threshold = category.threshold or model.thresholds.get(category.id, 0.5)
        score = float(model_scores[column[category.id]]) if category.id in column else 0.0
        mine = [f for f in findings if f.category == category.id]
        hard = [f for f in mine if f.hard]
        soft = [f for f in mine if not f.hard and score >= threshold * SOFT_FINDING_SHARE]
        flagged = score >= threshold or bool(hard) or bool(soft)
        if hard:
            score = 1.0
        elif soft:
            score = max(score, threshold)
        spans: list[Span] = []
        if flagged and with_spans:
            spans = [_finding_span(text, f) for f in hard + soft]
            if category.id in column and model_scores[column[category.id]] >= threshold:
                spans += [s for s in explain(model, text, category.id, normalized)
                          if not any(s.start < o.end and o.start < s.end for o in spans)]
            spans.sort(key=lambda s: s.start)
        verdicts.append(CategoryVerdict(category.id, round(score, 4), threshold, flagged, spans))
    return Verdict(verdicts)


def _finding_span(text: str, finding: Finding) -> Span:
    source = "term" if finding.detector == "term" else "detector"
    return Span(finding.start, finding.end, text[finding.start:finding.end], source)


def predict(model: Model, text: str, pack: PolicyPack) -> Verdict:
    """The full decision for one draft: model scores, detectors, company terms, thresholds."""
    normalized = normalize(text)
    return _combine(model, text, normalized, scores(model, [text])[0], pack, with_spans=True)


def predict_many(model: Model, texts: Sequence[str], pack: PolicyPack) -> list[Verdict]:
    """`predict` for a batch (evaluation): one vectorised model pass, no spans."""
    all_scores = scores(model, texts)
    return [_combine(model, t, normalize(t), s, pack, with_spans=False) for t, s in zip(texts, all_scores)]


def explain(model: Model, text: str, category_id: str,
            normalized: Optional[Normalized] = None) -> list[Span]:
    """The character ranges of `text` whose n-grams pushed `category_id`'s score up the most."""
    normalized = normalized or normalize(text)
    norm = normalized.text
    tokens = [(m.start(), m.end()) for m in WORD_RE.finditer(norm)]
    if not tokens:
        return []
    features = model.pipeline.named_steps["features"]
    words_vec, chars_vec = (t for _, t in features.transformer_list)
    estimator = model.pipeline.named_steps["classify"].estimators_[model.categories.index(category_id)]
    coef = estimator.coef_.ravel()
    n_word_features = len(words_vec.vocabulary_)
    x_words = words_vec.transform([norm])
    x_chars = chars_vec.transform([norm])
    word_weight = dict(zip(x_words.indices, x_words.data * coef[x_words.indices]))
    char_weight = dict(zip(x_chars.indices, x_chars.data * coef[n_word_features + x_chars.indices]))

    token_scores = np.zeros(len(tokens))
    lowered = [norm[s:e] for s, e in tokens]
    for i, token in enumerate(lowered):
        token_scores[i] += word_weight.get(words_vec.vocabulary_.get(token, -1), 0.0)
        if i + 1 < len(tokens):
            bigram_weight = word_weight.get(words_vec.vocabulary_.get(f"{token} {lowered[i + 1]}", -1), 0.0)
            token_scores[i] += bigram_weight / 2
            token_scores[i + 1] += bigram_weight / 2

    char_scores = np.zeros(len(norm))
    for chunk in re.finditer(r"\S+", norm):
        padded = f" {chunk.group()} "
        for n in range(2, 6):
            for offset in range(len(padded) - n + 1):
                index = chars_vec.vocabulary_.get(padded[offset:offset + n])
                if index is None or index not in char_weight:
                    continue
                start = max(chunk.start() + offset - 1, chunk.start())
                end = min(chunk.start() + offset - 1 + n, chunk.end())
                if end > start:
                    char_scores[start:end] += char_weight[index] / (end - start)
    for i, (start, end) in enumerate(tokens):
        token_scores[i] += char_scores[start:end].sum()

    return _top_runs(text, normalized, tokens, token_scores)


def _top_runs(text: str, normalized: Normalized, tokens: list[tuple[int, int]],
              token_scores: np.ndarray) -> list[Span]:
    """Merge neighbouring strong tokens into runs and keep the strongest few."""
    peak = token_scores.max()
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
