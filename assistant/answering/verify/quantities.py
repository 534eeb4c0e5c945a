"""Figures normalised across Chinese and English units, so 2,000亿美元 and 200 billion US dollars compare equal."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from assistant.language import CN_NUMERAL, chinese_numeral

FULL_WIDTH = str.maketrans("０１２３４５６７８９％．", "0123456789%.")
SCALES = {
    "万亿": 1e12,
    "千亿": 1e11,
    "百亿": 1e10,
    "十亿": 1e9,
    "亿": 1e8,
    "千万": 1e7,
    "百万": 1e6,
    "十万": 1e5,
    "万": 1e4,
    "千": 1e3,
    "trillion": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "thousand": 1e3,
}
_SCALE = "|".join(sorted(SCALES, key=len, reverse=True))
_PERCENT = r"%|percent\b|per\s+cent\b"
FIGURE_WORDS = frozenset(SCALES) | {"percent", "per", "cent"}
QUANTITY_RE = re.compile(
    rf"百分之(?P<cn_percent>[{CN_NUMERAL}]+|\d+(?:\.\d+)?)"
    rf"|(?<![A-Za-z0-9.])(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\.\d)"
    rf"\s*(?:(?P<percent>{_PERCENT})|(?P<scale>{_SCALE})(?![A-Za-z]))?"
    rf"|(?P<cn>[{CN_NUMERAL}]+?)(?P<cn_scale>万亿|亿|万)",
    re.IGNORECASE,
)
QUANTITY_QUESTION_RE = re.compile(
    r"\b(how (many|much)|what (percentage|share|price)|which year|what year|when did|price|revenue)\b"
    r"|多少|(?<!哪)几[种个项只年代家位次]|哪一年|哪一天|何时|什么时候|百分之|价格|收费|金额",
    re.I,
)
MENTION_RE = re.compile(r"(?<![A-Za-z.\-])\d|[两二三四五六七八九十百千万亿]+(个|种|倍|年|只|次|项|代|层|类|成|家|位|分之)|\b(one|two|three|four|five|ten)\b")
CN_RUN_RE = re.compile(rf"[{CN_NUMERAL}]+")
# "invested nothing", "投资为零": a claim of zero is a figure too, and a source must say so (a negation, at least).
# Only explicit zero words in a claim: "none of the four" is a count, not a figure.
ZERO_CLAIM_RE = re.compile(r"\b(?:nothing|zero)\b|(?:为|是|等于|降至|降为)零", re.IGNORECASE)
ZERO_SOURCE_RE = re.compile(r"\b(?:no|none|nothing|zero|nil|never|without|not)\b|零|无|没有|未|不", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A figure normalised to one unit: 2,000亿 is ``Quantity(2e11, "amount")``."""

    value: float
    kind: Literal["year", "percent", "amount"]


def quantities(text: str, *, loose: bool = False) -> list[Quantity]:
    """Figures in ``text`` with units applied: 2,000亿 and 200 billion are both 2e11; 30% and 百分之三十 are 30 percent.

    A plain four-digit number from 1900 to 2100 is a year and only equals the same year.
    ``loose`` also reads bare Chinese numerals (三层, 十倍) and any negation as zero: used on source text, where an
    extra reading can only confirm a figure, never flag one. A claim's "nothing", "zero" or "为零" is the figure 0.
    """
    text = text.translate(FULL_WIDTH)
    found: list[Quantity] = []
    for match in QUANTITY_RE.finditer(text):
        if match.group("cn_percent"):
            raw = match.group("cn_percent")
            value = float(raw) if raw[0].isdigit() else chinese_numeral(raw)
            found.append(Quantity(value, "percent"))
        elif match.group("cn"):
            found.append(Quantity(chinese_numeral(match.group("cn") + match.group("cn_scale")), "amount"))
        else:
            raw = match.group("num")
            value = float(raw.replace(",", ""))
            if match.group("percent"):
                found.append(Quantity(value, "percent"))
            elif match.group("scale"):
                found.append(Quantity(value * SCALES[match.group("scale").lower()], "amount"))
            else:
                is_year = raw.isdigit() and len(raw) == 4 and 1900 <= value <= 2100
                found.append(Quantity(value, "year" if is_year else "amount"))
    if loose:
        found.extend(Quantity(chinese_numeral(run), "amount") for run in CN_RUN_RE.findall(text))
    if (ZERO_SOURCE_RE if loose else ZERO_CLAIM_RE).search(text):
        found.append(Quantity(0.0, "amount"))
    return found


