"""Answers exported as Markdown: every citation with document, version, section, page and the verbatim quote."""

from assistant.serving.export import answer_markdown
from assistant.types import Answer, AnswerMode, Citation


def test_an_exported_answer_carries_each_citation_checkably():
    citations = (
        Citation(1, "report.txt", "摘要", 2, "c1", "微软对OpenAI的130亿美元投资。", 10, 25),
        Citation(2, "report.txt", "", 0, "", "微软对OpenAI的100亿美元投资。\n第二行", 10, 28, version=1),
        Citation(3, "notes.md", "Costs", 1, "c9", "It costs nothing.", 0, 17, verified=False),
    )
    answer = Answer("How much?", "en", "13 billion [1], was 10 billion [2].", True, AnswerMode.GENERATED, citations,
                    notice="Check it.")
    exported = answer_markdown(answer.to_dict())
    assert exported.startswith("## Question\n\nHow much?\n\n## Answer\n\n13 billion [1], was 10 billion [2].")
    assert "> **Note:** Check it." in exported
    assert "[1] report.txt · 摘要 · p. 2\n\n> 微软对OpenAI的130亿美元投资。" in exported
    assert "[2] report.txt · version 1\n\n> 微软对OpenAI的100亿美元投资。\n> 第二行" in exported
    assert "[3] notes.md · Costs · p. 1 (unverified)" in exported
