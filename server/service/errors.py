"""What the admin service refuses, in its own words rather than HTTP's.

The storage's refusals are domain errors already (a row that does not exist, a change that no
longer fits), so they are the same classes here, not copies; the rest are the service's own.
Every surface shows the message as it is: server/web.py maps each class to one HTTP status
(the JSON API and the console answer with it), and the CLI prints it with a non-zero exit.
"""
from __future__ import annotations

from typing import Optional

from server.storage import Conflict, NotFound


class Invalid(ValueError):
    """The request itself is wrong (an unknown category, a bad upload); `details` lists every
    problem where there are several, e.g. each bad row of an upload as {source, line, message}."""

    def __init__(self, message: str, details: Optional[list[dict]] = None):
        super().__init__(message)
        self.details = details


class UploadRejected(Invalid):
    """An upload with bad rows; the console shows them on the preview page of `filename`."""

    def __init__(self, message: str, filename: str, details: list[dict]):
        super().__init__(message, details)
        self.filename = filename


class TooLarge(Invalid):
    """An upload over the configured size, refused before it is read."""


class AlreadyRunning(Conflict):
    """A training job is queued or running: one at a time, across every worker and host."""


class Unavailable(Exception):
    """Something the action needs cannot be used right now (the held-out data, a process);
    trying again later may work."""


# Every domain error, for `except DOMAIN_ERRORS` in the surfaces that show them.
DOMAIN_ERRORS = (Invalid, NotFound, Conflict, Unavailable)

__all__ = ["DOMAIN_ERRORS", "AlreadyRunning", "Conflict", "Invalid", "NotFound", "TooLarge", "Unavailable",
           "UploadRejected"]
