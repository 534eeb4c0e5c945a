"""What the index holds compared with the corpus folder: shared by the API, the Documents tab and the footer."""

from __future__ import annotations

from collections.abc import Mapping

from assistant.errors import IndexMissing
from assistant.indexing.store.manifest import DocumentRecord, Manifest, file_hashes
from assistant.service import Assistant


def index_size(manifest: Manifest) -> tuple[int, int]:
    """(documents indexed without error, chunks) of a manifest."""
    indexed = [record for record in manifest.documents.values() if record.indexed]
    return len(indexed), sum(record.chunks for record in indexed)


def index_bytes(assistant: Assistant) -> int | None:
    """Bytes the local index folder takes on disk (None in server mode): what ``/healthz`` reports."""
    return assistant.store.disk_bytes()


def document_status(record: DocumentRecord | None, on_disk_sha256: str | None) -> str:
    if record is None:
        return "not indexed"
    if on_disk_sha256 is None:
        return "missing on disk"
    if record.sha256 != on_disk_sha256:
        return "changed on disk"
    if record.duplicate_of:
        return f"duplicate of {record.duplicate_of}"
    return "indexed" if record.indexed else "error"


def document_statuses(indexed: Mapping[str, DocumentRecord], on_disk: Mapping[str, str]) -> list[dict[str, object]]:
    """Every document in the index or the corpus folder, with what the index knows and how it compares to disk."""
    return [
        {
            "doc_id": doc_id,
            **(indexed[doc_id].to_dict() if doc_id in indexed else {}),
            "status": document_status(indexed.get(doc_id), on_disk.get(doc_id)),
        }
        for doc_id in sorted(indexed.keys() | on_disk.keys())
    ]


def list_documents(assistant: Assistant) -> list[dict[str, object]]:
    """``document_statuses`` of the live index and the corpus folder; shared by the API and the Documents tab."""
    try:
        indexed = assistant.manifest().documents
        outlines = assistant.outlines() if indexed else {}
    except IndexMissing:
        indexed, outlines = {}, {}
    statuses = document_statuses(indexed, file_hashes(assistant.settings.paths.corpus_dir))
    kept = {doc_id: [v.n for v in assistant.versions(doc_id)[1]] for doc_id in outlines}
    return [
        {**status, **outlines.get(str(status["doc_id"]), {}), **({"versions": kept[d]} if (d := str(status["doc_id"])) in kept else {})}
        for status in statuses
    ]
