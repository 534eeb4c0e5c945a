"""Section references and summary intents in both languages."""

from assistant.retrieval.sections import SectionScope, section_references, wants_summary
from assistant.types import Chunk


def chunk(section: str, kind: str = "prose", text: str = "正文。") -> Chunk:
    return Chunk("c", "r.txt", text, 0, len(text), 0, 1, section, kind=kind)


def section_reference(question: str):
    """The one part a question names (these tests name one)."""
    references = section_references(question)
    assert len(references) <= 1, references
    return references[0] if references else None


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


def labels(question: str) -> list[str]:
    return [part.label for part in section_references(question)]


def test_several_parts_in_one_question_in_the_order_named():
    assert labels("摘要和第三节分别讲了什么？") == ["摘要", "第三节"]
    assert labels("What do the summary and section 3 say?") == ["摘要", "第三节"]
    assert labels("What do sections 2 and 3 say?") == ["第二节", "第三节"]
    assert labels("Compare part one, two & four") == ["第一节", "第二节", "第四节"]
    assert labels("Lensa is mentioned at the start of the report and in the vendor tables.") == ["摘要", "vendor tables"]
    assert labels("报告在开头和结尾都提到了什么？") == ["摘要", "conclusion"]
    assert labels("第三节和第三节") == ["第三节"]  # each part once


def test_words_that_only_look_like_a_part_name_no_extra_part():
    assert labels("What is the summary of section 3?") == ["第三节"]  # a summary of section 3, not the abstract
    assert labels("第三节中有哪些预测？") == ["第三节"]  # predictions of the named section, not the report's close
    assert labels("What are the report's predictions?") == ["conclusion"]


def test_a_scope_tells_which_named_part_a_chunk_belongs_to():
    scope = SectionScope(section_references("摘要和结论"), ("第一节 解密", "第四节 采用"))
    assert scope.label == "摘要+conclusion"
    assert scope.part_of(chunk("摘要")) == 0
    assert scope.part_of(chunk("第四节 采用")) == 1
    assert scope.part_of(chunk("第一节 解密")) is None
    assert SectionScope().part_of(chunk("摘要")) is None
