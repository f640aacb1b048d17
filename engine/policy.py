"""The policy pack: which categories exist, what they are called, what to tell the employee.

The pack is data, not code. The shipped default lives beside this module; an admin's edited
copy (if any) lives in the data directory and wins. Everything that names a category — the
check API, the extension, training — reads it from here.
"""
from __future__ import annotations

from urllib.parse import urlparse

import json
import re
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.detectors import DETECTOR_NAMES
from engine.fileio import atomic_write_json
from engine.watched import Loaded, Watched, file_stamp

DEFAULT_PACK_PATH = Path(__file__).with_name("policy") / "default_pack.json"
EDITED_PACK = "policy.json"  # in the data folder

CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CATEGORY_ID_RULE = "must be lowercase letters, digits or _ (max 32), starting with a letter"


def _shipped_detector_routes() -> dict[str, str]:
    # A pack saved before detectors were routed by the pack takes the shipped routes.
    return dict(json.loads(DEFAULT_PACK_PATH.read_text(encoding="utf-8"))["detectors"])


class PolicyError(ValueError):
    """A policy pack that cannot be used; the message says what is wrong."""


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=1, max_length=120)
    guidance: str = Field(min_length=1, max_length=1000)
    policy_ref: str = Field(default="", max_length=500)
    # None means "use the threshold the model learned on validation data".
    threshold: Optional[float] = Field(default=None, gt=0.0, lt=1.0)
    # Ids this category had before it was renamed: corpus labels and models trained before the
    # rename still count for it.
    formerly: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not CATEGORY_ID.match(value):
            raise ValueError(CATEGORY_ID_RULE)
        return value

    @field_validator("formerly")
    @classmethod
    def _former_ids_shape(cls, values: list[str]) -> list[str]:
        if not all(CATEGORY_ID.match(v) for v in values):
            raise ValueError(CATEGORY_ID_RULE)
        return values

    @property
    def ids(self) -> list[str]:
        """Its id, then the ids it had before."""
        return [self.id, *self.formerly]

    @field_validator("policy_ref")
    @classmethod
    def _web_link(cls, value: str) -> str:
        # The extension renders it as a link: javascript:, data: and the like are refused.
        if value:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("must be empty or an http:// or https:// address")
        return value


class Term(BaseModel):
    """A company-specific phrase (codename, client name) that is sensitive by itself."""

    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=2, max_length=100)
    category: str = "confidential"

    @field_validator("term")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if len(value) < 2:
            raise ValueError("must have at least 2 non-space characters")
        return value


class PolicyPack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    categories: list[Category] = Field(min_length=1)
    terms: list[Term] = Field(default_factory=list)
    # Which category each detector's findings belong to (detector names: engine/detectors.py).
    detectors: dict[str, str] = Field(default_factory=_shipped_detector_routes)

    @model_validator(mode="after")
    def _consistent(self) -> "PolicyPack":
        ids = [c.id for c in self.categories]
        every_id = [i for c in self.categories for i in c.ids]
        duplicates = sorted({i for i in every_id if every_id.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate category ids (current or former): {', '.join(duplicates)}")
        unknown = sorted({t.category for t in self.terms} - set(ids))
        if unknown:
            raise ValueError(f"terms refer to unknown categories: {', '.join(unknown)}")
        unknown = sorted(set(self.detectors) - set(DETECTOR_NAMES))
        if unknown:
            raise ValueError(f"unknown detectors: {', '.join(unknown)}; known: {', '.join(DETECTOR_NAMES)}")
        silenced = [d for d in DETECTOR_NAMES if d not in self.detectors]
        if silenced:
            raise ValueError(f"detectors without a category would be silenced: {', '.join(silenced)}")
        unknown = sorted({c for c in self.detectors.values()} - set(ids))
        if unknown:
            raise ValueError(f"detectors refer to unknown categories: {', '.join(unknown)}")
        return self

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    @property
    def label_aliases(self) -> dict[str, str]:
        """Former id -> current id, for labels written before a rename."""
        return {old: c.id for c in self.categories for old in c.formerly}

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    def public_view(self) -> dict:
        """What GET /v1/policy shows the extension (terms stay server-side)."""
        return {
            "name": self.name,
            "version": self.version,
            "categories": [c.model_dump(exclude={"formerly"}) for c in self.categories],
        }


def parse_pack(data: object) -> PolicyPack:
    """Validate a decoded pack; raise PolicyError with every problem in one message."""
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "pack"
            problems.append(f"{where}: {err['msg']}")
        raise PolicyError("invalid policy pack: " + "; ".join(problems)) from None


def load_pack(path: Path) -> PolicyPack:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy pack {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PolicyError(f"policy pack {path} is not UTF-8") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"policy pack {path} is not valid JSON: {exc}") from None
    return parse_pack(data)


def default_pack() -> PolicyPack:
    return load_pack(DEFAULT_PACK_PATH)


def save_pack(pack: PolicyPack, path: Path) -> None:
    atomic_write_json(path, pack.model_dump())


def load_active_pack(data_dir: Path) -> PolicyPack:
    """The admin's edited pack if there is one, else the shipped default."""
    edited = Path(data_dir) / EDITED_PACK
    return load_pack(edited) if edited.exists() else default_pack()


class PolicyStore:
    """The active pack: the admin's edited copy in the data folder, else the shipped default.

    Every worker reloads it when the file changes, so an edit reaches the check API without a
    restart; an invalid file on disk (edited by hand) leaves the last good pack serving.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / EDITED_PACK
        self._watched = Watched(lambda: file_stamp(self.path), self._load)

    def _load(self, previous):
        pack = load_active_pack(self.data_dir)
        return Loaded(str(pack.version), pack)

    def current(self) -> PolicyPack:
        loaded = self._watched.current()
        if loaded is None:  # an edited pack was broken from the start: fall back to the default
            return default_pack()
        return loaded.value

    @property
    def problem(self) -> Optional[str]:
        return self._watched.problem

    def save(self, pack: PolicyPack) -> None:
        save_pack(pack, self.path)
