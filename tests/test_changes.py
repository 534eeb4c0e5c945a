"""Versions and "what changed": the alignment on edited texts, the version store, and the CLI and API on the real
report replaced by an edited edition."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.answering.compose.changes import asks_what_changed, compare, fate
from assistant.errors import NoEarlierVersion, UnknownVersion
from assistant.indexing.versions import VersionStore
from assistant.service import Assistant
from assistant.serving.api.app import create_app
from assistant.settings import IndexSettings, LlmSettings, PathSettings, Settings

OLD = (
    "第一节 概述\n\n仅在2022年，微软对OpenAI的100亿美元投资。\n这是一段会被\n重新换行的文字。\n\n这句话会被删除。\n\n"
    "移动的段落在这里。\n\n| 公司 | 投资 |\n| 微软 | 100亿美元 |\n"
)
NEW = (
    "第一节 概述\n\n移动的段落在这里。\n\n仅在2022年，微软对OpenAI的130亿美元投资。\n这是一段会被重新换行的文字。\n\n"
    "新增的一段话说明了新的情况。\n\n| 公司 | 投资 |\n| 微软 | 130亿美元 |\n"
)


def test_changes_are_exactly_the_edits_not_the_rewrapping_or_the_move():
    found = [(c.kind, c.old and c.old.text, c.new and c.new.text, [(f.old, f.new) for f in c.figures]) for c in compare(OLD, NEW)]
    assert found == [
        ("changed", "仅在2022年，微软对OpenAI的100亿美元投资。", "仅在2022年，微软对OpenAI的130亿美元投资。", [("100亿美元", "130亿美元")]),
        ("removed", "这句话会被删除。", None, []),
        ("added", None, "新增的一段话说明了新的情况。", []),
        ("changed", "| 微软 | 100亿美元 |", "| 微软 | 130亿美元 |", [("100亿美元", "130亿美元")]),
    ]
    assert all(NEW[c.new.start : c.new.end] == c.new.text for c in compare(OLD, NEW) if c.new)  # offsets are verbatim
    assert compare(OLD, OLD.replace("这是一段会被\n重新换行的文字。", "这是一段会被重新\n换行的文字。")) == []


def test_the_fate_of_a_quoted_passage_is_the_change_that_touched_it():
    def at(text: str, quote: str) -> tuple[int, int]:
        return text.index(quote), text.index(quote) + len(quote)

    changes = compare(OLD, NEW)
    assert fate(changes, *at(OLD, "这句话会被删除。")).kind == "removed"
    changed = fate(changes, *at(OLD, "微软对OpenAI的100亿美元投资"))
    assert changed.kind == "changed" and "130亿美元" in changed.new.text
    assert fate(changes, *at(OLD, "移动的段落在这里。")) is None  # moved, not changed
    assert fate(changes, *at(OLD, "这是一段会被\n重新换行的文字。")) is None  # re-wrapped, not changed


def test_english_sentences_and_dollar_figures():
    old = "Microsoft invested $10 billion in OpenAI. The market\nwas small.\n"
    new = "Microsoft invested $13 billion in OpenAI. The market was small.\n"
    (change,) = compare(old, new)
    assert change.kind == "changed" and [(f.old, f.new) for f in change.figures] == [("$10 billion", "$13 billion")]


def test_the_store_keeps_the_last_versions_and_their_text_only(tmp_path):
    store = VersionStore(tmp_path, keep=2)
    assert store.record("a/b.txt", "s1", "one").n == 1
    assert store.record("a/b.txt", "s1", "one").n == 1  # the same content is no new version
    store.record("a/b.txt", "s2", "two")
    store.record("a/b.txt", "s3", "three")
    assert [v.n for v in store.history("a/b.txt")] == [2, 3]
    assert sorted(p.name for p in store.folder("a/b.txt").iterdir()) == ["history.json", "s2.txt", "s3.txt"]
    assert store.text("a/b.txt", 3) == "three"
    with pytest.raises(UnknownVersion, match="versions kept: 2, 3"):
        store.text("a/b.txt", 1)


@pytest.fixture
def edited(report_assistant: Assistant, tmp_path: Path) -> Assistant:
    """The report indexed, then replaced by an edition with one figure changed and one paragraph added."""
    shutil.copytree(report_assistant.settings.paths.corpus_dir, tmp_path / "corpus", dirs_exist_ok=True)
    shutil.copytree(report_assistant.settings.paths.index_dir, tmp_path / "index")
    settings = Settings(
        paths=PathSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index"),
        llm=LlmSettings(provider="none"),
        index=IndexSettings(versions_kept=3),
    )
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    report = tmp_path / "corpus" / "genai-enterprise-report.zh.txt"
    with pytest.raises(NoEarlierVersion, match="nothing to compare yet"):
        assistant.changes("genai-enterprise-report.zh.txt")
    text = report.read_text(encoding="utf-8").replace("100亿美元", "130亿美元", 1)
    report.write_text(text + "\n修订版新增：生成式人工智能的采用率在2024年翻了一番。\n", encoding="utf-8")
    assistant.index()
    return assistant


def test_an_edited_report_lists_its_changes_over_the_cli_and_the_api(edited, tmp_path):
    found = edited.changes("genai-enterprise-report.zh.txt")
    assert (found.old.n, found.new.n) == (1, 2)
    assert [(c.kind, [(f.old, f.new) for f in c.figures]) for c in found.changes] == [
        ("changed", [("100亿美元", "130亿美元")]),
        ("added", []),
    ]
    assert "130亿美元" in edited.ask("微软对OpenAI的投资金额是多少？").citations[0].quote  # answered from the new text
    assert edited.index().changed is False and [v.n for v in edited.versions("genai-enterprise-report.zh.txt")[1]] == [1, 2]

    env = {"ASSISTANT_PATHS__CORPUS_DIR": str(tmp_path / "corpus"), "ASSISTANT_PATHS__INDEX_DIR": str(tmp_path / "index"),
           "ASSISTANT_LLM__PROVIDER": "none", "PATH": "/usr/bin:/bin"}
    cli = [str(Path(sys.executable).parent / "assistant"), "changes", "genai-enterprise-report.zh.txt"]
    shown = subprocess.run(cli, env=env, capture_output=True, text=True, check=True).stdout
    assert "version 1 → 2, 2 change(s)" in shown and "~ 100亿美元 → 130亿美元:" in shown and "+ 修订版新增" in shown
    as_json = json.loads(subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True, check=True).stdout)
    assert as_json["changes"][0]["figures"] == [{"old": "100亿美元", "new": "130亿美元"}]
    bad = subprocess.run([*cli, "--from", "7"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "has no version 7; versions kept: 1, 2" in bad.stderr

    client = TestClient(create_app(edited))
    assert client.get("/api/documents/genai-enterprise-report.zh.txt/changes").json() == found.to_dict()
    assert client.get("/api/documents/genai-enterprise-report.zh.txt/versions").json()["versions"][1]["n"] == 2
    missing = client.get("/api/documents/genai-enterprise-report.zh.txt/changes", params={"from": 9})
    assert missing.status_code == 404 and "versions kept: 1, 2" in missing.json()["detail"]
    assert client.get("/api/documents/nope.txt/changes").status_code == 422


@pytest.mark.parametrize(
    ("question", "lead", "was"),
    [("修订版改了哪些数字？", "第1版 → 第2版的变化", "（原文："), ("What changed in the updated version?", "from version 1 to version 2", "(was: ")],
)
def test_what_changed_is_answered_from_the_computed_changes_citing_old_and_new(edited, tmp_path, question, lead, was):
    answer = edited.ask(question)
    assert lead in answer.text and was in answer.text and "100亿美元 → 130亿美元" in answer.text
    new, old, added = answer.citations
    assert (new.version, old.version, added.version) == (None, 1, None)
    assert "130亿美元" in new.quote and "100亿美元" in old.quote and "修订版新增" in added.quote
    chunks = {hit.chunk.id: hit.chunk for hit in answer.retrieved}
    for current in (new, added):  # the current wording is quoted from the live index, verbatim
        chunk = chunks[current.chunk_id]
        assert chunk.text[current.start - chunk.start : current.end - chunk.start] == current.quote
    assert edited.versions("genai-enterprise-report.zh.txt")[1][0].n == 1
    old_text = VersionStore(tmp_path / "index", keep=3).text("genai-enterprise-report.zh.txt", 1)
    assert old_text[old.start : old.end] == old.quote  # the earlier wording, verbatim from version 1


@pytest.mark.parametrize(
    "question, lead, changed",
    [
        ("上一版关于微软对OpenAI的投资是怎么说的？", "第1版（更新前）关于此的原文", "第2版改为"),
        ("What did the previous edition say about Microsoft's investment in OpenAI?", "What version 1 of", "version 2 changed it to"),
    ],
    ids=["zh", "en"],
)
def test_what_the_previous_edition_said_is_quoted_from_it_beside_what_replaced_it(edited, question, lead, changed):
    answer = edited.ask(question)
    assert lead in answer.text and changed in answer.text, answer.text
    old = [c for c in answer.citations if c.version == 1]
    new = [c for c in answer.citations if c.version is None]
    assert any("100亿美元" in c.quote for c in old) and any("130亿美元" in c.quote for c in new)
    report = edited.settings.paths.corpus_dir / "genai-enterprise-report.zh.txt"
    current = "".join(report.read_text(encoding="utf-8").split())
    assert all("".join(c.quote.split()) in current for c in new)  # current quotes are the current text
    assert "130亿美元" not in "".join(c.quote for c in old)


def test_the_langchain_tool_reports_the_changes_and_explains_a_wrong_version(edited):
    from assistant import changes_tool

    tool = changes_tool(edited)
    found = tool.invoke({"document": "genai-enterprise-report.zh.txt"})
    figures = [(f["old"], f["new"]) for c in found["changes"] for f in c["figures"]]
    assert ("100亿美元", "130亿美元") in figures and any(c["kind"] == "added" for c in found["changes"])
    refused = tool.invoke({"document": "genai-enterprise-report.zh.txt", "from_version": 7})
    assert isinstance(refused, str) and "versions kept: 1, 2" in refused


def test_a_content_question_about_change_words_is_not_taken_for_an_update_question(report_assistant):
    answer = report_assistant.ask("生成式AI给企业带来了哪些变化？")
    assert "版的变化" not in answer.text


def test_an_answer_quoting_a_changed_figure_notes_the_old_value(edited):
    answer = edited.ask("How much did Microsoft invest in OpenAI?")
    assert any("130亿美元" in c.quote for c in answer.citations)
    assert "version 2 of genai-enterprise-report.zh.txt changed the quoted passage: 100亿美元 → 130亿美元" in answer.notice
    unchanged = edited.ask("谷歌的客服中心人工智能旨在帮助实现什么？")
    assert "修改了引用的内容" not in unchanged.notice


@pytest.mark.parametrize(
    ("question", "about_an_update"),
    [
        ("What changed in the updated version?", True),
        ("What are the differences between the two editions?", True),
        ("修订版改了哪些数字？", True),
        ("新版本新增了什么内容？", True),
        ("What changes in consumer behaviour does the report describe?", False),
        ("What is new about generative AI?", False),
        ("生成式AI给企业带来了哪些变化？", False),
    ],
)
def test_update_questions_are_told_from_content_questions(question, about_an_update):
    assert asks_what_changed(question) is about_an_update


def test_an_answer_saved_before_an_update_still_resolves_and_says_what_became_of_its_passage(report_assistant, tmp_path):
    """Saved in a conversation against version 1; after an update that changed its figure, reading it now keeps the
    quote from version 1 and says which version did what; once a third version garbage-collects version 1 the saved
    quote is still shown, marked as no longer kept."""
    shutil.copytree(report_assistant.settings.paths.corpus_dir, tmp_path / "corpus", dirs_exist_ok=True)
    shutil.copytree(report_assistant.settings.paths.index_dir, tmp_path / "index")
    settings = Settings(
        paths=PathSettings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", state_dir=tmp_path / "state"),
        llm=LlmSettings(provider="none"),
        index=IndexSettings(versions_kept=2),
    )
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    api = TestClient(create_app(assistant))
    me = {"X-Client-Id": "reader-0123456789abcdef"}
    cid = api.post("/api/conversations", json={}, headers=me).json()["id"]
    asked = api.post("/api/ask", json={"question": "微软对OpenAI的投资金额是多少？", "conversation_id": cid}, headers=me).json()
    (cited,) = [c for c in asked["citations"] if "100亿美元" in c["quote"]][:1]
    report = tmp_path / "corpus" / "genai-enterprise-report.zh.txt"
    original = report.read_text(encoding="utf-8")

    def reread() -> dict:
        saved = api.get(f"/api/conversations/{cid}", params={"now": "true"}, headers=me).json()
        return saved["messages"][0]["answer"]

    assert reread()["notice"] == "" and all(c["version"] is None for c in reread()["citations"])  # nothing changed yet
    report.write_text(original.replace("100亿美元", "130亿美元", 1), encoding="utf-8")
    assistant.index()
    now = reread()
    again = next(c for c in now["citations"] if c["n"] == cited["n"])
    assert again["version"] == 1 and again["quote"] == cited["quote"]  # shown from the version it quoted
    assert f"[{cited['n']}] 引自《genai-enterprise-report.zh.txt》第1版；该段在第2版" in now["notice"] and "130亿美元" in now["notice"]
    unchanged = [c for c in now["citations"] if "100亿美元" not in c["quote"]]
    assert all(c["version"] is None for c in unchanged)  # passages the update left alone read as current
    kept = {**cited, "version": None}  # as an API client kept it from the answer, before the update
    resolved = api.post("/api/citations/resolve", json={"citations": [kept], "language": "en"}).json()
    assert resolved["citations"][0]["version"] == 1 and "version 2 (" in resolved["notice"] and "changed the passage" in resolved["notice"]

    report.write_text(original.replace("100亿美元", "130亿美元", 1) + "\n第三版新增的一句话。\n", encoding="utf-8")
    assistant.index()  # version 3; only versions 2 and 3 are kept
    gone = reread()
    assert "第1版，该版本已不再保留" in gone["notice"]
    assert next(c for c in gone["citations"] if c["n"] == cited["n"])["quote"] == cited["quote"]  # the saved quote
    exported = api.get(f"/api/conversations/{cid}/export", headers=me).text
    assert f"> {cited['quote']}" in exported and "第 1 版" in exported
