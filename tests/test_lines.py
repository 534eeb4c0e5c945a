"""Scanning the report's extracted lines: noise dropped, pages and page starts remembered."""

from assistant.ingest.lines import captions, is_running_header, scan_lines, strip_captions, unframed


def test_a_recurring_label_value_line_is_a_caption_cut_wherever_it_stands():
    raw = "图一\nSource: Acme\n正文。\nSource: Acme\n过程要素：Source: Acme\nSource: Acme\n注：仅一次\n"
    found = captions(raw)
    assert found == ("Source: Acme",)  # "注：仅一次" occurs once: content
    assert strip_captions("过程要素：Source: Acme", found) == "过程要素："
    assert strip_captions("Source: Acme", found) == ""


def test_running_headers_repeat_the_title():
    assert is_running_header("年度报告 | 第二节: 应用", "年度报告")
    assert is_running_header("年度报告", "年度报告")
    assert not is_running_header("年度报告显示增长。", "年度报告")


def test_rule_lines_are_dropped_and_mark_the_next_line_and_frames_are_removed():
    lines = scan_lines("=  The Tutor  =\n\ntext one.\n~~~~~~~~~~\n\t\t\tLesson 1\nmore.\n", page_marks=False)
    assert [(line.text, line.after_rule) for line in lines] == [
        ("The Tutor", False), ("text one.", False), ("Lesson 1", True), ("more.", False)
    ]
    assert lines[2].indent == 24
    assert unframed("| a | b |") == "| a | b |"  # a Markdown table row keeps its cells


def test_a_page_opens_at_a_page_mark_and_after_a_removed_page_number_or_running_header_but_not_after_a_link():
    raw = (
        " 标题\n\n正文一。\n\n8\n\n标题 | 第二节: 应用案例\n\n正文二。\n\n"
        "https://example.com/a\n\n正文三。\n\n 正文四。\n"
    )
    lines = scan_lines(raw, page_marks=True)
    assert [(line.text, line.page_break) for line in lines] == [
        ("标题", True),
        ("正文一。", False),
        ("正文二。", True),
        ("正文三。", False),
        ("正文四。", True),
    ]
    assert [line.page for line in lines] == [1, 1, 1, 1, 2]
