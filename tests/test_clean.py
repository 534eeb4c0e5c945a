"""Cleaning on real excerpts of the PDF-extracted report."""

from assistant.ingest.clean import (
    LAYOUTS,
    clean,
    text_layout,
    ends_sentence,
    join_wrapped,
)
from assistant.ingest.lines import is_noise

WRAPPED = "2022年是人工智能（AI）的一个分水岭，ChatGPT，DALL.E和\n\nLensa等几个面向消费者的应用程序发布了，它们的共同主题是\n\n使用生成式人工智能。\n"


def test_wrapped_cjk_lines_join_without_spaces():
    doc = clean(" 标题\n\n" + WRAPPED, "r.txt")
    assert "DALL.E和Lensa等几个面向消费者的应用程序发布了，它们的共同主题是使用生成式人工智能。" in doc.text


def test_latin_words_keep_a_space_across_a_wrap():
    assert join_wrapped("使得提示工程（prompt", "engineering）成为") == "使得提示工程（prompt engineering）成为"
    assert join_wrapped("模型的结构和设", "计，以及用于训") == "模型的结构和设计，以及用于训"
    assert join_wrapped("threatened by software patents.", "States should not") == "threatened by software patents. States should not"
    assert join_wrapped("copyright-", "like laws") == "copyright-like laws"  # a hyphen may break a word: no space


def test_running_header_and_bare_page_numbers_are_dropped():
    assert is_noise("22")
    assert not is_noise("2022年是人工智能的一个分水岭")
    raw = " 年度报告\n\n这是第一句话写满了一整行的宽度，\n\n22\n\n年度报告 | 第三节: 商机和竞争\n\n接着第二行。\n"
    doc = clean(raw, "r.txt")
    assert "这是第一句话写满了一整行的宽度，接着第二行。" in doc.text
    assert doc.seams == (doc.text.index("接着第二行"),)  # the sentence is not what the reader sees: never quoted


def test_repeated_title_line_is_a_running_header():
    raw = " 生成式AI对企业的影响和意义\n\n摘要\n\n正文第一句。\n\n生成式AI对企业的影响和意义\n\n正文第二句。\n"
    text = clean(raw, "r.txt").text
    assert text.count("生成式AI对企业的影响和意义") == 1
    assert "正文第二句。" in text


def test_pages_are_numbered_from_single_space_marks():
    raw = " 第一页标题\n\n第一页正文。\n\n 第二页开头的句子。\n\n  两个空格不是分页。\n"
    doc = clean(raw, "r.txt")
    assert doc.page_at(doc.text.index("第一页正文")) == 1
    assert doc.page_at(doc.text.index("第二页开头")) == 2
    assert doc.page_at(doc.text.index("两个空格")) == 2


def test_sections_and_their_titles_are_detected():
    raw = " 标题\n\n摘要\n\n摘要正文。\n\n 第一节\n\n解密生成式人工智能的\n\n魔法技巧\n\n人们对生成式人工智能寄予的高度期望，\n\n取决于硬件。\n"
    doc = clean(raw, "r.txt")
    sections = [h.section for h in doc.headings]
    assert sections == ["摘要", "第一节 解密生成式人工智能的魔法技巧"]
    assert doc.heading_at(doc.text.index("取决于硬件")).section == "第一节 解密生成式人工智能的魔法技巧"
    assert "人们对生成式人工智能寄予的高度期望，取决于硬件。" in doc.text


def test_subheading_is_detected_before_a_prose_line():
    raw = " 第二节\n\n正文结束。\n\n职业效用\n\n像写作助手这类能够为职场创造价值\n\n的产品。\n"
    doc = clean(raw, "r.txt")
    heading = doc.heading_at(doc.text.index("像写作助手"))
    assert heading.heading == "职业效用"


def test_figure_label_is_not_a_subheading():
    raw = " 第一节\n\n正文结束。\n\n基础模型的开发\n\n1 2 3 4\n"
    assert all(h.heading != "基础模型的开发" for h in clean(raw, "r.txt").headings)


