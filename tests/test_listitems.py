"""A quoted list intro brings its items."""

from sentence_rows import lines_index

from assistant.answering.evidence.listitems import list_items, with_list_items


def test_a_quoted_list_intro_brings_its_items_up_to_the_first_line_that_is_no_item():
    index, hit, sentences = lines_index(
        ["经常采用的标准包括：", "易用性| 与现有系统集成。", "安全和隐私|符合数据安全标准。另有要求。", "透明度| 了解模型输出。", "相比之下，垂直应用案例不同。"]
    )
    intro = (0.9, sentences[0], hit)
    items = [s.text for _, s, _ in list_items(intro, [hit], index)]
    assert items == ["易用性| 与现有系统集成。", "安全和隐私|符合数据安全标准。", "透明度| 了解模型输出。"]
    assert [s.text for _, s, _ in with_list_items([intro], [hit], index)][:2] == ["经常采用的标准包括：", "易用性| 与现有系统集成。"]
    assert len(with_list_items([(0.9, sentences[1], hit)], [hit], index)) == 1  # not an intro: nothing added


def test_a_list_intro_without_item_lines_brings_the_one_line_that_completes_it_and_a_named_count_caps_items():
    index, hit, sentences = lines_index(["它由三层组成：", "基础设施、平台和应用程序。", "基础设施层最成熟。"])
    assert [s.text for _, s, _ in list_items((0.9, sentences[0], hit), [hit], index)] == ["基础设施、平台和应用程序。"]
    index, hit, sentences = lines_index(["有两个风险：", "成本| 很高。", "失业| 可能。", "偏见| 存在。"])
    assert [s.text for _, s, _ in list_items((0.9, sentences[0], hit), [hit], index)] == ["成本| 很高。", "失业| 可能。"]


def test_a_list_question_on_the_report_quotes_the_items_after_the_intro(report_assistant):
    answer = report_assistant.ask("参与生成式人工智能的各方应当管理哪些风险？")
    quotes = [c.quote for c in answer.citations]
    intro = next(i for i, q in enumerate(quotes) if q.endswith("以下风险："))
    assert quotes[intro + 1].startswith("信任侵蚀|") and any(q.startswith("偏见和歧视") for q in quotes[intro + 1 :])
