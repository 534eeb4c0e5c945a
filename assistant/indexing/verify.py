"""``assistant index --check``: every disagreement between the live manifest and the rows in Chroma.

Rows no generation references (replaced text, a killed run's rows) are not disagreements:
reads skip them and compaction removes them (garbage.py).
"""

from __future__ import annotations

from assistant.errors import IndexCorrupt
from assistant.indexing.store.manifest import Manifest
from assistant.indexing.store.rows import parse_layout, sentence_ids
from assistant.indexing.store.chunks import ChunkStore


def _expected_rows(manifest: Manifest, problems: list[str]) -> dict[str, str]:
    expected: dict[str, str] = {}
    for doc_id, record in manifest.documents.items():
        if not len(record.chunk_rows) == len(record.chunk_starts) == len(record.chunk_pages) == len(record.chunk_ids):
            problems.append(f"{doc_id}: the manifest places {len(record.chunk_rows)} rows for {len(record.chunk_ids)} chunks")
        for row in record.chunk_rows:
            if row in expected:
                problems.append(f"chunk {row} is listed twice ({expected[row]} and {doc_id})")
            expected[row] = doc_id
    return expected


def verify(store: ChunkStore, manifest: Manifest) -> list[str]:
    """Empty when Chroma holds every live row of the manifest, once, in the right document, with its sentences."""
    problems: list[str] = []
    try:
        stored = store.get_all(manifest.chunks_collection, ["metadatas"])
        stored_sentences = set(store.get_all(manifest.sentences_collection, [])["ids"])
    except IndexCorrupt as exc:
        return [str(exc)]
    expected = _expected_rows(manifest, problems)
    actual = {row: meta for row, meta in zip(stored["ids"], stored["metadatas"])}
    if len(actual) != len(stored["ids"]):
        problems.append(f"Chroma holds {len(stored['ids']) - len(actual)} duplicate chunk rows")
    for row in sorted(expected.keys() - actual.keys()):
        problems.append(f"chunk {row} of {expected[row]} is in the manifest but not in Chroma")
    for row in sorted(expected.keys() & actual.keys()):
        if expected[row] != str(actual[row]["doc_id"]):
            problems.append(f"chunk {row} belongs to {actual[row]['doc_id']} in Chroma but {expected[row]} in the manifest")
    wanted = {
        sid for row in expected.keys() & actual.keys()
        for sid in sentence_ids(row, len(parse_layout(str(actual[row].get("sentences", "")))))
    }
    if wanted - stored_sentences:
        problems.append(f"{len(wanted - stored_sentences)} sentences of live chunks are missing from Chroma")
    orphans = {sid.rsplit(":", 1)[0] for sid in stored_sentences} - actual.keys()
    if orphans:
        problems.append(f"{len(orphans)} chunks have sentences in Chroma but no chunk row")
    return problems
