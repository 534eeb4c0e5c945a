"""Citation verification: marker parsing, figures across units, and alignment with the real E5 embeddings."""

from __future__ import annotations

import pytest

from assistant.answering.verify.markers import (
    parse_markers,
    split_answer_sentences,
    strip_markers,
)
from assistant.answering.verify.quantities import (
    chinese_numeral,
    quantities,
    unmatched_quantities,
)
from assistant.answering.verify.support import Similarity, embedding_similarity
from assistant.answering.verify.verifier import VerifiedAnswer, verify
from assistant.indexing.embed import make_embedder
from assistant.ingest.chunk import chunk_document, chunk_sentences
from assistant.settings import EmbedSettings
from assistant.types import Chunk, CleanDocument, Heading, Reason, Sentence

MIN_SUPPORT = (
    0.07  # see the calibration note in the report; every case below clears it by a margin or misses it clearly
)

# Paragraphs copied from corpus/genai-enterprise-report.zh.txt (cleaned form), with their sections and pages.
REPORT_EXCERPTS = [
    (
        "摘要",
        1,
        (
            "生成式人工智能已经引起了传统风险投资、并购等方面以及新兴生态系统合作伙伴关系的兴趣。"
            "仅在2022年，风险投资公司就投资了超过20亿美元，而技术领先企业也进行了重大投资，"
            "例如微软对OpenAI的100亿美元投资和谷歌对Anthropic的3亿美元投资。这显示出生成式人工智能作为一个新兴领域的巨大潜力。"
        ),
    ),
    (
        "摘要",
        2,
        (
            "生成式人工智能可能会创造出一种更为深刻的人机关系，甚至比云计算、智能手机和互联网所带来的影响还要大。"
            "分析师估计，到2032年，生成式人工智能市场规模将达到2,000亿美元，占据人工智能支出总额的约20%，比目前的5%高出许多。"
            "换言之，未来十年市场规模可能每两年就会翻一番。"
        ),
    ),
    (
        "第一节",
        3,
        (
            "生成式人工智能背后的技术栈在某些方面与之前的技术栈类似，它由三层组成：基础设施、平台和应用程序。"
            "基础设施层通常被认为是最成熟、稳定和商业化的。"
            "现有的龙头企业提供计算、网络和存储等基础设施，包括使用专门为人工智能工作负载优化的芯片（如NVIDIA的GPU和Google的TPU）。"
        ),
    ),
    (
        "第四节",
        18,
        (
            "类似地，生成式人工智能可以优化端到端的客户采集漏斗。"
            "如果你是销售和市场营销人员，可以考虑需求生成，其中语言模型可以撰写跨渠道的营销文案并运营数字营销活动。"
            "Gartner估计，到2025年，30%的外向型营销将由人工合成生成。"
        ),
    ),
    (
        "第四节",
        19,
        (
            "以软件开发为例。据估计，不到1%的人知道如何编写代码。然而，软件对于许多企业和商业模式来说至关重要。"
            "最后，生成式人工智能可以主动建议定价和折扣，撰写合同，更新客户和CRM记录。"
        ),
    ),
]
MICROSOFT, MARKET, STACK, GARTNER, CODING = range(1, 6)  # source numbers in the prompt order


@pytest.fixture(scope="module")
def report() -> tuple[list[Chunk], dict[str, list[Sentence]]]:
    """The excerpts as a cleaned document, chunked and split by the real pipeline: one source per paragraph."""
    text, headings, pages = "", [], []
    for section, page, body in REPORT_EXCERPTS:
        headings.append(Heading(len(text), section))
        pages.append((len(text), page))
        text += f"{section}\n{body}\n"
    doc = CleanDocument("genai-enterprise-report.zh.txt", text, tuple(pages), tuple(headings))
    chunks = chunk_document(doc)
    assert len(chunks) == len(REPORT_EXCERPTS)
    return chunks, {c.id: chunk_sentences(doc, c) for c in chunks}


@pytest.fixture(scope="module")
def similarity() -> Similarity:
    return embedding_similarity(make_embedder(EmbedSettings()))


@pytest.fixture(scope="module")
def check(report, similarity):
    chunks, sentences = report

    def run(answer: str) -> VerifiedAnswer:
        result = verify(answer, chunks, sentences, similarity, min_support=MIN_SUPPORT)
        by_id = {c.id: c for c in chunks}
        for citation in result.citations:  # every quote is verbatim, at its offsets, inside the cited chunk
            chunk = by_id[citation.chunk_id]
            assert chunk.text[citation.start - chunk.start : citation.end - chunk.start] == citation.quote
            assert citation.section == chunk.section_path and citation.source == chunk.doc_id
        assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
        return result

    return run


