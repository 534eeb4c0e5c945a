"""The dev-set evaluation: retrieval quality per language and citation integrity."""

import pytest
from conftest import GOLDEN

from assistant.evaluate import (
    GoldenQuestion,
    QuoteChecker,
    answer_language_matches,
    evaluate,
    only_split,
    in_named_section,
    keyword_recall,
    read_golden,
)


def test_keyword_recall_handles_alternatives():
    assert keyword_recall("ARM和高通", ["ARM", "Qualcomm | 高通"]) == 1.0
    assert keyword_recall("ARM", ["ARM", "Qualcomm | 高通"]) == 0.5


def test_a_golden_line_naming_several_sections_accepts_a_quote_from_any_of_them():
    assert in_named_section("第三节 生成式人工智能中的商机和竞争", "摘要+第三节")
    assert in_named_section("摘要", "摘要+第三节")
    assert not in_named_section("第二节 应用案例", "摘要+第三节")
    assert in_named_section("第三节 商机", "第三节") and not in_named_section("摘要", "第三节")


def test_bad_golden_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n', encoding="utf-8")
    with pytest.raises(Exception, match="bad.jsonl:1"):
        read_golden(bad)


@pytest.mark.slow
def test_dev_set_hit_rate_and_citations(report_assistant, report_settings):
    questions = read_golden(GOLDEN)
    results = evaluate(questions, report_assistant.ask, QuoteChecker(report_settings.paths.corpus_dir))
    assert results["zh"]["hit@k"] >= 0.85
    assert results["en"]["hit@k"] >= 0.85
    assert results["all"]["quotes_verbatim"] == 1.0
    assert results["all"]["answers_with_citations"] >= 0.9
    assert results["all"]["refused_when_unanswerable"] >= 0.6
    assert isinstance(questions[0], GoldenQuestion)


def test_quote_checker_reads_the_original_text(tmp_path):
    (tmp_path / "r.txt").write_text(
        " 标题文字\n\n第一段第一句话在这里。\n\n第二句话也\n\n在这里。\n\n拓展市场 ● ●\n8\n产生收入 ● ●\n", encoding="utf-8"
    )
    checker = QuoteChecker(tmp_path)
    assert checker.in_original("r.txt", "第二句话也在这里。")
    assert not checker.in_original("r.txt", "拓展市场 ● ●产生收入")  # the page number lies between them
    assert not checker.is_fragment("r.txt", "第二句话也在这里。", "prose")
    assert checker.is_fragment("r.txt", "第二句话也", "prose")
    assert not checker.is_fragment("r.txt", "拓展市场 ● ●", "table")
    assert checker.is_fragment("r.txt", "拓展市场", "table")  # half a row
    assert checker.is_heading("r.txt", "标题文字", "prose")
    assert not checker.is_heading("r.txt", "第一段第一句话在这里。", "prose")


def test_follow_ups_answer_their_history_first_and_are_tallied_apart(tmp_path):
    from assistant.types import Answer, AnswerMode

    (tmp_path / "r.txt").write_text(" 标题\n\n微软对OpenAI的投资是100亿美元。\n", encoding="utf-8")
    golden = tmp_path / "g.jsonl"
    golden.write_text(
        '{"id": "f1", "lang": "en", "history": [{"question": "first?", "answer": ""}], "question": "And then?",'
        ' "evidence": ["100亿美元"], "answer_keywords": ["100亿"]}\n',
        encoding="utf-8",
    )
    calls = []

    def ask(question, history=()):
        calls.append((question, tuple(history)))
        return Answer(question, "en", f"answer to {question}", True, AnswerMode.EXTRACTIVE)

    results = evaluate(read_golden(golden), ask, QuoteChecker(tmp_path))
    assert calls == [("first?", ()), ("And then?", (("first?", "answer to first?"),))]
    assert set(results) == {"followup", "followup-en", "tune-followup", "tune-followup-en"}


def test_halves_alternate_within_each_document_and_language(tmp_path):
    golden = tmp_path / "g.jsonl"
    rows = [("a", "en", "x.txt"), ("b", "en", "x.txt"), ("c", "zh", "x.txt"), ("d", "en", "y.txt"), ("e", "en", "x.txt")]
    golden.write_text(
        "".join(f'{{"id": "{i}", "lang": "{lang}", "question": "q", "doc": "{doc}"}}\n' for i, lang, doc in rows),
        encoding="utf-8",
    )
    questions = read_golden(golden)
    assert [q.split for q in questions] == ["tune", "check", "tune", "tune", "tune"]
    assert [q.id for q in only_split(questions, "check")] == ["b"]
    assert len(only_split(questions, "all")) == 5


def _cited(text: str, language: str, quote: str, source: str):
    from assistant.types import Answer, AnswerMode, Citation

    citation = Citation(n=1, chunk_id="c", source=source, section="", page=1, quote=quote, start=0, end=len(quote))
    return Answer("q", language, text, True, AnswerMode.EXTRACTIVE, citations=(citation,))


def test_answer_language_ignores_the_quotes():
    quote = "You may charge any price or no price for each copy that you convey."
    assert answer_language_matches(_cited(f"GPL允许收费：{quote} [1]", "zh", quote, "gpl.txt"), "zh")
    assert not answer_language_matches(_cited(f"The GPL says: {quote} [1]", "en", quote, "gpl.txt"), "zh")
    assert answer_language_matches(_cited(f"The GPL says: {quote} [1]", "en", quote, "gpl.txt"), "en")


def test_right_document_counts_answers_citing_only_the_named_document(tmp_path):
    (tmp_path / "gpl.txt").write_text("You may charge any price.\n", encoding="utf-8")
    golden = tmp_path / "g.jsonl"
    golden.write_text(
        '{"id": "a", "lang": "en", "question": "q1", "evidence": ["price"], "answer_keywords": ["price"], "doc": "gpl.txt"}\n'
        '{"id": "b", "lang": "en", "question": "q2", "evidence": ["price"], "answer_keywords": ["price"], "doc": "gpl.txt"}\n',
        encoding="utf-8",
    )
    sources = iter(["gpl.txt", "other.txt"])
    quote = "You may charge any price."
    results = evaluate(read_golden(golden), lambda q, history=(): _cited(quote, "en", quote, next(sources)), QuoteChecker(tmp_path))
    assert results["all"]["right_document"] == 0.5
    assert results["tune-all"]["right_document"] == 1.0 and results["check-all"]["right_document"] == 0.0
