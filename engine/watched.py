"""Values loaded from a file and reloaded, between two requests, when the file changes."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


def file_stamp(path: Path) -> Optional[tuple[int, int, int]]:
    """What changes when a file is replaced or rewritten: cheap enough to ask on every request."""
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A value together with the name it was loaded under (a model version, a pack version)."""
    name: str
    value: T


class Fallback(Exception):
    """Raised by a loader that could not load what it should, but found something safe to
    serve meanwhile: `loaded` serves, and `reason` is reported as the problem."""

    def __init__(self, loaded: "Loaded", reason: str):
        super().__init__(reason)
        self.loaded = loaded
        self.reason = reason


class Watched(Generic[T]):
    """A value loaded from disk and reloaded when its file changes, keeping the last good one.

    `current()` costs one stat() per call. If a reload fails (corrupt artifact, tampered file,
    invalid pack) the previous value keeps serving and `problem` says why, for /healthz.
    """

    def __init__(self, stamp: Callable[[], object],
                 load: Callable[[Optional[Loaded[T]]], Optional[Loaded[T]]]):
        self._stamp = stamp
        self._load = load
        self._lock = threading.Lock()
        self._seen: object = object()
        self._loaded: Optional[Loaded[T]] = None
        self.problem: Optional[str] = None

    def current(self) -> Optional[Loaded[T]]:
        stamp = self._stamp()
        if stamp != self._seen:
            with self._lock:
                if stamp != self._seen:
                    try:
                        loaded = self._load(self._loaded)
                        if loaded is not None:
                            self._loaded = loaded
                            self.problem = None
                        elif self._loaded is None:
                            self.problem = "nothing to load yet"
                    except Fallback as fallback:
                        self._loaded = fallback.loaded
                        self.problem = fallback.reason
                    except Exception as exc:  # keep serving the last good value, whatever broke
                        self.problem = str(exc) or exc.__class__.__name__
                    self._seen = stamp
        return self._loaded