def test_table_rows_stay_on_their_own_lines():
    raw = " 表\n\n开始。\n\n 供应商 描述 案例 主要客户 主要盈利模式\n企业 开发者 消费者 模式 计价方式\n闭源模型提供商\n"
    text = clean(raw, "r.txt").text
    assert "供应商 描述 案例 主要客户 主要盈利模式\n企业 开发者 消费者 模式 计价方式\n闭源模型提供商" in text


def test_vertical_labels_are_rejoined():
    raw = " 图\n\n开始。\n\n调\n整\n模\n型\n"
    assert "调整模型" in clean(raw, "r.txt").text


def test_list_items_with_bars_start_new_lines():
    raw = " 表\n\n分为四个大类：\n\n效率| 优化计划、研究和产品开发等任务\n\n指导| 提供个性化指导或学习内容\n"
    text = clean(raw, "r.txt").text
    assert "效率| 优化计划、研究和产品开发等任务\n指导| 提供个性化指导或学习内容" in text


def test_markdown_headings_become_sections_without_page_marks():
    doc = clean("# Title\n\nIntro line.\n\n## Costs\n\n A query can cost ten times more.\n", "notes.md")
    assert doc.heading_at(doc.text.index("A query")).section == "Costs"
    assert doc.page_at(doc.text.index("A query")) == 1


def test_sentence_end_detection_handles_closing_quotes():
    assert ends_sentence("将人工智能从“赋能者”提升为“协作者”。")
    assert ends_sentence("这是引用。”")
    assert not ends_sentence("它们的共同主题是")


def test_the_real_report_cleans_into_every_section(report_text):
    doc = clean(report_text, "genai-enterprise-report.zh.txt")
    sections = {h.section.split(" ")[0] for h in doc.headings}
    assert {"摘要", "第一节", "第二节", "第三节", "第四节"} <= sections
    assert doc.page_starts[-1][1] >= 20
    assert "Source: Deloitte" not in doc.text
    assert "微软对OpenAI的100亿美元投资" in doc.text


def test_a_section_title_claims_the_lines_of_its_page_that_the_pdf_order_put_before_it(report_text):
    doc = clean(report_text, "genai-enterprise-report.zh.txt")

    def section(text: str) -> str:
        return doc.heading_at(doc.text.index(text)).section.split(" ")[0]

    assert section("首先，基础设施层是生成式人工智能技术堆栈中最成熟的领域") == "第三节"  # its page opens with a side box
    assert section("然而，我们发现有两种主要的竞争者类型") == "第三节"
    assert section("这些应用象征着消费型应用程序的“寒武纪大爆发”") == "第二节"  # after a page number and a running header
    assert section("随着不同市场的监管行动变化") == "第二节"  # the page before the title's page keeps its section
    assert section("基础模型（Foundation Model）是区别生成式人工智能技术栈") == "第一节"
    assert section("2022年是人工智能（AI）的一个分水岭") == "摘要"
    # An unnumbered page title is a sub-heading by its shape: no code knows the report's "about" pages.
    assert doc.heading_at(doc.text.index("德勤人工智能研究院帮助企业")).heading == "关于德勤人工智能研究院"


def test_a_page_that_continues_a_line_or_holds_a_sub_heading_is_not_claimed_by_the_next_title():
    continued = " 标题\n\n摘要\n\n摘要正文的第一行写满了整整一行的宽度，\n\n 翻页后接着写完。\n\n第一节\n\n第一节正文。\n"
    doc = clean(continued, "r.txt")
    assert doc.heading_at(doc.text.index("摘要正文")).section == "摘要" == doc.heading_at(doc.text.index("翻页后")).section
    own_page = " 标题\n\n摘要\n\n摘要正文。\n\n 侧栏里的一句话。\n\n第一节\n\n第一节正文。\n"
    doc = clean(own_page, "r.txt")
    assert doc.heading_at(doc.text.index("侧栏")).section == "第一节" and doc.heading_at(doc.text.index("摘要正文")).section == "摘要"
    sub_heading = " 标题\n\n摘要\n\n摘要正文。\n\n 职业效用\n\n像写作助手这类能够为职场创造价值的产品更容易被采用。\n\n第一节\n\n第一节正文。\n"
    doc = clean(sub_heading, "r.txt")
    assert doc.heading_at(doc.text.index("像写作助手")).section == "摘要"


