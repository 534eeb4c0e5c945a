"""Model-written section digests: sources from the whole section, verified, cached by content."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply

from assistant.answering.generate.summaries import (
    CACHE_FILE,
    DigestCache,
    plan_digest,
    section_requests,
    summary_requests,
)
from assistant.answering.generate.prompts import TRANSLATE_SYSTEM
from assistant.errors import NoLanguageModel
from assistant.service import Assistant
from assistant.serving.digests import write_digests
from assistant.settings import LlmSettings, PathSettings, Settings
from assistant.types import AnswerMode

SECTION_THREE = "请总结第三节的主要观点"


@pytest.fixture
def digest_assistant(report_assistant: Assistant, fake_llm: FakeOpenAI, tmp_path: Path) -> Assistant:
    """The report on a private copy of its corpus and index (digests are written there), answered by the scripted model."""
    paths = report_assistant.settings.paths
    shutil.copytree(paths.corpus_dir, tmp_path / "corpus", dirs_exist_ok=True)
    shutil.copytree(paths.index_dir, tmp_path / "index")
    settings = Settings(
        paths=PathSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"),
        llm=LlmSettings(provider="openai", base_url=fake_llm.base_url, model="scripted", retries=0, timeout_s=5),
    )
    return Assistant(settings, embedder=report_assistant.embedder)


def plan(assistant: Assistant, question: str, language: str = "zh"):
    retriever = assistant.retriever()
    llm = assistant.settings.llm
    return plan_digest(
        list(retriever.chunks.values()), retriever.sentences, question, language, llm.identity(), budget_tokens=llm.digest_tokens
    )


def faithful_reply(assistant: Assistant, question: str) -> Reply:
    """What a faithful model writes: the first two sentences of the sources, each cited."""
    windows = plan(assistant, question).windows
    cited = [f"{s.text}[{n}]" for n, w in enumerate(windows, start=1) for s in w.sentences]
    return Reply("".join(cited[:2]))


def test_a_named_section_is_summarised_from_that_section_only(report_assistant):
    digest = plan(report_assistant, SECTION_THREE)
    assert digest.scope == "节3" and len(digest.windows) >= 3
    assert all(w.source.section.startswith("第三节") for w in digest.windows)
    assert sum(w.tokens for w in digest.windows) <= report_assistant.settings.llm.digest_tokens


def test_a_summary_of_two_named_parts_is_written_from_both(report_assistant):
    digest = plan(report_assistant, "请总结摘要和第三节")
    assert digest.scope == "abstract+节3"
    assert {w.source.section[:3] for w in digest.windows} <= {"摘要", "第三节"}
    assert any(w.source.section.startswith("第三节") for w in digest.windows)


def test_a_report_summary_draws_on_several_sections(report_assistant):
    digest = plan(report_assistant, "Summarize the report's key points", "en")
    assert digest.scope == "report"
    assert len({w.source.section for w in digest.windows}) >= 4


def test_the_key_depends_on_the_section_content_language_and_model(report_assistant):
    retriever = report_assistant.retriever()
    chunks = list(retriever.chunks.values())

    def key(chunks, question, language="zh", model="m"):
        return plan_digest(chunks, retriever.sentences, question, language, model, budget_tokens=450).key

    first = next(c for c in chunks if c.section.startswith("第三节"))
    edited = [replace(c, id=c.id + "-edited") if c is first else c for c in chunks]
    assert key(chunks, SECTION_THREE) == key(list(reversed(chunks)), SECTION_THREE)  # order of the store does not matter
    assert key(edited, SECTION_THREE) != key(chunks, SECTION_THREE)
    assert key(edited, "请总结第二节") == key(chunks, "请总结第二节")  # another section's edit keeps this digest
    assert key(chunks, SECTION_THREE, "en") != key(chunks, SECTION_THREE)
    assert key(chunks, SECTION_THREE, model="other") != key(chunks, SECTION_THREE)


def test_a_verified_digest_is_cached_and_served_without_the_model(digest_assistant, fake_llm):
    fake_llm.script(faithful_reply(digest_assistant, SECTION_THREE))
    first = digest_assistant.ask(SECTION_THREE)
    assert first.mode is AnswerMode.GENERATED and first.verified_share == 1.0
    assert all(c.section.startswith("第三节") for c in first.citations)
    assert len(fake_llm.requests) == 1
    again = digest_assistant.ask("概括一下第三节")  # another phrasing of the same request
    assert len(fake_llm.requests) == 1
    assert again.text == first.text and again.citations == first.citations and again.mode is AnswerMode.GENERATED
    assert again.checks == first.checks


def test_an_unverifiable_digest_is_not_cached(digest_assistant, fake_llm):
    fake_llm.script(Reply("这一节讲的是火星上的农业。[1]"))
    assert digest_assistant.ask(SECTION_THREE).notice  # fell back to the quoted digest
    assert not (digest_assistant.settings.paths.index_dir / CACHE_FILE).exists()


@pytest.mark.slow
def test_unchanged_reindex_keeps_digests_and_an_edit_rebuilds_only_its_section(digest_assistant, fake_llm):
    for question in (SECTION_THREE, "请总结第二节"):
        fake_llm.script(faithful_reply(digest_assistant, question))
        assert digest_assistant.ask(question).mode is AnswerMode.GENERATED
    assert len(fake_llm.requests) == 2
    assert digest_assistant.index().embedded == 0
    digest_assistant.ask(SECTION_THREE)
    assert len(fake_llm.requests) == 2  # unchanged re-index: both digests still served from the cache

    report = next(digest_assistant.settings.paths.corpus_dir.iterdir())
    text = report.read_text(encoding="utf-8")
    anchor = "另一种不太被考虑的盈利路径"  # in 第三节
    assert text.count(anchor) == 1
    report.write_text(text.replace(anchor, "许可收入在早期通常很小。" + anchor), encoding="utf-8")
    assert digest_assistant.index().embedded > 0
    fake_llm.script(faithful_reply(digest_assistant, SECTION_THREE))
    assert digest_assistant.ask(SECTION_THREE).mode is AnswerMode.GENERATED
    assert len(fake_llm.requests) == 3  # the edited section was written again
    digest_assistant.ask("请总结第二节")
    assert len(fake_llm.requests) == 3  # the untouched one was not


def test_a_damaged_cache_is_ignored_and_rewritten(digest_assistant, fake_llm):
    cache = digest_assistant.settings.paths.index_dir / CACHE_FILE
    cache.write_text("{ not json", encoding="utf-8")
    fake_llm.script(faithful_reply(digest_assistant, SECTION_THREE))
    assert digest_assistant.ask(SECTION_THREE).mode is AnswerMode.GENERATED
    assert len(json.loads(cache.read_text(encoding="utf-8"))) == 1


def test_the_cache_keeps_its_newest_entries(tmp_path, report_assistant, monkeypatch):
    monkeypatch.setattr("assistant.answering.generate.summaries.MAX_ENTRIES", 3)
    cache = DigestCache(tmp_path)
    answer = report_assistant.ask("微软对OpenAI的投资金额是多少？")
    for n in range(5):
        cache.put(f"key{n}", answer)
    assert [k for k in ("key0", "key1", "key2", "key3", "key4") if cache.get(k)] == ["key2", "key3", "key4"]
    assert cache.get("key4")["citations"][0]["quote"] == answer.citations[0].quote


def test_writing_digests_needs_a_model(tmp_path):
    offline = Assistant(Settings(paths=PathSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"), llm=LlmSettings(provider="none")))
    with pytest.raises(NoLanguageModel, match="make model"):
        write_digests(offline)


def test_digests_written_ahead_are_kept_on_the_next_run_and_answer_users(digest_assistant, fake_llm):
    questions = summary_requests(digest_assistant.retriever().main_sections, "zh")
    assert questions[0] == "请总结摘要" and questions[1] == "请总结第一节" and questions[-1] == "请总结这份报告的主要观点"
    fake_llm.script(*(faithful_reply(digest_assistant, q) for q in questions))
    sections = len(questions) - 1  # the report's digest is composed of the sections' without a model call
    assert write_digests(digest_assistant, languages=("zh",)) == {"written": sections, "kept": 1, "failed": 0}
    assert write_digests(digest_assistant, languages=("zh",)) == {"written": 0, "kept": len(questions), "failed": 0}
    assert digest_assistant.ask("第二节的要点是什么？").mode is AnswerMode.GENERATED
    assert len(fake_llm.requests) == sections


def test_the_report_digest_is_the_digest_of_the_section_digests(digest_assistant, fake_llm):
    requests = section_requests(digest_assistant.retriever().main_sections, "zh")
    fake_llm.script(*(faithful_reply(digest_assistant, q) for q in requests))
    sections = [digest_assistant.ask(q) for q in requests]
    report = digest_assistant.ask("请概括整份报告")
    assert len(fake_llm.requests) == len(requests) and report.mode is AnswerMode.GENERATED
    assert report.text.count("\n\n") == len(requests) - 1  # a paragraph per section, in document order
    assert [c.n for c in report.citations] == list(range(1, len(report.citations) + 1))
    first_quotes = [s.citations[0].quote for s in sections]
    assert [c.quote for c in report.citations if c.quote in first_quotes] == first_quotes
    for check in report.checks:  # every marker in the text points at the citation whose quote supports it
        assert all(f"[{n}]" in check.text for n in check.citations)
    assert report.verified_share == 1.0


def test_a_digest_keeps_only_its_verified_sentences(digest_assistant, fake_llm):
    windows = plan(digest_assistant, SECTION_THREE).windows
    invented = "这一节还说火星农业将在2031年盈利。[1]"
    fake_llm.script(Reply(invented + "".join(f"{w.sentences[0].text}[{n}]" for n, w in enumerate(windows[:2], start=1))))
    answer = digest_assistant.ask(SECTION_THREE)
    assert "火星" not in answer.text and answer.verified_share == 1.0
    assert [c.n for c in answer.citations] == [1, 2] and answer.text.count("[1]") == 1 and answer.text.count("[2]") == 1
    assert "火星" not in digest_assistant.ask("概括一下第三节").text  # and the cache holds the same


def test_an_english_digest_is_a_translation_of_the_chinese_one_over_the_same_sources(digest_assistant, fake_llm):
    windows = plan(digest_assistant, SECTION_THREE).windows
    second, third = windows[1].sentences[0].text, windows[2].sentences[0].text
    english = (
        "Competition for value capture will play out at several layers, shaped by scale, data access, brand and an"
        " established customer base [2]. Another, less considered path to monetisation may be developing and"
        " licensing model architectures or platforms [3]."
    )
    fake_llm.script(Reply(f"{second}[2]{third}[3]"), Reply(english))
    chinese = digest_assistant.ask(SECTION_THREE)
    assert chinese.text.count("[1]") == 1 and "[3]" not in chinese.text  # cached with dense numbers
    answer = digest_assistant.ask("Summarize section 3")
    system, user = fake_llm.requests[1]["messages"][0]["content"], fake_llm.requests[1]["messages"][-1]["content"]
    assert system == TRANSLATE_SYSTEM
    assert user == f"{second}[2]{third}[3]"  # the Chinese digest, its markers pointing at the windows again
    assert answer.mode is AnswerMode.GENERATED and answer.verified_share == 1.0
    assert [c.quote for c in answer.citations] == [second, third] and answer.text.startswith("Competition")
    assert digest_assistant.ask("Summarize the key points of section 3").text == answer.text
    assert len(fake_llm.requests) == 2
