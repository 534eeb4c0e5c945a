"""Follow-up questions without a model: carry the previous question's key terms into an elliptical one.

"那第二个呢？" or "and in 2025?" retrieve nothing useful as typed. Three shapes are
resolved against the previous turn: a new entity alone ("And Google?", "那谷歌呢？")
keeps the previous question's predicate with the entity swapped ("How much did Google
invest?"); an ordinal ("the second one", "第二个") names an item of the previous answer;
a pronoun ("it", "它") stands for the previous question's subject. Any other short or
referring question gets the previous question's content words appended. LLM mode
rewrites follow-ups with a condense prompt instead (see prompts.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.indexing.lexical import tokenize
from assistant.language import CJK, detect_language, is_question
from assistant.types import Turn

QUESTION_CHARS = 300  # of an earlier question, the most a follow-up is read against: its topic, not the whole essay
ASKED_RE = re.compile(r"[^。！？!?]+[。！？!?]*")
ANSWER_CHARS = 1000  # of an earlier answer (its listed items answer "the second one")
ELLIPTICAL_ZH = re.compile(r"^(那|那么|还有|另外|此外|而|和|以及)|[它其这那]些?(个|种|项|家)?[呢的]|第[一二三四五六七八九十\d]+[个种项点条家]|前者|后者|上述|呢[？?]?$")
ELLIPTICAL_EN = re.compile(
    r"^(and|or|but|what about|how about|also|then)\b|\b(it|its|they|them|their|this|that|these|those|the (first|second|third|last|former|latter)( one)?)\b",
    re.I,
)
ENTITY_ONLY_EN = re.compile(
    r"^(?i:and|or|what about|how about|and what about)\s+(?i:for\s+|about\s+)?(?P<entity>[A-Z][\w.&'-]*(?:\s+[A-Z][\w.&'-]*){0,2})\s*[?？.]*$"
)
ENTITY_ONLY_ZH = re.compile(rf"^(?:那|那么|还有|而|那么对于|对于)?(?P<entity>[A-Za-z0-9.\-{CJK}]{{1,12}}?)(?:呢|怎么样|又如何|如何)[？?]?$")
NAME_EN = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][A-Za-z0-9.&-]*[A-Za-z0-9]\b")
OBJECT_EN = r"\s+(?:in|into|on|for|with|from|to|by)\s+{name}\b"
SUBJECT_ZH = re.compile(rf"^(?P<subject>[A-Za-z0-9{CJK}]{{2,8}}?)(?=对|在|把|给|向|与|的|是|有|将|会|如何|为什么)")
ACTOR_ZH = re.compile(rf"^(?P<subject>[A-Za-z0-9{CJK}]{{2,8}}?)(?=对|向|给)")  # "微软对OpenAI的投资": an actor acting on something
OBJECT_ZH = re.compile(rf"对[A-Za-z0-9.{CJK}]{{1,12}}?(?=的)")
ORDINAL_RE = re.compile(
    r"第\s*(?P<zh>[一二三四五六七八九十]|\d{1,2})\s*[个种项点条家类]|\bthe\s+(?P<en>first|second|third|fourth|fifth|last)\b", re.I
)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
PRONOUN_EN = re.compile(r"\b(it|its)\b", re.I)
PRONOUN_ZH = re.compile(r"它们?|(?<!尤)其(?![他它次中余实])")
QUOTED_ITEM_RE = re.compile(r"“(.+?)” \[\d+\]", re.S)
SHORT = {"zh": 8, "en": 4}  # content length below which a question cannot stand alone (characters / words)
QUESTION_WORDS = frozenset("what which who whom whose when where why how much many 哪些 什么 多少 如何 为什么 是否 谁".split())
# How a question refers to the report or hedges ("does the report say", "can … more than"), not what it is about:
# carried into a follow-up they pull in passages about saying and comparing.
FRAME_WORDS = frozenset("say says said mention mentions mentioned describe describes according can could will would should may might more than also".split())


def is_elliptical(question: str, language: str) -> bool:
    text = question.strip()
    if language == "zh":
        core = re.sub(f"[^{CJK}A-Za-z0-9]", "", text)
        return bool(ELLIPTICAL_ZH.search(text)) or len(core) <= SHORT["zh"]
    return bool(ELLIPTICAL_EN.search(text)) or len(re.findall(r"[A-Za-z0-9]+", text)) <= SHORT["en"]


def key_terms(question: str) -> list[str]:
    """Content words of a question, in order, without duplicates or question words."""
    return list(dict.fromkeys(t for t in tokenize(question, stemmed=False) if t not in QUESTION_WORDS | FRAME_WORDS and len(t) > 1))


def recent_turns(history: Sequence[Turn], turns: int) -> list[Turn]:
    """The newest ``turns`` turns, each question and answer cut short: a follow-up needs the topic, and a client's
    20 turns of 20,000 characters then cost what a normal conversation does."""
    return [(asked(q)[:QUESTION_CHARS], a[:ANSWER_CHARS]) for q, a in (history[-turns:] if turns else ())]


def asked(question: str) -> str:
    """What a turn asked: its interrogative sentences when it also told things ("I read part 3. What does it cost?")."""
    sentences = [s.strip() for s in ASKED_RE.findall(question)]
    return " ".join(s for s in sentences if is_question(s)) or question


def condense_offline(question: str, history: Sequence[Turn]) -> str:
    """The question to retrieve with: unchanged when it stands alone, else resolved against the previous turn."""
    if not history:
        return question
    previous = condense_offline(history[-1][0], history[:-1])
    if not is_elliptical(question, detect_language(question)):
        return question
    for resolve in (resolve_ordinal, swap_entity, resolve_pronoun):
        resolved = resolve(question, previous, history[-1][1])
        if resolved:
            return resolved
    carried = [t for t in key_terms(previous) if t not in question.lower()]
    return f"{question} ({' '.join(carried)})" if carried else question


def swap_entity(question: str, previous: str, _answer: str = "") -> str:
    """"And Google?" after "How much did Microsoft invest in OpenAI?" → "How much did Google invest?"."""
    english = ENTITY_ONLY_EN.match(question.strip())
    if english:
        names = NAME_EN.findall(previous)
        if not names:
            return ""
        swapped = re.sub(rf"\b{re.escape(names[0])}\b", english.group("entity"), previous, count=1)
        for other in names[1:]:
            swapped = re.sub(OBJECT_EN.format(name=re.escape(other)), "", swapped)
        return swapped
    chinese = ENTITY_ONLY_ZH.match(question.strip())
    subject = ACTOR_ZH.match(previous)
    if chinese and subject and chinese.group("entity") not in previous:
        swapped = chinese.group("entity") + previous[subject.end() :]
        return OBJECT_ZH.sub("", swapped, count=1)
    return ""


def answer_items(answer: str) -> list[str]:
    """The quoted items of a previous answer, in order (an extractive answer quotes one per line); when it quotes a
    list ("易用性| …" after "…标准包括："), its list items, so "the second one" is the list's second entry."""
    quotes = [item.strip() for item in QUOTED_ITEM_RE.findall(answer)] or [line.strip() for line in answer.splitlines()[1:] if line.strip()]
    listed = [item for item in quotes if "|" in item[:16]]
    return listed if len(listed) >= 2 else quotes


