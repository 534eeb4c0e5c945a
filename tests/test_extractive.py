"""Offline extractive answers: verbatim quotes, numbered citations, framing language, refusals."""

import pytest

from assistant.answering.extractive import (
    REFUSAL,
    anchors,
    lexical_coverage,
    missing_anchors,
)
from assistant.errors import BadQuestion
from assistant.ingest.clean import clean


def test_chinese_answer_quotes_the_report_with_citations(report_assistant, report_text):
    answer = report_assistant.ask("微软对OpenAI的投资金额是多少？")
    assert answer.answerable and answer.language == "zh" and answer.mode == "extractive"
    assert "100亿美元" in answer.text
    cleaned = clean(report_text, "genai-enterprise-report.zh.txt").text
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text
        assert cleaned[c.start : c.end] == c.quote
        assert c.source == "genai-enterprise-report.zh.txt" and c.section and c.page >= 1 and c.chunk_id
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_english_answer_is_framed_in_english(report_assistant):
    answer = report_assistant.ask("How much more can a generative AI query cost than a conventional index query?")
    assert answer.language == "en" and answer.answerable
    assert answer.text.startswith("The report says")
    assert any("十倍" in c.quote for c in answer.citations)


@pytest.mark.parametrize(
    "question, language",
    [("How many parameters does Google's LaMDA model have?", "en"), ("欧盟《AI法案》是在哪一天正式生效的？", "zh")],
)
def test_questions_outside_the_report_are_refused(report_assistant, question, language):
    answer = report_assistant.ask(question)
    assert not answer.answerable
    assert answer.text == REFUSAL[language] and answer.citations == ()


@pytest.mark.parametrize("question", ["", "   ", "问" * 2001])
def test_empty_or_overlong_questions_are_rejected(report_assistant, question):
    with pytest.raises(BadQuestion):
        report_assistant.ask(question)


def test_anchor_extraction():
    assert anchors("How many parameters does Google's LaMDA model have?") == ["google", "lamda"]
    assert anchors("Midjourney的套餐多少钱？") == ["midjourney"]
    assert missing_anchors("What about LaMDA and GPT-3?", {"gpt-3"}) == ["lamda"]


def test_lexical_coverage():
    assert lexical_coverage(["微软", "投资"], "微软对OpenAI的投资") == 1.0
    assert lexical_coverage(["微软", "谷歌"], "微软") == 0.5
    assert lexical_coverage([], "x") == 0.0


def test_which_ones_asks_for_a_list_not_a_quantity():
    from assistant.answering.extractive import asks_for_quantity

    assert not asks_for_quantity("“财务”这一组包含哪几项收益？")
    assert asks_for_quantity("集成玩家是通过几种途径进入市场的？")


def test_a_name_punctuated_differently_is_still_mentioned():
    from assistant.answering.extractive import in_vocabulary, mentioned

    assert mentioned("dall-e", "在2022年，openai的dall·e2因其文本生成图像的能力")
    assert in_vocabulary("dall-e", {"dall", "e2", "openai"})
    assert not mentioned("dall-e", "openai的chatgpt")
