"""The LangChain faces on the real report index: retriever, runnable, citation checker, and the docs/langchain.md example."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from uuid import UUID

import pytest
from fake_openai import FakeOpenAI, Reply
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable

import assistant as package
from assistant.service import Assistant
from assistant.serving.langchain import (
    AnswerRunnable,
    ReportRetriever,
    as_runnable,
    format_sources,
    verify_citations,
)
from assistant.types import AnswerMode, EventKind

LANGCHAIN_DOC = Path(__file__).resolve().parents[1] / "docs" / "langchain.md"
QUESTION = "How much did Microsoft invest in OpenAI?"


def doc_example() -> str:
    section = LANGCHAIN_DOC.read_text(encoding="utf-8").split("## Use from LangChain", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture
def retriever(report_assistant: Assistant) -> ReportRetriever:
    return ReportRetriever(assistant=report_assistant, k=4)


def test_the_package_exports_the_faces():
    assert package.ReportRetriever is ReportRetriever and package.verify_citations is verify_citations
    assert issubclass(ReportRetriever, BaseRetriever) and issubclass(AnswerRunnable, Runnable)


def test_retriever_returns_documents_with_citation_metadata(retriever, report_assistant):
    documents = retriever.invoke("微软对OpenAI的投资金额是多少？")
    hits = report_assistant.retrieve("微软对OpenAI的投资金额是多少？", 4)
    assert [d.metadata["chunk_id"] for d in documents] == [h.chunk.id for h in hits]
    assert [d.metadata["rank"] for d in documents] == [1, 2, 3, 4]
    first = documents[0].metadata
    assert {"source", "section", "page", "chunk_id", "start", "end", "rank", "score"} <= first.keys()
    assert first["end"] - first["start"] == len(documents[0].page_content)
    assert any("100亿美元" in d.page_content for d in documents)


def test_verify_citations_quotes_the_supporting_sentence_and_drops_unknown_markers(retriever):
    documents = retriever.invoke("微软对OpenAI的投资金额是多少？")
    n = next(i for i, d in enumerate(documents, 1) if "100亿美元" in d.page_content)
    checked = verify_citations(f"微软对OpenAI投资了100亿美元[{n}]。这句话引用了不存在的来源[9]。", documents)
    assert checked.dropped_markers == 1
    cited = checked.citations[0]
    assert cited.verified and "100亿美元" in cited.quote and cited.quote in documents[n - 1].page_content
    assert cited.start - documents[n - 1].metadata["start"] == documents[n - 1].page_content.index(cited.quote)


def test_verify_citations_flags_a_wrong_figure():
    documents = [Document(page_content="微软对OpenAI的投资是100亿美元。谷歌对Anthropic的投资是3亿美元。", metadata={"source": "a.md"})]
    checked = verify_citations("Microsoft invested 50 billion US dollars in OpenAI [1].", documents)
    assert not checked.sentences[0].verified


def test_runnable_invokes_and_streams_the_same_answer(report_assistant):
    runnable = as_runnable(report_assistant)
    answer = runnable.invoke({"question": "微软对OpenAI的投资金额是多少？", "history": []})
    events = list(runnable.stream("微软对OpenAI的投资金额是多少？"))
    assert answer.mode is AnswerMode.EXTRACTIVE and any("100亿美元" in c.quote for c in answer.citations)
    assert events[-1].kind is EventKind.ANSWER and events[-1].answer.citations == answer.citations


def test_format_sources_numbers_documents_in_order(retriever):
    documents = retriever.invoke(QUESTION)
    text = format_sources(documents)
    assert [int(n) for n in re.findall(r"^\[(\d+)\]", text, re.MULTILINE)] == list(range(1, len(documents) + 1))


def test_the_doc_example_runs_with_a_real_openai_client(report_settings, report_assistant, monkeypatch):
    documents = ReportRetriever(assistant=report_assistant).invoke(QUESTION)
    n = next(i for i, d in enumerate(documents, 1) if "100亿美元" in d.page_content)
    monkeypatch.setenv("ASSISTANT_PATHS__CORPUS_DIR", str(report_settings.paths.corpus_dir))
    monkeypatch.setenv("ASSISTANT_PATHS__INDEX_DIR", str(report_settings.paths.index_dir))
    with FakeOpenAI() as server:
        server.script(Reply(f"Microsoft invested 10 billion US dollars in OpenAI [{n}]."))
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(doc_example(), str(LANGCHAIN_DOC), "exec"), {})
    prompt = server.requests[0]["messages"][-1]["content"]
    assert QUESTION in prompt and "100亿美元" in prompt  # the retriever's passages reached the user's model
    printed = out.getvalue()
    assert "[1]" in printed and "100亿美元" in printed and "True" in printed


class RunRecorder(BaseCallbackHandler):
    """The runs LangChain reports: chains by id (name, tags), and each chat model call's parent run and tags."""

    def __init__(self) -> None:
        self.chains: dict[UUID, tuple[str, list[str]]] = {}
        self.model_calls: list[tuple[UUID | None, list[str]]] = []

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, **kwargs):
        self.chains[run_id] = (kwargs.get("name", ""), tags or [])

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, tags=None, **kwargs):
        self.model_calls.append((parent_run_id, tags or []))


@pytest.mark.parametrize("call", ["invoke", "stream"])
def test_the_runnable_passes_its_config_on_to_the_chat_model(llm_assistant, fake_llm, call):
    fake_llm.script(Reply("微软对OpenAI投资了100亿美元[1]。"))
    recorder = RunRecorder()
    config = {"callbacks": [recorder], "tags": ["from-a-test"], "run_name": "report-answerer"}
    runnable = as_runnable(llm_assistant)
    answer = runnable.invoke(QUESTION, config) if call == "invoke" else list(runnable.stream(QUESTION, config))[-1].answer
    assert answer.mode.startswith("generated") and fake_llm.requests
    (run, (name, tags)), = recorder.chains.items()
    assert name == "report-answerer" and "from-a-test" in tags
    assert recorder.model_calls and all(parent == run and "from-a-test" in tags for parent, tags in recorder.model_calls)
