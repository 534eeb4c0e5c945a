"""Scanning the report's extracted lines: noise dropped, pages and page starts remembered."""

from assistant.ingest.lines import scan_lines, strip_captions


def test_source_captions_are_removed():
    assert strip_captions("过程要素：Source: Deloitte") == "过程要素："
    assert strip_captions("Source: Deloitte") == ""


def test_a_page_opens_at_a_page_mark_and_after_a_removed_page_number_or_running_header_but_not_after_a_link():
    raw = (
        " 标题\n\n正文一。\n\n8\n\n生成式AI对企业的影响和意义 | 第二节: 应用案例\n\n正文二。\n\n"
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
