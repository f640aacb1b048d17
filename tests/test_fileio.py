"""Atomic writes (engine/fileio.py): a reader sees the old file or the new one, never a mix, and a
failed write leaves the old file as it was.

registry.json, each model's metadata and artifact, and the edited policy pack are written this
way; other workers (and hosts on a shared volume) read them while an admin writes.
"""
import json
import os

import pytest

from engine import fileio
from engine.registry import Registry

OLD = b"old contents, complete\n" * 1000
NEW = b"new\n"


def test_a_reader_of_the_old_file_keeps_reading_all_of_it(tmp_path):
    target = tmp_path / "registry.json"
    target.write_bytes(OLD)
    with open(target, "rb") as reader:
        fileio.atomic_write_bytes(target, NEW)
        # A write in place would have truncated the file under the open reader.
        assert reader.read() == OLD
    assert target.read_bytes() == NEW


def test_a_write_that_fails_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "registry.json"
    target.write_bytes(OLD)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(fileio.StorageError):
        fileio.atomic_write_bytes(target, NEW)
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["registry.json"]


def test_the_folder_is_created_and_json_is_written_sorted_and_readable(tmp_path):
    target = tmp_path / "new" / "folder" / "pack.json"
    fileio.atomic_write_json(target, {"b": "é", "a": [1, 2]})
    assert target.read_text(encoding="utf-8") == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}\n'
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "b": "é"}


def test_activating_a_version_replaces_registry_json_atomically(tmp_path):
    registry = Registry(tmp_path)
    fileio.atomic_write_json(registry.index_path, {"active": "a", "versions": {"a": {}, "b": {}}})
    before = registry.index_path.read_bytes()
    with open(registry.index_path, "rb") as reader:
        registry.activate("b")
        assert reader.read() == before
    assert registry.active_version() == "b"
