"""The company's labelled examples: uploads (validated whole, previewed in the console before
they are stored), deletions, and employees' feedback reviewed into examples."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Mapping, Optional, Sequence

from engine.dataset import DatasetError, Example, RowError, duplicate_key, parse_examples
from engine.policy import PolicyStore
from server.service.errors import Invalid, NotFound, TooLarge, UploadRejected
from server.storage import Storage

UPLOAD_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
FEEDBACK_STATUSES = ("new", "labelled", "discarded")


def _rejected(filename: str, errors: Sequence[RowError]) -> UploadRejected:
    return UploadRejected(f"{len(errors)} problem(s) in the upload; nothing was stored", filename,
                          [{"source": e.source, "line": e.line, "message": e.message} for e in errors])


class ExampleActions:
    settings: Mapping
    storage: Storage
    policy: PolicyStore

    # --- examples --------------------------------------------------------------------------

    def parse_upload(self, data: bytes, filename: str, fmt: Optional[str] = None) -> list[Example]:
        """Validate uploaded examples as a whole: the examples, or UploadRejected with every
        bad row. The format follows the file name (.csv or .jsonl) unless given. A file over
        the size limit is refused before it is parsed (TooLarge)."""
        limit = self.settings["ADMIN_UPLOAD_MAX_BYTES"]
        if len(data) > limit:
            raise TooLarge(f"{filename} has {len(data):,} bytes; the limit is {limit:,}: split it into smaller files")
        fmt = fmt or UPLOAD_FORMATS.get(Path(filename).suffix.lower())
        if fmt is None:
            raise _rejected(filename, [RowError(filename, 0, "unsupported file type: upload a .csv or .jsonl file")])
        pack = self.policy.current()
        try:
            examples = parse_examples(data, filename, pack.category_ids, fmt=fmt, group="upload",
                                      aliases=pack.label_aliases)
        except DatasetError as exc:
            raise _rejected(filename, exc.errors) from None
        if not examples:
            raise _rejected(filename, [RowError(filename, 0, "the file holds no examples")])
        stored = self.storage.examples.stored_ids(e.text for e in examples)
        if stored:
            raise _rejected(filename, [RowError(filename, e.line, f"already stored as example #{stored[duplicate_key(e.text)]}")
                                       for e in examples if duplicate_key(e.text) in stored])
        return examples

    def import_examples(self, examples: Sequence[Example], source: str, actor: str) -> int:
        """Store validated examples, all or none (Conflict if one was stored meanwhile)."""
        return self.storage.examples.add(examples, source, actor)

    def delete_example(self, example_id: int, actor: str) -> None:
        self.storage.examples.delete(example_id, actor)

    def examples_page(self, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """The newest examples first, and how many there are in all."""
        return self.storage.examples.page(limit, offset)

    def example_labels(self) -> dict[str, int]:
        """How many stored examples carry each label ("clean" for none)."""
        return self.storage.examples.label_counts()

    def training_examples(self) -> list[Example]:
        """Every stored example as training reads it (for an export)."""
        return self.storage.examples.for_training()

    # --- uploads the console previews before storing -----------------------------------------

    def preview_upload(self, data: bytes, filename: str, admin: str) -> tuple[str, list[Example]]:
        """Validate an upload and hold it for `admin` to confirm; its id and its examples."""
        examples = self.parse_upload(data, filename)
        upload_id = secrets.token_urlsafe(16)
        self.storage.uploads.hold(upload_id, admin, filename, data)
        return upload_id, examples

    def confirm_upload(self, upload_id: str, admin: str) -> tuple[str, int]:
        """Store an upload `admin` previewed; its file name and how many examples were stored.
        It is validated again (examples may have been stored since the preview) and no longer
        held afterwards, stored or rejected."""
        held = self.storage.uploads.get(upload_id, admin)
        if held is None:
            raise NotFound("that upload is no longer waiting (stored already, or expired); upload the file again")
        filename, data = held
        try:
            examples = self.parse_upload(data, filename)
        except Invalid:
            self.storage.uploads.drop(upload_id)
            raise
        stored = self.import_examples(examples, f"upload:{filename}", admin)
        self.storage.uploads.drop(upload_id)
        return filename, stored

    # --- feedback review ---------------------------------------------------------------------

    def feedback(self, status: Optional[str] = None) -> list[dict]:
        """The newest reports, all or those with this review status."""
        if status not in (None, *FEEDBACK_STATUSES):
            raise Invalid(f"status must be {', '.join(FEEDBACK_STATUSES[:-1])} or {FEEDBACK_STATUSES[-1]}")
        return self.storage.feedback.recent(status)

    def feedback_summary(self) -> dict:
        """The review queue in numbers: new reports per kind, and per kind and category."""
        return self.storage.feedback.summary()

    def label_feedback(self, feedback_id: int, labels: Sequence[str], actor: str) -> int:
        """The feedback's text becomes a training example with these labels ([] means clean);
        the example's id."""
        known = self.policy.current().category_ids
        unknown = sorted(set(labels) - set(known))
        if unknown:
            raise Invalid(f"unknown categories: {', '.join(unknown)}; known: {', '.join(known)}")
        return self.storage.feedback.label(feedback_id, sorted(set(labels)), actor)

    def discard_feedback(self, feedback_id: int, actor: str) -> None:
        self.storage.feedback.discard(feedback_id, actor)