def test_form_feeds_number_pages_for_readers_and_default_layout_follows_the_suffix():
    raw = "# 第一章\n\n第一页的句子。\f\f第三页的句子。"
    doc = clean(raw, "scan.pdf")
    assert doc == clean(raw, "scan.pdf", layout=LAYOUTS["pdf"])
    assert doc.page_at(doc.text.index("第三页")) == 3  # an empty page still counts
    assert doc.heading_at(doc.text.index("第三页")).section == "第一章"
    plain = clean(raw, "scan.txt")  # plain text: form feeds number pages too
    assert plain.page_at(plain.text.index("第三页")) == 3


def test_a_text_files_layout_is_read_from_its_lines():
    assert text_layout(" 标题\n\n第一行没有写完，\n\n第二行。\n") == "text"  # a page mark opens it
    assert text_layout("第一行没有写完，\n\n第二行。\n\n第三行。\n") == "text"  # a blank line after every line
    assert text_layout("A paragraph that wraps\nonto a second line.\n\nAnother one\nhere.\n") == "plain"
    assert text_layout("") == "plain"


def test_plain_text_joins_wrapped_lines_and_finds_numbered_and_ruled_headings():
    raw = (
        "                 THE LICENSE\n\n  0. Definitions.\n\n  \"Work\" means a work\nof authorship.\n\n"
        "  1. Press x to delete.\n\n~~~~~~~~~~~~\n\t\t第一讲第二节：删除\n\n  1. 按 x 键删除。\n  2. 再按一次。\n"
    )
    doc = clean(raw, "doc.txt")
    assert '"Work" means a work of authorship.' in doc.text  # consecutive lines are one paragraph
    assert "1. 按 x 键删除。\n2. 再按一次。" in doc.text  # a list item starts its own line
    sections = [h.section for h in doc.headings]
    assert sections == ["THE LICENSE", "0. Definitions.", "第一讲第二节：删除"]  # "1. Press x to delete." is a step

def test_pdf_lines_rejoin_wrapped_english_but_a_full_stop_ends_the_line():
    raw = "Costs fall when models\n\nare distilled.\n\nGovernance comes first.\fIt scales\n\nlater."
    doc = clean(raw, "a.pdf")
    assert doc.text == "Costs fall when models are distilled.\nGovernance comes first.\nIt scales later."
    assert doc.page_at(doc.text.index("It scales")) == 2


def test_sub_heading_lasts_across_pages_unless_the_report_layout_ends_it():
    raw = "# Section\n\n### Detail\n\nFirst page text.\fSecond page text."
    doc = clean(raw, "a.pdf")
    assert doc.heading_at(doc.text.index("Second page")).heading == "Detail"
    report = clean(" 第二节\n\n正文结束。\n\n职业效用\n\n像写作助手这类能够为职场创造价值\n\n的产品。\n\n 下一页的句子。\n", "r.txt")
    assert report.heading_at(report.text.index("像写作助手")).heading == "职业效用"
    assert report.heading_at(report.text.index("下一页")).heading == ""


def test_consecutive_lines_are_separate_paragraphs_and_blank_separated_ones_may_be_wraps():
    raw = "# Overview\nKey points\nRevenue grew\nCosts fell."
    assert clean(raw, "a.docx").text == "Overview\nKey points\nRevenue grew\nCosts fell."
    assert clean(raw.replace("\n", "\n\n"), "a.html").text == "Overview\nKey points Revenue grew Costs fell."


