"""Question language: decides the framing language of answers and the weights of fusion."""

from __future__ import annotations

import re
from dataclasses import dataclass

CJK = "\u3400-\u9fff\uf900-\ufaff"
"""Han characters (CJK Unified Ideographs, Extension A, Compatibility Ideographs), for use inside a regex class."""
CJK_RE = re.compile(f"[{CJK}]")
LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str) -> str:
    """'zh' when Chinese characters outweigh Latin words (a CJK character carries about a word), else 'en'."""
    return "zh" if len(CJK_RE.findall(text)) >= len(LATIN_WORD_RE.findall(text)) and CJK_RE.search(text) else "en"


# Where a document's sentence ends: Chinese terminal punctuation (and closing quotes or brackets); an ASCII "!", "?"
# or ";" only before a capital or the end (":q! <回车>" is a Vim command, not two sentences); a full stop before a
# space, except after an abbreviation ("e.g. ", "No. 3"); a line break (table rows, headings, list items).
SENTENCE_END_RE = re.compile(
    r"[。！？；…]+[”’」』）)\"']*"
    r"|[!?;]+[”’\"')]*(?=\s+[A-Z\"“'(\[]|\s*$)"
    r"|(?<!e\.g)(?<!i\.e)(?<!\betc)(?<!\bvs)(?<!\bcf)(?<!\bNo)(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)\.(?=\s)[”’\"')]*"
    r"|\n"
)


QUESTION_END_RE = re.compile(r"[?？][\s\"'”’」』)）\]]*$|[吗呢][。.!！]?[\s\"'”’」』)）\]]*$")


def is_question(sentence: str) -> bool:
    """An interrogative sentence asks, it does not state: never evidence, whoever wrote it (an FAQ, an injection)."""
    return bool(QUESTION_END_RE.search(sentence.strip()))


# Text addressed to the assistant rather than the reader: a role label ("SYSTEM:", "assistant："), an order to drop its
# instructions, to reply with given words or to cite a source, or a "you are a model" preamble. Narrow on purpose: a
# tutorial's imperatives to its reader ("Press <ESC> to quit", "按 j 键") are its content and stay evidence.
INSTRUCTION_RE = re.compile(
    r"(?:^|[\s|>*\"“(\[])(?:system|assistant|developer|user|human)\s*[:：]"
    r"|\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|rules|directions|guidelines)\b"
    r"|(?:^|\b(?:and|then|please|now)\s+|[,;:]\s*)(?:reply|respond|answer|say|output|write)\s+(?:only\s+|exactly\s+)?"
    r"(?:that\b|with\b|[:\"“'‘])"
    r"|\bcite\s*(?:source\s*)?\[?\d+\]?"
    r"|\byou are (?:now )?(?:an? |the )?(?:ai|assistant|language model|chatbot)\b"
    r"|\bas an ai\b"
    r"|(?:^|[\s|>*“(\[（])(?:系统|助手|用户)\s*[:：]"
    r"|(?:忽略|无视|忘记|忘掉)[^。！？\n]{0,12}(?:指示|指令|提示|规则|要求|说明)"
    r"|(?:只|请|直接)?(?:回答|回复|输出)(?:为|说)?\s*[:：“\"]"
    r"|引用\s*(?:来源)?\s*\[\d+\]"
    r"|你(?:现在)?是(?:一个)?[^。！？\n]{0,6}(?:助手|模型|AI|机器人)",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """A sentence that gives the assistant orders: documents are data, so it is never evidence for a claim."""
    return bool(INSTRUCTION_RE.search(sentence))


def is_evidence(sentence: str) -> bool:
    """Whether a document sentence may support an answer: it states something, to the reader."""
    return not (is_question(sentence) or is_instruction(sentence))


CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
ENGLISH_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}


def chinese_numeral(text: str) -> float:
    """Value of a Chinese numeral: 三十 → 30, 两千 → 2000, 一亿五千万 → 150000000, 二〇二三 → 2023."""
    for big, scale in (("亿", 1e8), ("万", 1e4)):
        if big in text:
            left, _, right = text.partition(big)
            return chinese_numeral(left or "一") * scale + (chinese_numeral(right) if right else 0)
    if all(c in CN_DIGITS for c in text):
        return float("".join(str(CN_DIGITS[c]) for c in text))
    total, digit = 0, None
    for c in text:
        if c in CN_UNITS:
            total += (1 if digit is None else digit) * CN_UNITS[c]
            digit = None
        else:
            digit = CN_DIGITS[c]
    return float(total + (digit or 0))



