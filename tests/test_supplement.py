"""The draft's quotes a generated answer left out: which ones, how they are numbered, and through the real client."""

from __future__ import annotations

from fake_openai import Reply

from assistant.answering.generate.supplement import LEAD, left_out, with_left_out
from assistant.service import Assistant
from assistant.settings import LlmSettings, Settings
from assistant.types import Answer, AnswerMode, Citation

LIST_QUESTION = "企业买家选择生成式人工智能供应商时经常采用哪些标准？"


def quote(n: int, text: str, start: int) -> Citation:
    return Citation(n=n, source="report.txt", section="第二节", page=3, chunk_id="c1", quote=text, start=start, end=start + len(text))


EASE = quote(1, "易用性| 通过开箱即用的连接和低代码/无代码工具与现有系统和工作流程集成。", 100)
PRIVACY = quote(2, "安全和隐私|符合数据安全标准（例如SOC2、HIPAA、GDPR），并对机密数据实现访问控制。", 200)
CLEAR = quote(3, "透明度和可解释性| 了解模型输出和响应是如何产生的，并有能力对不准确结果进行根本原因分析。", 300)


def answer(text: str, citations: tuple[Citation, ...], language: str = "zh") -> Answer:
    return Answer("问题", language, text, True, AnswerMode.GENERATED, citations)


def test_quotes_the_answer_restates_are_not_left_out():
    text = "企业看重安全和隐私，要求符合数据安全标准（例如SOC2、HIPAA、GDPR）并对机密数据实现访问控制[1]。"
    assert left_out(text, "zh", [EASE, PRIVACY, CLEAR]) == [EASE, CLEAR]


def test_a_quote_the_answer_already_cites_is_not_repeated():
    cited = (quote(1, PRIVACY.quote, PRIVACY.start),)
    assert left_out("标准包括安全[1]。", "zh", [EASE, PRIVACY], cited) == [EASE]


def test_quotes_in_another_language_are_never_left_out():
    assert left_out("Enterprises look for ease of use [1].", "en", [EASE, PRIVACY]) == []


def test_left_out_quotes_follow_the_answer_numbered_after_its_citations():
    generated = answer("标准包括安全和隐私，要求符合数据安全标准并对机密数据实现访问控制[1]。", (quote(1, PRIVACY.quote, PRIVACY.start),))
    draft = answer("根据报告原文：…", (EASE, PRIVACY, CLEAR))
    result = with_left_out(generated, draft)
    assert [c.n for c in result.citations] == [1, 2, 3]
    assert [c.quote for c in result.citations[1:]] == [EASE.quote, CLEAR.quote]
    assert result.text == f"{generated.text}\n\n{LEAD['zh']}\n“{EASE.quote}” [2]\n“{CLEAR.quote}” [3]"


def test_an_answer_that_restates_every_quote_is_unchanged():
    generated = answer(f"{EASE.quote}[1]", (quote(1, EASE.quote, EASE.start),))
    assert with_left_out(generated, answer("", (EASE,))) is generated


def test_through_the_real_client_the_left_out_list_items_stay_under_the_answer(llm_assistant, fake_llm):
    fake_llm.script(Reply("企业买家经常采用的标准包括安全和隐私[1]。"))
    streamed = list(llm_assistant.ask_stream(LIST_QUESTION))
    draft, final = streamed[0].answer, streamed[-1].answer
    assert final.mode == "generated" and final.verified_share == 1.0
    head, _, tail = final.text.partition(f"\n\n{LEAD['zh']}\n")
    assert head == "企业买家经常采用的标准包括安全和隐私[1]。"
    kept = [c for c in draft.citations if c.quote in tail]
    assert any("易用性" in c.quote for c in kept) and any("透明度和可解释性" in c.quote for c in kept)
    assert all(f"“{c.quote}” [{c.n}]" in tail for c in final.citations[1:])  # each kept quote carries its own number
    assert len({c.n for c in final.citations}) == len(final.citations)


def test_keep_quotes_off_shows_the_model_answer_alone(report_assistant, fake_llm):
    settings = Settings(
        paths=report_assistant.settings.paths,
        llm=LlmSettings(provider="openai", base_url=fake_llm.base_url, model="scripted", retries=0, timeout_s=2, keep_quotes=False),
    )
    fake_llm.script(Reply("企业买家经常采用的标准包括安全和隐私[1]。"))
    final = Assistant(settings, embedder=report_assistant.embedder).ask(LIST_QUESTION)
    assert final.text == "企业买家经常采用的标准包括安全和隐私[1]。" and len(final.citations) == 1


def test_a_restatement_that_changes_a_figure_leaves_the_quote_out():
    ordinal = quote(1, "在“第二和第三代”生成式人工智能即将到来之际，尽早投资跨模态和多模态方案。", 400)
    assert left_out("要在第2代生成式人工智能即将到来之际，尽早投资跨模态和多模态方案[1]。", "zh", [ordinal]) == [ordinal]
    assert left_out("要在第二和第三代生成式人工智能即将到来之际，尽早投资跨模态和多模态方案[1]。", "zh", [ordinal]) == []
