"""The interface's words (``serving.ui.text``): each in both languages, none mixed, and the language a browser gets."""

from __future__ import annotations

import re

import pytest

from assistant.errors import BadQuestion, ConversationFull, IndexCorrupt, UnknownConversation
from assistant.serving.ui.text import TEXT, interface_language, reason_text, say, status_text
from assistant.serving.status import document_status
from assistant.types import Reason

HAN = re.compile(r"[\u4e00-\u9fff]")
FIELD = re.compile(r"\{\d*\}")


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_text_has_an_english_and_a_chinese_wording_with_the_same_fields(key):
    english, chinese = TEXT[key]
    assert english.strip() and not HAN.search(english), english
    assert HAN.search(chinese), chinese  # a Chinese wording, not the English one copied
    assert len(FIELD.findall(english)) == len(FIELD.findall(chinese))


def test_fields_are_filled_in_either_order():
    assert say("page_alt", "en", 3, "a.pdf") == "page 3 of a.pdf"
    assert say("page_alt", "zh", 3, "a.pdf") == "a.pdf 第 3 页"


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        (None, "fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4", "zh"),  # the first of ours the browser ranks
        (None, "en;q=0.2, zh-TW;q=0.8", "zh"),  # by weight, not by position
        (None, "de-DE", "en"),  # none of ours: English
        (None, "", "en"),
        (None, "zh;q=oops, en", "en"),  # a malformed weight is skipped
        ("en", "zh-CN,zh;q=0.9", "en"),  # the switch's choice wins over the browser
        ("fr", "zh-CN", "zh"),  # a cookie naming no language of ours is ignored
    ],
)
def test_the_interface_language_is_the_switchs_choice_else_the_browsers(cookie, accept, expected):
    assert interface_language(cookie, accept) == expected


def test_every_document_status_and_verification_reason_has_both_wordings():
    statuses = {document_status(None, "x"), "missing on disk", "changed on disk", "indexed", "error"}
    for status in statuses:
        assert HAN.search(status_text(status, "zh")) and status_text(status, "en") == status
    assert status_text("duplicate of a.md", "zh") == "与 a.md 重复"
    for reason in Reason:
        assert HAN.search(reason_text(reason, "zh")) and not HAN.search(reason_text(reason, "en"))


def test_a_failure_is_told_in_the_interface_language_where_it_has_a_chinese_message():
    full = ConversationFull.turns(200)
    assert str(full).startswith("This conversation holds 200 questions") and "limits.max_conversation_turns" in str(full)
    assert full.told_in("zh").startswith("此对话已有 200 个问题") and full.told_in("en") == str(full)
    assert BadQuestion("Please type a question.", zh="请输入问题。").told_in("zh") == "请输入问题。"
    assert "无法读取" in IndexCorrupt("index", "x").told_in("zh")
    lone = UnknownConversation("abc")
    assert lone.told_in("zh") == str(lone)  # no Chinese message: the English one
