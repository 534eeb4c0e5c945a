"""A library of documents in both languages: answers from the document a question names or the asker picks, in
the asker's language, over the CLI, the REST API and the core (the report, an English licence and a Chinese tutor)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPORT, ROOT
from fastapi.testclient import TestClient

from assistant.answering.generate.translate import needs_translation
from assistant.errors import UnknownScope
from assistant.service import Assistant
from assistant.serving.api.app import create_app
from assistant.settings import LlmSettings, PathSettings, Settings

GPL = ROOT / "eval" / "library" / "gpl-3.0.en.txt"
VIM = ROOT / "eval" / "library" / "vimtutor.zh_cn.txt"
GPL_PART = "licence.en.txt"
VIM_PART = "vim-tutor.zh.txt"


def _excerpt(path: Path, end: str) -> str:
    """The document up to (not including) the line that starts with ``end``: enough to index in seconds."""
    text = path.read_text(encoding="utf-8")
    return text[: text.index(end)]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, report_assistant: Assistant) -> Assistant:
    base = tmp_path_factory.mktemp("library")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    (corpus / GPL_PART).write_text(_excerpt(GPL, "  2. Basic Permissions."), encoding="utf-8")
    (corpus / VIM_PART).write_text(_excerpt(VIM, "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n\t\t\t第二讲第一节"), encoding="utf-8")
    settings = Settings(paths=PathSettings(corpus_dir=corpus, index_dir=base / "index"), llm=LlmSettings(provider="none"))
    assistant = Assistant(settings, embedder=report_assistant.embedder)
    assistant.index()
    return assistant


def test_headings_are_detected_in_the_licence_and_the_tutor(library):
    outlines = library.outlines()
    assert outlines[GPL_PART]["language"] == "en" and outlines[VIM_PART]["language"] == "zh"
    assert {"0. Definitions.", "1. Source Code."} <= set(outlines[GPL_PART]["sections"])
    assert "第一讲第二节：VIM的进入和退出" in outlines[VIM_PART]["sections"]
    assert any(s.startswith("第三节") for s in outlines[REPORT.name]["sections"])


def test_an_english_question_over_the_english_text_is_answered_from_it_without_translation(library):
    answer = library.ask("What does the GPL mean by the source code of a work?")
    assert answer.answerable and {c.source for c in answer.citations} == {GPL_PART}
    assert "preferred form of the work for making modifications" in " ".join(c.quote for c in answer.citations)
    assert not needs_translation(answer)  # English quotes for an English reader: no translation prompt


def test_a_chinese_question_about_the_licence_is_answered_in_chinese_citing_it(library):
    answer = library.ask("GPL里说的“传递”(convey)是什么意思？")
    assert answer.answerable and answer.language == "zh"
    assert {c.source for c in answer.citations} == {GPL_PART}  # the question names the GPL: no report passage
    assert answer.text.startswith("根据")  # the answer's own words are Chinese; the quotes stay verbatim English


def test_picked_documents_limit_the_evidence_and_an_unknown_one_is_a_clear_error(library):
    hits = library.retrieve("怎么退出编辑器并放弃修改？", documents=[VIM_PART])
    assert hits and all(hit.chunk.doc_id == VIM_PART for hit in hits)
    with pytest.raises(UnknownScope, match=GPL_PART):
        library.retrieve("退出", documents=["nonexistent.pdf"])


def test_the_api_takes_documents_and_lists_each_documents_language_and_sections(library):
    client = TestClient(create_app(library))
    answer = client.post("/api/ask", json={"question": "How do I leave the editor?", "documents": [VIM_PART]}).json()
    assert answer["citations"] and {c["source"] for c in answer["citations"]} == {VIM_PART}
    refused = client.post("/api/retrieve", json={"question": "exit", "documents": ["nope.txt"]})
    assert refused.status_code == 422 and "nope.txt" in refused.text
    listed = {d["doc_id"]: d for d in client.get("/api/documents").json()}
    assert listed[GPL_PART]["language"] == "en" and "0. Definitions." in listed[GPL_PART]["sections"]


@pytest.mark.slow
def test_the_cli_doc_option_scopes_answers(library):
    env = {
        "ASSISTANT_PATHS__CORPUS_DIR": str(library.settings.paths.corpus_dir),
        "ASSISTANT_PATHS__INDEX_DIR": str(library.settings.paths.index_dir),
        "ASSISTANT_LLM__PROVIDER": "none",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    }
    command = [str(Path(sys.executable).parent / "assistant"), "ask", "--json", "--doc", GPL_PART, "What may I charge for copies?"]
    shown = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    assert {c["source"] for c in json.loads(shown.stdout)["citations"]} == {GPL_PART}
    unknown = subprocess.run([*command[:4], "nope.txt", command[-1]], env=env, capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 2 and unknown.stderr.strip().startswith("error:") and "nope.txt" in unknown.stderr
