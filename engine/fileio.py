"""Small file helpers shared by the registry, the policy pack and training."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Optional

_FULL = (errno.ENOSPC, errno.EDQUOT)
_NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


class StorageError(Exception):
    """The data or models folder cannot take a write (disk full, read-only); nothing was saved.
    server/storage's DatabaseUnavailable is one too, with its own message: the database cannot
    be reached."""

    def __init__(self, full: bool, message: Optional[str] = None):
        self.full = full
        super().__init__(message or ("the disk is full" if full else "the folder is read-only or not writable"))


def storage_fault(exc: OSError) -> Optional[StorageError]:
    """The StorageError `exc` amounts to, or None for other errors (a missing file, a bug)."""
    if exc.errno in _FULL:
        return StorageError(full=True)
    if exc.errno in _NOT_WRITABLE:
        return StorageError(full=False)
    return None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename over the target.

    Readers (other workers, other hosts on a shared volume) see the old file or the new one,
    never half of either.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        fault = storage_fault(exc) if isinstance(exc, OSError) else None
        if fault:
            raise fault from exc
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
