"""Section references and summary intents in both languages, matched to any document's numbered headings."""

from assistant.language import SectionLabel
from assistant.retrieval.sections import SectionScope, main_sections, section_references, wants_summary
from assistant.types import Chunk


def chunk(section: str, kind: str = "prose", text: str = "正文。", doc: str = "r.txt") -> Chunk:
    return Chunk("c", doc, text, 0, len(text), 0, 1, section, kind=kind)


def section_reference(question: str):
    """The one part a question names (these tests name one)."""
    references = section_references(question)
    assert len(references) <= 1, references
    return references[0] if references else None


def test_numbered_sections_in_either_language():
    for question in ("请总结第三节的主要观点", "第3节讲了什么？", "What does section 3 say about pricing?", "Summarize part three"):
        reference = section_reference(question)
        assert reference is not None and reference.path[0].number == 3, question
        assert reference.matches(chunk("第三节 生成式人工智能中的商机和竞争"))
        assert not reference.matches(chunk("第二节 应用案例"))


def test_a_legal_texts_bare_numbered_sections_and_a_tutors_lessons():
    assert section_reference("According to section 9, do I need to accept it?").matches(chunk("9. Acceptance Not Required."))
    assert section_reference("GPL第11条不允许什么？").matches(chunk("11. Patents."))
    assert not section_reference("GPL第11条不允许什么？").matches(chunk("1. Source Code."))
    lesson = section_reference("第五讲的小结都总结了哪些命令？")
    assert lesson.matches(chunk("第五讲小结")) and lesson.matches(chunk("第五讲第二节：关于保存文件的更多信息"))
    assert not lesson.matches(chunk("第二讲小结"))
    assert section_reference("What does the summary at the end of Lesson 2 cover?") is not None
    assert section_references("Lesson 2")[0].matches(chunk("第二讲第一节：删除类命令"))
    path = section_reference("第一讲第二节讲了什么？")
    assert path.path == (SectionLabel("讲", 1), SectionLabel("节", 2))
    assert path.matches(chunk("第一讲第二节：VIM的进入和退出")) and not path.matches(chunk("第二讲第二节：更多删除类命令"))


def test_abstract_and_conclusion_are_found_by_their_headings_names():
    assert section_reference("摘要里说了什么？").matches(chunk("摘要"))
    conclusion = section_reference("报告的结论是什么？")
    assert conclusion.role == "conclusion" and conclusion.matches(chunk("Conclusion"))
    assert not conclusion.matches(chunk("第四节 采用"))  # never "the last section": that is one document's habit
    assert section_reference("微软对OpenAI的投资金额是多少？") is None
    assert section_reference("What does Gartner predict for 2025?") is None
    assert section_reference("Summarize the report's key predictions") is None


def test_summary_intent():
    assert all(wants_summary(q) for q in ("请总结第三节", "概括一下报告", "报告的主要观点", "Summarize section 2", "key points", "an overview"))
    assert not any(wants_summary(q) for q in ("微软对OpenAI的投资金额是多少？", "How much did Google invest?"))


def labels(question: str) -> list[str]:
    return [part.label for part in section_references(question)]


def test_several_parts_in_one_question_in_the_order_named():
    assert labels("摘要和第三节分别讲了什么？") == ["abstract", "节3"]
    assert labels("What do the summary and section 3 say?") == ["abstract", "节3"]
    assert labels("What do sections 2 and 3 say?") == ["节2", "节3"]
    assert labels("Compare part one, two & four") == ["部1", "部2", "部4"]
    assert labels("报告在开头和结论里都提到了什么？") == ["abstract", "conclusion"]
    assert labels("第三节和第三节") == ["节3"]  # each part once


def test_words_that_only_look_like_a_part_name_no_extra_part():
    assert labels("What is the summary of section 3?") == ["节3"]  # a summary of section 3, not the abstract


def test_a_scope_tells_which_named_part_a_chunk_belongs_to():
    scope = SectionScope(section_references("摘要和结论"))
    assert scope.label == "abstract+conclusion"
    assert scope.part_of(chunk("摘要")) == 0
    assert scope.part_of(chunk("结论")) == 1
    assert scope.part_of(chunk("第一节 解密")) is None
    assert SectionScope().part_of(chunk("摘要")) is None


def test_main_sections_are_the_numbered_ones_and_the_abstract_in_document_order():
    chunks = [chunk("摘要"), chunk("关于我们"), chunk("第一节 解密"), chunk("0. Definitions.", doc="gpl.txt")]
    assert main_sections(chunks) == ["0. Definitions.", "摘要", "第一节 解密"]