# Real excerpts of the report's tables, as extracted (blank lines and tight lines as in the .txt).
VENDOR_TABLE = (
    " 基础设施层\n\n供应商 描述 案例 主要客户 主要盈利模式\n\n企业 开发者 消费者 模式 计价方式\n\n"
    "芯片供应商\n专用的芯片半导体，包括\nGPU和CPU\n\nAMD \nNVIDIA \n\n是 否 否 一次性租赁 每个组件\n"
    "虽然云服务提供商（CSP）提供抽象化的服务，\n\n但在基础设施中还有另一个快速发展的关键\n\n层次：芯片。\n"
)
USE_CASE_MATRIX = (
    " 垂直与横向的企业用例示例\n\n垂\n直\n消费与零售 生命科学与医疗 银行与金融服务 科技\n\n个性化对话式\n零售体验\n• •\n\n"
    "学术领域的全天\n候虚拟助理\n\n• • • •\n\n 对于这些应用案例，基础模型可能需要\n\n进行微调，甚至需要新的专用模型。\n"
)
BENEFITS_TABLE = (
    " 收益 加速 个性化 自动化 创作 模拟\n\n财\n务\n\n拓展市场 ● ●\n产生收入 ● ●\n\n减少投入 ● ● ● ●\n促进创新 ● ● ● ●\n\n"
    "Source: Deloitte\n\n 考虑到这一点，对于那些对生成式人工智能有商\n\n业兴趣的企业，我们认为有五个“无悔”的行动\n\n可以开始考虑。\n"
)


def table_lines(doc) -> list[str]:
    return [line for a, b in doc.tables for line in doc.text[a:b].split("\n")]


def test_vendor_table_rows_stay_apart_from_the_prose_after_them():
    doc = clean(VENDOR_TABLE, "r.txt")
    rows = table_lines(doc)
    assert "供应商 描述 案例 主要客户 主要盈利模式" in rows
    assert "芯片供应商 专用的芯片半导体，包括 GPU和CPU" in rows
    assert "是 否 否 一次性租赁 每个组件" in rows
    assert "虽然云服务提供商（CSP）提供抽象化的服务，但在基础设施中还有另一个快速发展的关键层次：芯片。" in doc.text.split("\n")


def test_use_case_matrix_cells_and_bullets_are_table_rows():
    doc = clean(USE_CASE_MATRIX, "r.txt")
    rows = table_lines(doc)
    assert "垂直" in rows and "• •" in rows
    assert "学术领域的全天 候虚拟助理" in rows
    assert "对于这些应用案例，基础模型可能需要进行微调，甚至需要新的专用模型。" in doc.text.split("\n")


def test_bullet_matrix_never_glues_onto_the_next_sentence():
    doc = clean(BENEFITS_TABLE, "r.txt")
    assert "促进创新 ● ● ● ●" in table_lines(doc)
    assert "考虑到这一点，对于那些对生成式人工智能有商业兴趣的企业，我们认为有五个“无悔”的行动可以开始考虑。" in doc.text.split("\n")
    assert not any("●考虑到" in line for line in doc.text.split("\n"))


def micro_market_excerpt(report_text: str) -> str:
    """The report's micro-market figure (use cases by capability, model names), its caption and the prose after it."""
    start = report_text.index("自动化 创造 模拟\n\n应\n用")
    end = report_text.index("微市场创新，从而保持其相关性。") + len("微市场创新，从而保持其相关性。\n")
    return " " + report_text[start:end]


def test_micro_market_table_rows_stay_rows_and_the_prose_after_the_caption_stays_whole(report_text):
    doc = clean(micro_market_excerpt(report_text), "r.txt")
    rows = table_lines(doc)
    assert "自动化 创造 模拟" in rows and "应用" in rows  # the vertical label 应/用 rejoined
    assert "OpenAI GPT-3 Facebook OPT GATO Microsoft X-CLIP" in rows and "BigScience BLOOM OpenAI Codex Tabnine" in rows
    assert "广告视频编辑 基于自然语言处理（NLP） 的电子邮件/应用程序响应" in rows
    lines = doc.text.split("\n")
    assert "企业微市场抽样" in lines  # the caption on a line of its own, never glued to the sentence after it
    prose = "这可能对模型和基础设施层产生影响。低层次的供应商可以通过创建定制基础设施、模型和服务来推动微市场创新，从而保持其相关性。"
    assert prose in lines and not any(prose in a_row for a_row in rows)

