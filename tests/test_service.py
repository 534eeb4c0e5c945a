"""Indexing through the Assistant: staleness, no-op runs, failures that never damage the live index."""

import pytest

from assistant.errors import EmptyCorpus, IndexCorrupt
from assistant.indexing.embed import E5Embeddings
from assistant.service import Assistant
from assistant.settings import Settings

DOC = "摘要\n\n微软对OpenAI的投资是100亿美元。\n\n谷歌对Anthropic的投资是3亿美元。\n"


class FailingEmbeddings(E5Embeddings):
    def _encode(self, texts, *, is_query):
        raise RuntimeError("embedding backend crashed")


@pytest.fixture
def small(corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    return Assistant(Settings())


def test_stale_until_indexed_then_noop(small, corpus):
    assert small.stale_reason() == "no index yet"
    assert small.index().chunks >= 1
    assert small.stale_reason() is None
    again = small.index()
    assert not again.changed and again.embedded == 0 and again.unchanged == ("a.md",)
    (corpus / "a.md").write_text(DOC + "\n新增一句话。\n", encoding="utf-8")
    assert small.stale_reason() == "documents changed"


def test_empty_corpus_is_refused(corpus):
    with pytest.raises(EmptyCorpus):
        Assistant(Settings()).index()


def test_failed_build_leaves_the_previous_index_serving(small, corpus):
    small.index()
    before = small.ask("微软对OpenAI的投资是多少？")
    (corpus / "a.md").write_text("全新的内容。\n", encoding="utf-8")
    broken = Assistant(Settings(), embedder=FailingEmbeddings())
    with pytest.raises(RuntimeError):
        broken.index()
    after = Assistant(Settings()).ask("微软对OpenAI的投资是多少？")
    assert after.citations[0].quote == before.citations[0].quote


def test_unreadable_store_is_reported_and_rebuild_recovers(small, tmp_path):
    small.index()
    (tmp_path / "index" / "chroma" / "chroma.sqlite3").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        Assistant(Settings()).ask("微软")
    fresh = Assistant(Settings())
    fresh.index(rebuild=True)
    assert fresh.ask("微软对OpenAI的投资是多少？").citations
    assert list((tmp_path / "index").glob("broken-*/chroma"))  # moved aside, not deleted


def test_only_the_last_history_turns_are_read(report_assistant, report_settings):
    from assistant.settings import AnswerSettings

    first = ("How much did Microsoft invest in OpenAI?", "")
    follow_up = "And Google?"
    assert report_assistant.ask(follow_up, history=[first]).query != follow_up  # condensed against the last turn
    no_memory = Assistant(
        report_settings.model_copy(update={"answer": AnswerSettings(history_turns=0)}),
        embedder=report_assistant.embedder,
        store=report_assistant.store,
    )
    assert no_memory.ask(follow_up, history=[first]).query == follow_up