# --- markers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("达到2,000亿美元[1]。", [(1,)]),
        ("reach $200 billion [1, 2].", [(1, 2)]),
        ("reach $200 billion [1,2].", [(1, 2)]),
        ("reach $200 billion [1][2].", [(1,), (2,)]),
        ("达到2,000亿美元【1】。", [(1,)]),
        ("达到2,000亿美元【1，2】。", [(1, 2)]),
        ("达到2,000亿美元【1、3】。", [(1, 3)]),
        ("reach $200 billion[^1].", [(1,)]),
        ("达到2,000亿美元［1］。", [(1,)]),
        ("达到2,000亿美元［１］。", [(1,)]),
        ("达到2,000亿美元［１，２］。", [(1, 2)]),
        ("as sources [1-3] say", [(1, 2, 3)]),
        ("repeated [2, 2] and again [2]", [(2,), (2,)]),
        ("[0] and [12]", [(0,), (12,)]),
        ("not markers: [a], [1a], [], [2023], 【二】", []),
    ],
)
def test_parse_markers(text: str, numbers: list[tuple[int, ...]]) -> None:
    markers = parse_markers(text)
    assert [m.numbers for m in markers] == numbers
    for marker in markers:
        assert text[marker.start] in "[［【" and text[marker.end - 1] in "]］】"


def test_strip_markers_removes_markers_and_the_space_before_them() -> None:
    assert strip_markers("reach $200 billion [1, 2] by 2032 [3].") == "reach $200 billion by 2032."
    assert strip_markers("达到2,000亿美元【1】［２］。[2023]") == "达到2,000亿美元。[2023]"


@pytest.mark.parametrize(
    "text, sentences",
    [
        (
            "市场规模将达到2,000亿美元[1]。微软投资了100亿美元【2】！",
            ["市场规模将达到2,000亿美元[1]。", "微软投资了100亿美元【2】！"],
        ),
        ("It will reach $2.5 billion. Then it grows [1].", ["It will reach $2.5 billion.", "Then it grows [1]."]),
        ("The market grows.[1] [2] Next one.", ["The market grows.[1] [2]", "Next one."]),
        ("Paid in U.S. dollars, e.g. by Microsoft. Done.", ["Paid in U.S. dollars, e.g. by Microsoft.", "Done."]),
        ("1. First point [1].\n2. Second point", ["1. First point [1].", "2. Second point"]),
        (
            "根据报告：\n- 基础设施层最成熟\n- 应用层发展迅速[2]",
            ["根据报告：", "- 基础设施层最成熟", "- 应用层发展迅速[2]"],
        ),
        ("Gartner估计。\n[3]", ["Gartner估计。\n[3]"]),
        ("By 2032. Then more", ["By 2032.", "Then more"]),
        ("  ", []),
    ],
)
def test_split_answer_sentences(text: str, sentences: list[str]) -> None:
    assert [text[a:b] for a, b in split_answer_sentences(text)] == sentences


# --- figures -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "numeral, value",
    [
        ("三", 3),
        ("十", 10),
        ("十五", 15),
        ("三十", 30),
        ("两千", 2000),
        ("一百零五", 105),
        ("二〇二三", 2023),
        ("一亿五千万", 1.5e8),
    ],
)
def test_chinese_numerals(numeral: str, value: float) -> None:
    assert chinese_numeral(numeral) == value


@pytest.mark.parametrize(
    "claim, source",
    [
        ("200 billion US dollars", "2,000亿美元"),
        ("$200 billion", "市场规模将达到2,000亿美元"),
        ("$200bn", "2,000亿美元"),
        ("0.2 trillion dollars", "2,000亿美元"),
        ("两千亿美元", "2,000亿美元"),
        ("10 billion dollars", "微软对OpenAI的100亿美元投资"),
        ("300 million dollars", "谷歌对Anthropic的3亿美元投资"),
        ("30%", "百分之三十的外向型营销"),
        ("百分之三十", "30%的外向型营销"),
        ("30 percent", "30％的外向型营销"),
        ("10%", "超过10％的数据"),
        ("15,000", "1.5万"),
        ("by 2025", "到2025年"),
        ("three layers, 3 of them", "由三层组成"),
        ("10 times", "成本高出十倍"),
    ],
)
def test_figures_match_across_units_and_languages(claim: str, source: str) -> None:
    assert quantities(claim)
    assert unmatched_quantities(claim, source) == []


@pytest.mark.parametrize(
    "claim, source",
    [
        ("$2,000 billion", "2,000亿美元"),
        ("2,000 billion US dollars", "2,000亿美元"),
        ("20 billion dollars", "2,000亿美元"),
        ("40%", "30%的外向型营销"),
        ("30", "30%的外向型营销"),
        ("by 2030", "到2032年"),
        ("in 2,023", "2023年"),
        ("百分之二十", "30%"),
    ],
)
def test_wrong_figures_are_unmatched(claim: str, source: str) -> None:
    assert len(unmatched_quantities(claim, source)) == 1