def same_quantity(a: Quantity, b: Quantity) -> bool:
    return a.kind == b.kind and math.isclose(a.value, b.value, rel_tol=1e-6)


def unmatched_quantities(claim: str, source_text: str) -> list[Quantity]:
    """Figures of the claim that the source does not state in any unit."""
    stated = quantities(source_text, loose=True)
    return [q for q in quantities(claim) if not any(same_quantity(q, s) for s in stated)]


def asks_for_quantity(question: str) -> bool:
    """Whether the question asks for a figure (how many, price, year, 多少…), which an answer must then state."""
    return bool(QUANTITY_QUESTION_RE.search(question))


def states_quantity(text: str) -> bool:
    """Whether ``text`` states any figure or count (digits, 三种, 十倍, ten): looser than ``quantities``."""
    return bool(MENTION_RE.search(text))


YEAR_QUESTION_RE = re.compile(r"\b(which|what) year\b|\bwhen\b|哪一?年|何时|什么时候|年份", re.I)
CURRENCY_RE = re.compile(r"\s*(?P<code>美元|US\s*dollars?|USD|dollars?|人民币|元|欧元|euros?|EUR)", re.I)
CURRENCIES = {"美元": "usd", "usd": "usd", "dollar": "usd", "人民币": "cny", "元": "cny", "欧元": "eur", "euro": "eur", "eur": "eur"}
CURRENCY_NAMES = {
    "en": {"usd": " US dollars", "cny": " yuan", "eur": " euros"},
    "zh": {"usd": "美元", "cny": "元", "eur": "欧元"},
}
SCALE_NAMES = {"en": ((1e12, " trillion"), (1e9, " billion"), (1e6, " million")), "zh": ((1e8, "亿"), (1e4, "万"))}


def asks_for_year(question: str) -> bool:
    """Whether the question asks when (a year), so the figure that answers it is a year, not an amount."""
    return bool(YEAR_QUESTION_RE.search(question))


def currency_after(text: str, match: re.Match[str]) -> str:
    """The currency a figure is written in ("usd" for 100亿美元, $10 billion, 10 billion US dollars), or ""."""
    if match.start() > 0 and text[match.start() - 1] == "$":
        return "usd"
    written = CURRENCY_RE.match(text, match.end())
    if not written:
        return ""
    code = re.sub(r"\s+", "", written.group("code")).lower().removeprefix("us").rstrip("s")
    return CURRENCIES.get(code, CURRENCIES.get(written.group("code"), ""))


def figure_text(figure: Quantity, currency: str, language: str) -> str:
    """A figure written for a reader of ``language``: 1e10 dollars is "10 billion US dollars" or "100亿美元"."""
    if figure.kind == "percent":
        return f"{_plain(figure.value)}%"
    if figure.kind == "year":
        return f"{figure.value:.0f}" + ("年" if language == "zh" else "")
    scale, name = next(((s, n) for s, n in SCALE_NAMES[language] if figure.value >= s), (1.0, ""))
    return f"{_plain(figure.value / scale)}{name}{CURRENCY_NAMES[language].get(currency, '')}"


def _plain(value: float) -> str:
    """2 → "2", 2.5 → "2.5", 12000 → "12,000": no exponent, no trailing zeros."""
    return f"{value:,.2f}".rstrip("0").rstrip(".")
