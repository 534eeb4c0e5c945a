"""Chroma failures put down to the disk: the real ones come from a full tmpfs in test_cli.py and test_api.py."""

from pathlib import Path

import pytest
from chromadb.errors import InternalError
from conftest import read_only

from assistant.errors import StorageUnavailable
from assistant.indexing.store.diskfull import DiskGuard, disk_failure

FULL = "Query error: Database error: error returned from database: (code: 13) database or disk is full"


class Store:
    """Counts the reopenings DiskGuard asks of the store."""

    def __init__(self) -> None:
        self.refreshed = 0

    def refresh(self) -> None:
        self.refreshed += 1


def test_chroma_errors_that_name_the_disk_are_storage_failures_and_others_are_not(tmp_path):
    failure = disk_failure(InternalError(FULL), tmp_path)
    assert isinstance(failure, StorageUnavailable) and "Free disk space" in str(failure) and "code: 13" in str(failure)
    assert disk_failure(InternalError("Error in compaction: something else"), tmp_path) is None  # a roomy disk
    assert disk_failure(RuntimeError(FULL), tmp_path) is None  # not from Chroma: a bug of ours
    assert disk_failure(InternalError(FULL), None) is None  # a Chroma server reports its own disk


def test_after_a_disk_failure_the_next_write_waits_for_a_writable_folder_then_reopens_chroma(tmp_path: Path):
    store = Store()
    guard = DiskGuard(store)
    with pytest.raises(StorageUnavailable), guard.writing(tmp_path):
        raise InternalError("error returned from database: (code: 14) unable to open database file")
    with read_only(tmp_path), pytest.raises(StorageUnavailable, match="Cannot write to"), guard.writing(tmp_path):
        raise AssertionError("not reached: the folder is still read-only")
    assert store.refreshed == 0  # the failed instance keeps serving reads meanwhile
    with guard.writing(tmp_path):
        pass
    assert store.refreshed == 1 and guard.free_at_failure is None
    with pytest.raises(ValueError), guard.writing(tmp_path):
        raise ValueError("a bug")  # passes through untouched and needs no reopening
    with guard.writing(tmp_path):
        pass
    assert store.refreshed == 1
