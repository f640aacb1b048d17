"""The extension API's bodies as pydantic models: the routes validate requests with them, and
the OpenAPI document (server/openapi.py) is generated from all of them.

The routes build their responses as plain dicts (the check answer is on the hot path, and
validating it again would cost more than the model's own work); tests/test_openapi.py and the
schemathesis run hold those dicts to the response models below.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from engine.policy import Category

Surface = Literal["post", "comment", "reply", "message"]
Platform = Optional[StrictStr]


def _no_surrogates(value: Optional[str]) -> Optional[str]:
    # JSON allows "\ud800"; such a string cannot be stored or re-encoded as UTF-8.
    if value is not None and any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("contains an unpaired UTF-16 surrogate")
    return value


class CheckRequest(BaseModel):
    """A draft to check."""

    model_config = ConfigDict(extra="ignore")

    text: StrictStr = Field(description="The draft as the employee wrote it; span offsets point into it.")
    platform: Platform = Field(default=None, max_length=40, description="Where the draft is written, e.g. linkedin.")
    surface: Optional[Surface] = None

    _text_ok = field_validator("text")(_no_surrogates)


class FeedbackRequest(BaseModel):
    """An employee's reaction to a warning, or a report of a missed one."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={
        # _consent_before_text, for clients that read the schema.
        "if": {"required": ["text"], "properties": {"text": {"type": "string"}}},
        "then": {"required": ["consent"], "properties": {"consent": {"const": True}}},
    })

    kind: Literal["dismissed", "false_positive", "missed"]
    categories: list[StrictStr] = Field(default_factory=list, max_length=32,
                                        description="Category ids from GET /v1/policy; an unknown id is a 400.")
    model_version: Optional[StrictStr] = Field(default=None, max_length=80)
    platform: Platform = Field(default=None, max_length=40)
    surface: Optional[Surface] = None
    consent: StrictBool = Field(default=False, description="The employee agreed to share the draft's text.")
    text: Optional[StrictStr] = Field(default=None, description="The draft; only with consent: true.")

    _text_ok = field_validator("text")(_no_surrogates)

    @model_validator(mode="after")
    def _consent_before_text(self) -> "FeedbackRequest":
        if self.text is not None and not self.consent:
            raise ValueError("text may only be sent when consent is true")
        return self


class ComposerCount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    surface: Surface
    rule: Literal["specific", "fallback"] = Field(
        description="specific: the site adapter's own selectors; fallback: the semantic fallback below them.")
    count: StrictInt = Field(ge=1, le=1000)

    @field_validator("count", mode="before")
    @classmethod
    def _whole_number(cls, value):
        # JSON Schema's "integer" includes 3.0; a string or a boolean is still refused.
        return int(value) if isinstance(value, float) and value.is_integer() else value


class DiagnosticsRequest(BaseModel):
    """How many composers the extension recognised on a site. Counts only: any other field (a
    text, a URL, a selector) is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    platform: StrictStr = Field(pattern=r"^[a-z0-9-]{1,40}$")
    composers: list[ComposerCount] = Field(min_length=1, max_length=16)


class ResponseBody(BaseModel):
    # A field the document does not name is a contract change: the response schemas say so.
    model_config = ConfigDict(extra="forbid")


class Span(ResponseBody):
    """Characters of the text as sent that drove a decision (code-point offsets, end exclusive)."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    source: Literal["model", "detector", "term"] = Field(
        description="What found it: the model, a deterministic detector, or a company term of the policy.")
    detector: Optional[str] = Field(default=None, description="For detector spans: which detector (payment_card, password, …).")
    mask: Optional[str] = Field(default=None, description="A placeholder the employee may replace the span with, "
                                                          "e.g. [card number removed]; only where masking makes sense.")


class CategoryResult(ResponseBody):
    id: str
    title: str
    score: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    flagged: bool = Field(description="score reached threshold, or a detector or company term fired.")
    guidance: str
    policy_ref: str = Field(description="A link to the policy text (http or https), or empty.")
    spans: list[Span] = Field(description="Empty unless the category is flagged.")


class CheckResponse(ResponseBody):
    flagged: bool = Field(description="True exactly when some category is flagged.")
    model_version: str
    policy_version: int
    categories: list[CategoryResult] = Field(description="Every category of the active policy, in its order.")


class PolicyResponse(ResponseBody):
    """The policy pack as the extension renders it (company terms stay on the server)."""

    name: str
    version: int
    categories: list[Category]


class FeedbackResponse(ResponseBody):
    id: int
    stored_text: bool


class DiagnosticsResponse(ResponseBody):
    recorded: int = Field(description="The composers counted.")


class HealthResponse(ResponseBody):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="degraded: serving, but a model or policy file could not be loaded (see detail); "
                    "unavailable (503): no model is loaded.")
    model_version: Optional[str]
    policy_version: int
    detail: Optional[str]


class ErrorDetail(ResponseBody):
    status: int
    code: str = Field(description="A stable name for the status, e.g. unsupported_media_type, rate_limited.")
    message: str = Field(description="What went wrong and what to do, for a person.")


class ErrorResponse(ResponseBody):
    """Every error of every route, whatever raised it."""

    error: ErrorDetail