def number_value(text: str) -> int | None:
    """A numeral in either language: "11", "十一", "eleven", "third" (roman numerals are not read: "I" is a word)."""
    if text.isdigit():
        return int(text)
    if text.isascii():
        return ENGLISH_NUMBERS.get(text.lower())
    return int(chinese_numeral(text)) if all(c in CN_NUMERAL for c in text) else None


# Section labels. A unit names the kind of part; each English unit word maps to the Chinese units it translates,
# so "section 9" finds "第9条" and "Lesson 2" finds "第二讲". A bare numbered heading ("9. Acceptance.") has no unit
# and answers to any.
UNITS = {
    "节": "节", "章": "章", "讲": "讲", "课": "讲", "条": "条", "款": "条", "部分": "部", "部": "部", "篇": "部",
    "section": "节", "chapter": "章", "lesson": "讲", "article": "条", "clause": "条", "part": "部",
}
# A numbered "section" of a legal text is its 条; "part N" is whatever a document numbers its parts by.
UNIT_ALIASES = {"节": {"节", "条"}, "条": {"条", "节"}, "部": {"部", "节", "章"}}
ENGLISH_NUMBER_WORD = "|".join(ENGLISH_NUMBERS)
NUMBER_IN_LIST_RE = re.compile(rf"\d{{1,3}}|{ENGLISH_NUMBER_WORD}", re.I)
SECTION_LABEL_RE = re.compile(
    rf"第\s*(?P<zh>[{CN_NUMERAL}\d]{{1,4}})\s*(?P<zh_unit>部分|[节章讲课条款部篇])"
    rf"|\b(?P<en_unit>sections?|chapters?|lessons?|articles?|clauses?|parts?)\s+"
    rf"(?P<en>(?:(?:\d{{1,3}}|{ENGLISH_NUMBER_WORD})\s*(?:,|and|&)\s*)*(?:\d{{1,3}}|{ENGLISH_NUMBER_WORD}))\b"
    rf"|\b(?P<ordinal>{ENGLISH_NUMBER_WORD})\s+(?P<en_unit2>section|chapter|lesson|article|clause|part)\b",
    re.I,
)
NUMBERED_HEADING_RE = re.compile(r"^\s*(?P<n>\d{1,3})(?:\.\d{1,3})*[.、)]?\s+\S")


@dataclass(frozen=True)
class SectionLabel:
    """A numbered part: its unit (节, 讲, 条 …; "" for a bare number) and its number."""

    unit: str
    number: int

    def answers(self, wanted: SectionLabel) -> bool:
        """Whether a heading with this label is the part a question names with ``wanted``."""
        if self.number != wanted.number:
            return False
        return not self.unit or not wanted.unit or self.unit in UNIT_ALIASES.get(wanted.unit, {wanted.unit})


def section_label_spans(text: str) -> list[tuple[int, int, SectionLabel]]:
    """Every numbered part named in ``text`` with where it is named ("第一讲第一节" → 讲 1, 节 1; "sections 2 and 3"
    → 节 2, 节 3, each at its own number)."""
    spans = []
    for match in SECTION_LABEL_RE.finditer(text):
        unit = (match.group("zh_unit") or match.group("en_unit") or match.group("en_unit2")).lower()
        unit = UNITS.get(unit.removesuffix("s") if unit.isascii() else unit, unit)
        if match.group("en"):  # a list: each number is a part of its own
            offset = match.start("en")
            numbers = [(offset + m.start(), offset + m.end(), m.group()) for m in NUMBER_IN_LIST_RE.finditer(match.group("en"))]
        else:
            numbers = [(match.start(), match.end(), match.group("zh") or match.group("ordinal"))]
        for start, end, raw in numbers:
            number = number_value(raw)
            if number is not None:
                spans.append((start if len(numbers) > 1 else match.start(), end if len(numbers) > 1 else match.end(),
                              SectionLabel(unit, number)))
    return spans


def section_labels(text: str) -> list[SectionLabel]:
    """The numbered parts named in ``text``, in order."""
    return [label for _, _, label in section_label_spans(text)]


def heading_labels(heading: str) -> list[SectionLabel]:
    """The labels a heading opens with: its unit labels, or the bare number of "11. Patents." (unit "")."""
    labels = section_labels(heading)
    if labels and SECTION_LABEL_RE.match(heading.strip()):
        return labels
    numbered = NUMBERED_HEADING_RE.match(heading)
    return [SectionLabel("", int(numbered.group("n")))] if numbered else []
