"""The web app: rendering is escaped; end to end, a real server answers through gradio_client."""

import pytest

from assistant.types import Answer, Citation, Chunk, Hit
from assistant.ui import escape_markdown, render_answer, render_sources

HOSTILE = "<script>alert(1)</script>[x](javascript:alert(1))"


def _answer(quote: str) -> Answer:
    chunk = Chunk("c1", "r.txt", "前文" + quote + "后文", 10, 14 + len(quote), 0, 2, "摘要")
    citation = Citation(1, "r.txt", "摘要", 2, "c1", quote, 12, 12 + len(quote))
    return Answer("q", "zh", f"根据报告原文：\n“{quote}” [1]", True, "extractive", (citation,), (Hit(chunk, 1.0, 1),), "q")


def test_document_text_is_escaped_in_chat_and_sources():
    chat = render_answer(_answer(HOSTILE))
    assert "<script>" not in chat and "](javascript" not in chat
    assert "[\\[1\\]](#cite-1)" in chat
    sources = render_sources(_answer(HOSTILE))
    assert "<script>" not in sources and "&lt;script&gt;" in sources
    assert '<mark>&lt;script&gt;' in sources


def test_escape_markdown_neutralises_links_and_emphasis():
    assert escape_markdown("*a* [b](c)") == "\\*a\\* \\[b\\]\\(c\\)"


@pytest.mark.slow
def test_served_chat_answers_with_a_citation_from_the_corpus(served):
    from gradio_client import Client

    client = Client(f"{served.url}/", verbose=False)
    history, sources, cleared = client.predict("微软对OpenAI的投资金额是多少？", [], api_name="/ask")
    reply = history[-1]["content"]
    text = reply if isinstance(reply, str) else "".join(part["text"] for part in reply)
    assert "[\\[1\\]](#cite-1)" in text
    assert "100亿美元" in text
    assert 'id="cite-1"' in sources and "<mark>" in sources
    assert cleared == ""
