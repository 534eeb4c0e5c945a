"""The asked-for slot of a question: what the answer must state ("多少股份" asks for 股份, "how many employees" for employees).

A near-miss question names the report's entities and figures but asks for something the report
does not say ("What equity stake did Microsoft receive for its 100亿美元?"). Its quotes are about
the named entities, so similarity and name checks pass; only the slot itself is missing. The slot
is read from the question's shape alone (the words after how many / 多少 / what…did), never from
the whole question, so a paraphrase that shares few words with the passage is not affected.
Generic slot words (kind, way, 方式, 金额) say nothing the passage must repeat and are dropped.
"""

from __future__ import annotations

import re

from assistant.retrieval.crosslingual import english_to_chinese_terms, stem

EN_QUANTITY_RE = re.compile(
    r"\bhow (?:many|much)\s+(?P<a>[\w\s'-]+)"
    r"|\bwhat (?:percentage|share|proportion|fraction|number|amount) of\s+(?P<b>[\w\s'-]+)",
    re.I,
)
# "What equity stake did Microsoft receive": the noun phrase between the question word and its auxiliary.
EN_ATTRIBUTE_RE = re.compile(r"^\s*(?:what|which)\s+(?P<slot>[a-z][a-z\s-]*?)\s+(?:did|does|do|has|have|had|will|would|can)\b", re.I)
# "Where is Coreweave headquartered?", "Who was the founder of …": the words after the copula (names skipped).
EN_WHERE_WHO_RE = re.compile(r"^\s*(?:where|who)\s+(?:is|are|was|were)\s+(?P<slot>[\w\s'-]+)", re.I)
EN_STOP = frozenset(
    "do does did is are was were will would can could should has have had be been in on for to than per by at from "
    "according with as across when while if and or the a an its it their this that these those there "
    "make makes made get gets got take takes took go goes went come comes put puts give gives lose earn receive".split()
)
EN_GENERIC = frozenset(
    "kind kinds type types sort sorts way ways thing things part parts one ones example examples company companies firm firms "
    "year years time times number numbers amount amounts share shares percentage percent proportion fraction more less much "
    "many other others cheaper higher lower bigger larger smaller greater fewer roughly about approximately exactly "
    "dollar dollars money cash funding funds capital investment investments value worth size cost costs price prices "
    "people person two three four five six seven eight nine ten main key".split()
)
LATIN_WORD_RE = re.compile(r"[a-z'-]+")
ZH_AFTER_RE = re.compile(r"(?:多少|几)[个种项只家位次名条层类倍代节年月天张本款部]?(?P<slot>[\u4e00-\u9fff]{1,6})")
ZH_BEFORE_RE = re.compile(r"(?P<slot>[\u4e00-\u9fff]{1,8})(?:是|有|为|达到|达)多少")
ZH_WHERE_WHO_RE = re.compile(r"的(?P<slot>[\u4e00-\u9fff]{2,4}?)(?:位于|设在|在)哪|的(?P<who>[\u4e00-\u9fff]{2,4}?)是谁")
ZH_STOP = "的了是在和与及或对向把被将从到于后前时中之所能会要得着过吗呢"
ZH_GENERIC = (  # ways, kinds, amounts, units and money: they name no thing the passage must repeat
    "途径", "方式", "方法", "类型", "方面", "因素", "金额", "数额", "数量", "比例", "百分比",
    "美元", "人民币", "元", "资金", "钱", "资本", "投资额", "费用", "价格", "时间", "报告", "估计", "预计",
)


def _english_words(phrase: str) -> list[str]:
    """Content words of a noun phrase, up to the first verb-like stop word ("employees will lose" → employees)."""
    words: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z'-]*", phrase):
        lowered = word.lower()
        if lowered in EN_STOP:
            break
        if word[0].isupper() or lowered == "of":  # a name is checked by the anchor rules; "kinds of content" goes on
            continue
        words.append(lowered)
        if len(words) == 2:
            break
    return [w for w in words if w not in EN_GENERIC]


def _chinese_slot(run: str, *, before: bool) -> str:
    """The slot part of a run of Chinese characters next to 多少: cut at particles, generic words removed."""
    parts = [p for p in re.split(f"[{ZH_STOP}]", run) if p]
    if not parts:
        return ""
    slot = parts[-1] if before else parts[0]
    for generic in ZH_GENERIC:
        slot = slot.replace(generic, "")
    return slot if len(slot) >= 2 else ""


def asked_slot(question: str, language: str) -> list[str]:
    """The words naming what the question asks for; empty when its shape names nothing specific."""
    if language == "zh":
        slots = [_chinese_slot(m.group("slot"), before=False) for m in ZH_AFTER_RE.finditer(question)]
        slots += [_chinese_slot(m.group("slot"), before=True) for m in ZH_BEFORE_RE.finditer(question)]
        slots += [_chinese_slot(m.group("slot") or m.group("who"), before=True) for m in ZH_WHERE_WHO_RE.finditer(question)]
        return list(dict.fromkeys(s for s in slots if s))
    found: list[str] = []
    for match in EN_QUANTITY_RE.finditer(question):
        found += _english_words(match.group("a") or match.group("b"))
    for pattern in (EN_ATTRIBUTE_RE, EN_WHERE_WHO_RE):
        attribute = pattern.match(question)
        if attribute:
            found += _english_words(attribute.group("slot"))
    return list(dict.fromkeys(found))


def translations(word: str) -> list[str]:
    """Dictionary translations of an English slot word, of its plural's singular too ("employees" → 员工)."""
    terms = english_to_chinese_terms(word)
    if word.endswith("s"):
        terms += english_to_chinese_terms(word[:-1])
    return list(dict.fromkeys(terms))


def slot_forms(word: str) -> list[str]:
    """How a slot word may appear in the text: itself (lower-cased) and, for English, its dictionary translations.

    A Chinese slot is matched by its two-character words (员工失业 by 员工 or 失业), so a longer run
    cut from the question still meets a shorter phrase in the passage.
    """
    if LATIN_WORD_RE.fullmatch(word):
        return list(dict.fromkeys([word, stem(word), *translations(word)]))
    return [word[i : i + 2] for i in range(len(word) - 1)] if len(word) > 2 else [word]


def translatable(word: str) -> bool:
    """Whether a slot word can be looked for at all: Chinese, or English with a dictionary translation.

    An English word the dictionary lacks may still be paraphrased in the Chinese text; it proves nothing absent.
    """
    return not LATIN_WORD_RE.fullmatch(word) or bool(translations(word))


def mentions_slot(slot: list[str], lowered_text: str) -> bool:
    """Whether the text names any of the slot's words, in any of their forms."""
    return any(form in lowered_text for word in slot for form in slot_forms(word))


def absent_slot(slot: list[str], lowered_passages: str) -> bool:
    """The slot's words all have a known form and none occurs in the retrieved passages: the report does not say it."""
    looked_for = [word for word in slot if translatable(word)]
    return bool(looked_for) and not mentions_slot(looked_for, lowered_passages)