def resolve_ordinal(question: str, previous: str, answer: str) -> str:
    """"那第二个呢？" / "the second one": the second item of the previous answer, with the previous topic."""
    match = ORDINAL_RE.search(question)
    items = answer_items(answer)
    if not match or not items:
        return ""
    raw = (match.group("zh") or match.group("en") or "").lower()
    index = int(raw) if raw.isdigit() else ORDINALS.get(raw) or "一二三四五六七八九十".index(raw) + 1
    if index > len(items):
        return ""
    item = items[index - 1 if index > 0 else -1]
    label = item.split("|")[0].strip() if "|" in item[:16] else item[:40]
    return " ".join(part for part in (label, " ".join(key_terms(previous))) if part)


def resolve_pronoun(question: str, previous: str, _answer: str = "") -> str:
    """"它的成本是多少？" after a question about X → "X的成本是多少？"."""
    english = detect_language(question) == "en"
    pronoun = (PRONOUN_EN if english else PRONOUN_ZH).search(question)
    if not pronoun:
        return ""
    if english:
        names = NAME_EN.findall(previous)
        subject = names[0] if names else ""
    else:
        match = SUBJECT_ZH.match(previous)
        subject = match.group("subject") if match else ""
    if not subject:
        return ""
    replacement = f"{subject}'s" if english and pronoun.group().lower() == "its" else subject
    return question[: pronoun.start()] + replacement + question[pronoun.end() :]