def test_years_are_only_equal_to_the_same_year() -> None:
    assert [q.kind for q in quantities("到2032年，2,000亿美元，约20%")] == ["year", "amount", "percent"]


# --- verification with real embeddings -----------------------------------------------------------------


def test_english_sentence_is_verified_against_its_chinese_source(check) -> None:
    result = check(f"Analysts estimate the generative AI market will reach 200 billion US dollars by 2032 [{MARKET}].")
    assert result.text == "Analysts estimate the generative AI market will reach 200 billion US dollars by 2032 [1]."
    (sentence,) = result.sentences
    assert sentence.verified and sentence.reason is Reason.SUPPORTED and sentence.support >= MIN_SUPPORT
    (citation,) = result.citations
    assert "2,000亿美元" in citation.quote and citation.quote.startswith("分析师估计")
    assert citation.page == 2 and citation.verified
    assert result.verified_share == 1.0


@pytest.mark.parametrize(
    "answer",
    [
        f"Analysts estimate the generative AI market will reach $2,000 billion by 2032 [{MARKET}].",
        f"Analysts estimate the generative AI market will reach 200 billion US dollars by 2030 [{MARKET}].",
        f"Gartner expects 40% of outbound marketing to be synthetically generated by 2025 [{GARTNER}].",
    ],
)
def test_wrong_figure_is_flagged_although_the_sentence_matches(check, answer: str) -> None:
    result = check(answer)
    (sentence,) = result.sentences
    assert not sentence.verified and sentence.reason is Reason.NUMBER_MISMATCH
    assert sentence.support >= MIN_SUPPORT  # the right source was found; only the figure is wrong
    assert [c.verified for c in result.citations] == [False]
    assert result.verified_share == 0.0


@pytest.mark.parametrize(
    "answer",
    [
        f"Gartner估计，到2025年，百分之三十的外向型营销将由人工合成生成[{GARTNER}]。",
        f"Gartner expects 30 percent of outbound marketing to be synthetically generated by 2025 [{GARTNER}].",
    ],
)
def test_percent_in_words_matches_the_percent_sign(check, answer: str) -> None:
    result = check(answer)
    assert result.sentences[0].reason is Reason.SUPPORTED
    assert "30%的外向型营销" in result.citations[0].quote


def test_invented_sentence_is_flagged(check) -> None:
    result = check(f"The report says the company headquarters are located in Paris [{MICROSOFT}].")
    (sentence,) = result.sentences
    assert not sentence.verified and sentence.reason is Reason.WEAK_SUPPORT and sentence.support < MIN_SUPPORT
    assert [c.verified for c in result.citations] == [False]


@pytest.mark.parametrize(
    "answer",
    [f"微软对OpenAI投资了100亿美元[{MARKET}]。", f"Microsoft invested 10 billion US dollars in OpenAI [{MARKET}]."],
)
def test_a_claim_cited_to_the_wrong_source_is_recited_to_the_one_that_supports_it(check, answer: str) -> None:
    result = check(answer)
    (sentence,) = result.sentences
    assert sentence.reason is Reason.RECITED and sentence.verified and sentence.citations == (1,)
    assert "100亿美元" in result.citations[0].quote and result.citations[0].verified
    assert result.text.count("[1]") == 1 and "[2]" not in result.text


def test_a_wrong_citation_is_not_recited_when_no_source_supports_the_claim(check) -> None:
    result = check(f"Microsoft invested 20 billion US dollars in OpenAI [{MARKET}].")
    assert not result.sentences[0].verified and result.sentences[0].reason is not Reason.RECITED


def test_uncited_sentences_get_the_best_source_attached_or_are_flagged(check) -> None:
    result = check("微软对OpenAI投资了100亿美元。The company headquarters are located in Paris.")
    supported, invented = result.sentences
    assert supported.reason is Reason.AUTO_ATTACHED and supported.verified and supported.citations == (1,)
    assert invented.reason is Reason.UNSUPPORTED and not invented.verified and invented.citations == ()
    assert result.text == "微软对OpenAI投资了100亿美元[1]。The company headquarters are located in Paris."
    assert "100亿美元" in result.citations[0].quote
    assert (result.claims, result.verified, result.unverified, result.verified_share) == (2, 1, 1, 0.5)


def test_markers_are_renumbered_in_order_of_first_use(check) -> None:
    answer = (
        f"Gartner expects 30% of outbound marketing to be synthetic by 2025【{GARTNER}】. "
        f"Fewer than 1% of people know how to write code［{CODING}］. "
        f"By 2025, 30% of outbound marketing will be synthetically generated [{GARTNER}, {GARTNER}]."
    )
    result = check(answer)
    assert result.text == (
        "Gartner expects 30% of outbound marketing to be synthetic by 2025 [1]. "
        "Fewer than 1% of people know how to write code [2]. "
        "By 2025, 30% of outbound marketing will be synthetically generated [1]."
    )
    assert [s.citations for s in result.sentences] == [(1,), (2,), (1,)]
    assert len(result.citations) == 2  # one citation per distinct quote
    assert "Gartner" in result.citations[0].quote and "1%" in result.citations[1].quote


