"""Labelled drafts in, validated examples out — for the corpus, the CLI and admin uploads.

Accepted formats:
  JSONL  one object per line: {"id": "...", "text": "...", "labels": ["privacy", ...]}
         (id optional; `writer` names the group the draft is validated with; other fields
         such as platform/surface/kind are kept as metadata)
  CSV    a header row with `text` and `labels` (ids separated by ; or |) and optionally `id`

Every problem is collected with its file and line before anything is used, so a bad file is
rejected whole with a message that names each row and says why.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

MAX_TEXT_CHARS = 20_000
# A message lists this many row errors; the API's `details` carries every one.
MAX_ERRORS_SHOWN = 10
LABEL_SPLIT = re.compile(r"[;|]")


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    labels: tuple[str, ...]
    group: str  # where it came from (a corpus slice, an upload); training validates across groups
    extra: dict = field(default_factory=dict, compare=False, hash=False)
    line: int = field(default=0, compare=False)  # in its source file, for messages; 0 if none


def _shown_path(source: str) -> str:
    """`source` relative to the working folder when it lies inside it: messages stay short and
    do not reveal where the server is installed."""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd()))
    except ValueError:
        return source


@dataclass(frozen=True)
class RowError:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{_shown_path(self.source)}:{self.line}: {self.message}"


class DatasetError(Exception):
    """Every problem found in the data. The first line of the message is the root cause (the
    count and the first problem); a short list follows."""

    def __init__(self, errors: Sequence[RowError]):
        self.errors = list(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:MAX_ERRORS_SHOWN])
        more = len(self.errors) - MAX_ERRORS_SHOWN
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.errors)} problem(s) in the data, so nothing was written; the first is "
                         f"{self.errors[0]}\n{shown}{tail}" if self.errors else "no data")


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DatasetError([RowError(source, line, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8")]) from None
    return text


def _rows_from_jsonl(text: str, source: str, errors: list[RowError]) -> Iterable[tuple[int, dict]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            errors.append(RowError(source, number, f"not valid JSON ({exc})"))
            continue
        if not isinstance(row, dict):
            errors.append(RowError(source, number, "each line must be a JSON object"))
            continue
        yield number, row


def _rows_from_csv(text: str, source: str, errors: list[RowError]) -> Iterable[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "text" not in reader.fieldnames or "labels" not in reader.fieldnames:
        errors.append(RowError(source, 1, "the CSV header must name the columns `text` and `labels` (and optionally `id`)"))
        return
    for row in reader:
        if None in row:
            errors.append(RowError(source, reader.line_num, "more fields than the header has; quote texts that contain commas"))
            continue
        labels = [part.strip() for part in LABEL_SPLIT.split(row.get("labels") or "") if part.strip()]
        yield reader.line_num, {**row, "labels": labels}


def parse_examples(data: bytes, source: str, categories: Sequence[str],
                   fmt: str | None = None, group: str | None = None,
                   aliases: Mapping[str, str] | None = None) -> list[Example]:
    """Parse and validate one file's bytes; raise DatasetError listing every bad row.
    `aliases` maps former category ids (before a rename) to current ones."""
    fmt = fmt or ("csv" if source.lower().endswith(".csv") else "jsonl")
    if fmt not in {"csv", "jsonl"}:
        raise DatasetError([RowError(source, 0, f"unsupported format {fmt!r}: use .csv or .jsonl")])
    text = _decode(data, source)
    errors: list[RowError] = []
    rows = _rows_from_csv if fmt == "csv" else _rows_from_jsonl
    known = set(categories)
    group = group or Path(source).stem
    examples: list[Example] = []
    for number, row in rows(text, source, errors):
        problems = []
        body = row.get("text")
        if not isinstance(body, str) or not body.strip():
            problems.append("empty or missing text")
        elif len(body) > MAX_TEXT_CHARS:
            problems.append(f"text is {len(body)} characters (limit {MAX_TEXT_CHARS})")
        labels = row.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            problems.append("labels must be a list of category ids")
            labels = []
        labels = [(aliases or {}).get(label, label) for label in labels]
        unknown = sorted(set(labels) - known)
        if unknown:
            problems.append(f"unknown label(s) {', '.join(unknown)}; known: {', '.join(categories)}")
        if len(set(labels)) != len(labels):
            problems.append("a label is repeated")
        raw_id = row.get("id")
        if raw_id is not None and not isinstance(raw_id, (str, int)):
            problems.append("id must be a string")
        if problems:
            errors.extend(RowError(source, number, p) for p in problems)
            continue
        example_id = str(raw_id) if raw_id not in (None, "") else f"{group}-{number}"
        extra = {k: v for k, v in row.items() if k not in {"id", "text", "labels"}}
        # The corpus records who wrote each draft: validation holds out whole writers.
        writer = row.get("writer")
        row_group = f"writer:{writer}" if isinstance(writer, str) and writer else group
        examples.append(Example(example_id, body, tuple(sorted(labels)), row_group, extra, number))
    errors.extend(find_duplicates(examples, source))
    if errors:
        raise DatasetError(errors)
    return examples


def duplicate_key(text: str) -> str:
    """Texts that differ only in case or spacing count as the same example."""
    return " ".join(text.split()).casefold()


def find_duplicates(examples: Sequence[Example], source: str) -> list[RowError]:
    errors = []
    seen_ids: dict[str, int] = {}
    seen_texts: dict[str, str] = {}
    for position, example in enumerate(examples, start=1):
        line = example.line or position
        if example.id in seen_ids:
            errors.append(RowError(source, line, f"duplicate id {example.id!r}"))
        seen_ids.setdefault(example.id, line)
        key = duplicate_key(example.text)
        if key in seen_texts:
            errors.append(RowError(source, line, f"duplicate text (same as {seen_texts[key]!r})"))
        seen_texts.setdefault(key, example.id)
    return errors


def corpus_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in {".jsonl", ".csv"}))
        elif path.exists():
            files.append(path)
        else:
            raise DatasetError([RowError(str(path), 0, "no such file or folder")])
    if not files:
        raise DatasetError([RowError(", ".join(map(str, paths)), 0, "no .jsonl or .csv files found")])
    return files


def read_corpus(paths: Sequence[Path], categories: Sequence[str],
                aliases: Mapping[str, str] | None = None) -> list[Example]:
    """Every example in the given files and folders, validated together (ids unique across files)."""
    examples: list[Example] = []
    errors: list[RowError] = []
    for path in corpus_files(paths):
        try:
            examples.extend(parse_examples(path.read_bytes(), str(path), categories, aliases=aliases))
        except DatasetError as exc:
            errors.extend(exc.errors)
    if not errors:
        errors = find_duplicates(examples, "corpus")
    if errors:
        raise DatasetError(errors)
    return examples


def data_hash(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps([example.id, example.text, list(example.labels)], ensure_ascii=False).encode())
    return digest.hexdigest()
