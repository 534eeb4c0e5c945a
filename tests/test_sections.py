"""Section references and summary intents in both languages."""

from assistant.retrieval.sections import section_reference, wants_summary
from assistant.types import Chunk


def chunk(section: str, kind: str = "prose", text: str = "正文。") -> Chunk:
    return Chunk("c", "r.txt", text, 0, len(text), 0, 1, section, kind=kind)


def test_numbered_sections_in_either_language():
    for question in ("请总结第三节的主要观点", "第3节讲了什么？", "What does section 3 say about pricing?", "Summarize part three"):
        reference = section_reference(question)
        assert reference is not None and reference.number == 3, question
        assert reference.matches(chunk("第三节 生成式人工智能中的商机和竞争"), [])
        assert not reference.matches(chunk("第二节 应用案例"), [])


def test_abstract_conclusion_and_vendor_tables():
    assert section_reference("摘要里说了什么？").matches(chunk("摘要"), [])
    conclusion = section_reference("报告的结论是什么？")
    assert conclusion.role == "conclusion" and conclusion.matches(chunk("第四节 采用"), ["第一节", "第四节 采用"])
    assert section_reference("Summarize the report's key predictions").role == "conclusion"
    vendors = section_reference("In the table of vendors, what do chip vendors charge?")
    assert vendors.matches(chunk("第三节", "table", "供应商 描述 案例\n芯片供应商"), [])
    assert not vendors.matches(chunk("第三节", "prose", "供应商 描述 案例"), [])
    assert section_reference("微软对OpenAI的投资金额是多少？") is None
    assert section_reference("What does Gartner predict for 2025?") is None


def test_summary_intent():
    assert all(wants_summary(q) for q in ("请总结第三节", "概括一下报告", "报告的主要观点", "Summarize section 2", "key points", "an overview"))
    assert not any(wants_summary(q) for q in ("微软对OpenAI的投资金额是多少？", "How much did Google invest?"))