def test_markers_to_sources_not_given_are_dropped_and_counted(check) -> None:
    result = check(
        f"The technology stack has three layers: infrastructure, platforms and applications [{STACK}][7][0]."
    )
    assert result.dropped_markers == 2
    assert result.text == "The technology stack has three layers: infrastructure, platforms and applications [1]."
    assert result.sentences[0].verified


def test_bracketed_year_is_text_not_a_marker(check) -> None:
    stated = check(f"微软对OpenAI投资了100亿美元[{MICROSOFT}][2022]。")
    assert stated.dropped_markers == 0 and stated.text == "微软对OpenAI投资了100亿美元[1][2022]。"
    assert stated.sentences[0].reason is Reason.SUPPORTED  # the cited source says 2022年
    invented = check(f"微软对OpenAI投资了100亿美元[{MICROSOFT}][2024]。")
    assert invented.sentences[0].reason is Reason.NUMBER_MISMATCH


def test_each_marked_part_of_a_sentence_needs_its_own_support(check) -> None:
    both = check(
        f"Microsoft invested 10 billion US dollars in OpenAI [{MICROSOFT}], "
        f"and the generative AI market may reach 200 billion US dollars by 2032 [{MARKET}]."
    )
    assert both.sentences[0].reason is Reason.SUPPORTED and both.sentences[0].citations == (1, 2)
    assert both.text.count("[1]") == both.text.count("[2]") == 1
    half = check(
        f"Microsoft invested 10 billion US dollars in OpenAI [{MICROSOFT}], "
        f"and the company headquarters are located in Paris [{MARKET}]."
    )
    assert half.sentences[0].reason is Reason.WEAK_SUPPORT


def test_framing_and_markers_before_the_claim(check) -> None:
    result = check(f"根据报告：\n- 据[{CODING}]，不到1%的人知道如何编写代码[{CODING}]。")
    framing, claim = result.sentences
    assert framing.reason is Reason.FRAMING and framing.is_claim is False
    assert claim.reason is Reason.SUPPORTED
    assert result.text == "根据报告：\n- 据[1]，不到1%的人知道如何编写代码。"
    assert result.claims == 1 and result.verified_share == 1.0


def test_a_bare_figure_is_a_claim(check) -> None:
    result = check(f"30% [{GARTNER}][18]")  # small models answer this tersely and cite page numbers
    assert result.text == "30% [1]" and result.dropped_markers == 1
    assert result.sentences[0].reason is Reason.SUPPORTED and "30%" in result.citations[0].quote


def test_answer_without_claims(check) -> None:
    result = check("According to the report:")
    assert result.claims == 0 and result.citations == () and result.verified_share == 0.0


def test_to_dict_is_json_ready(check) -> None:
    data = check(f"微软对OpenAI投资了100亿美元[{MICROSOFT}]。").to_dict()
    assert data["verified_share"] == 1.0 and data["dropped_markers"] == 0
    assert data["sentences"][0]["reason"] == "supported" and data["citations"][0]["verified"] is True


def test_a_closing_label_with_only_markers_after_it_is_framing_and_dropped(check) -> None:
    result = check(f"微软对OpenAI的投资金额是100亿美元[{MICROSOFT}]。来源编号：[{MICROSOFT}]")  # the 1.5B echoes the prompt's cue
    claim, label = result.sentences
    assert claim.reason is Reason.SUPPORTED and label.reason is Reason.FRAMING
    assert result.text == "微软对OpenAI的投资金额是100亿美元[1]。" and result.verified_share == 1.0


def test_a_claim_of_zero_needs_a_source_that_says_so():
    assert unmatched_quantities("Microsoft invested nothing in OpenAI.", "微软对OpenAI的100亿美元投资")
    assert unmatched_quantities("微软对OpenAI的投资为零。", "微软对OpenAI的100亿美元投资")
    assert not unmatched_quantities("The program comes with no warranty: it costs nothing.", "There is no warranty for the program.")
    assert not unmatched_quantities("零售业的投资增长。", "零售业投资增长了")  # 零售 is retail, not zero


def test_punctuation_inside_a_url_or_code_span_ends_no_sentence():
    text = "See https://x.example/a?b=1&c!d for details. Run `:q!` now! Done."
    assert [text[a:b] for a, b in split_answer_sentences(text)] == [
        "See https://x.example/a?b=1&c!d for details.", "Run `:q!` now!", "Done."
    ]
