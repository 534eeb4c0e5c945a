"""Every word the chat's interface shows, in English and in Chinese, and which of the two a browser gets.

One table, so a label is never half one language and half the other, and a test can check that a page in one
language shows no label of the other. Answers are not interface: they stay in the question's language.
"""

from __future__ import annotations

import re
from typing import Literal, cast, get_args

UiLanguage = Literal["en", "zh"]
UI_LANGUAGES: tuple[UiLanguage, ...] = get_args(UiLanguage)
LANGUAGE_COOKIE = "assistant_lang"  # set by the page's switch, so a reload keeps the choice
LANGUAGE_NAMES: list[tuple[str, UiLanguage]] = [("English", "en"), ("中文", "zh")]  # each in its own language
ACCEPT_RE = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")

TEXT: dict[str, tuple[str, str]] = {
    # key: (English, Chinese); "{}" fields are filled by ``say``
    "app": ("Document assistant", "文档助手"),
    "heading": ("## {} — ask in Chinese or English", "## {} — 可用中文或英文提问"),
    "interface": ("Interface language", "界面语言"),
    "tab_chat": ("Chat", "问答"),
    "tab_documents": ("Documents", "文档管理"),
    "new_chat": ("New chat", "新对话"),
    "conversations": ("Conversations", "对话"),
    "title": ("Title", "标题"),
    "rename": ("Rename", "重命名"),
    "delete": ("Delete", "删除"),
    "export": ("Export as Markdown", "导出对话"),
    "exported": ("Exported conversation", "导出的对话"),
    "chat": ("Chat", "对话内容"),
    "question": ("Question", "问题"),
    "placeholder": ("Ask in Chinese or English", "可用中文或英文提问"),
    "picker": ("Documents (none picked: all)", "文档（不选即全部）"),
    "ask": ("Ask", "提问"),
    "sources": ("### Sources", "### 出处"),
    "admin_token": ("Admin token", "管理员令牌"),
    "upload": ("Upload documents", "上传文档"),
    "delete_choice": ("Document to delete", "要删除的文档"),
    "document_status": ("Documents", "文档"),
    "reindex": ("Re-index", "重建索引"),
    "refresh": ("Refresh", "刷新"),
    "index_status": ("Index", "索引"),
    "changes": ("Changes between versions", "修订对比"),
    "changes_document": ("Document", "文档"),
    "from_version": ("From version", "旧版本"),
    "to_version": ("To version", "新版本"),
    "compare": ("Compare", "对比"),
    "col_document": ("document", "文档"),
    "col_status": ("status", "状态"),
    "col_language": ("language", "语言"),
    "col_sections": ("sections", "章节"),
    "col_chunks": ("chunks", "片段"),
    "col_pages": ("pages", "页数"),
    "col_versions": ("versions", "版本数"),
    "col_indexed_at": ("indexed at", "索引时间"),
    "col_detail": ("detail", "详情"),
    "status_indexed": ("indexed", "已索引"),
    "status_not indexed": ("not indexed", "未索引"),
    "status_missing on disk": ("missing on disk", "文件已删除"),
    "status_changed on disk": ("changed on disk", "文件已修改"),
    "status_error": ("error", "出错"),
    "status_duplicate": ("duplicate of {}", "与 {} 重复"),
    "no_sources": ("<p>Citations appear here.</p>", "<p>回答引用的出处会显示在这里。</p>"),
    "no_passage": ("<p>No passage cited.</p>", "<p>没有引用任何段落。</p>"),
    "checking": ("<p>Checking the sources…</p>", "<p>正在核对出处…</p>"),
    "writing": ("writing…", "撰写中…"),
    "waiting": ("waiting for the previous answer…", "等待上一个回答完成…"),
    "draft": ("Draft — quotes from the documents; the model is writing its answer ({})", "草稿：原文摘录，语言模型正在撰写回答（{}）"),
    "legend": (
        "⚠ unverified: no cited passage clearly supports that sentence, or a figure in it is not in the source."
        " Check it against the sources.",
        "⚠ 未经核实：引用的段落没有明确支持这句话，或句中的数字不在出处中。请对照出处。",
    ),
    "unverified_because": ("⚠ unverified ({})", "⚠ 未经核实（{}）"),
    "reason_supported": ("supported", "有出处支持"),
    "reason_auto-attached": ("source added", "已补上出处"),
    "reason_re-cited": ("source corrected", "已更正出处"),
    "reason_weak support": ("weak support", "出处支持不足"),
    "reason_number mismatch": ("a figure is not in the source", "数字不在出处中"),
    "reason_unsupported": ("no source says this", "没有出处支持"),
    "reason_framing": ("framing", "引导语"),
    "reason_obeyed an order": ("an order from a source", "出处中的指令"),
    "verified": ("✓ verified", "✓ 已核实"),
    "unverified": ("⚠ unverified", "⚠ 未经核实"),
    "searched": ("Searched for: {}", "检索：{}"),
    "earlier_version": ("version {} (earlier)", "第 {} 版（旧版）"),
    "page": ("p. {}", "第 {} 页"),
    "page_view": ("Page {} as printed", "原文第 {} 页"),
    "page_alt": ("page {} of {}", "{1} 第 {0} 页"),
    "version_at": ("version {} · {}", "第 {} 版 · {}"),
    "same_text": ("The two versions have the same text.", "两个版本的文字相同。"),
    "choose_document": ("<p>Choose a document.</p>", "<p>请选择文档。</p>"),
    "rating_browser_only": ("Ratings are kept for browser sessions only.", "只保存浏览器会话中的评价。"),
    "ask_first": ("Ask a question first.", "请先提问。"),
    "rating_saved": ("Thanks: rating saved.", "谢谢：评价已保存。"),
    "saved_uploads": ("Saved {}. Click Re-index to make them searchable.", "已保存 {}。点击“重建索引”后即可检索。"),
    "choose_files": ("Choose one or more files to upload.", "请选择要上传的文件。"),
    "choose_delete": ("Choose a document to delete.", "请选择要删除的文档。"),
    "deleted": ("Deleted {}. Click Re-index to remove it from the index.", "已删除 {}。点击“重建索引”后它将移出索引。"),
    "indexing": ("Indexing", "正在索引"),
    "following": ("Following the indexing run already in progress", "正在跟进已在进行的索引任务"),
    "admin_disabled": (
        "Document changes are disabled: the server listens on {} and no admin token is set. Set"
        " ASSISTANT_SERVER__ADMIN_TOKEN, restart the server and enter it in the Admin token box.",
        "文档修改已停用：服务器监听 {}，且未设置管理员令牌。请设置 ASSISTANT_SERVER__ADMIN_TOKEN，重启服务器，"
        "再在“管理员令牌”框中输入。",
    ),
    "admin_wrong": (
        "A valid admin token is required: enter the value of ASSISTANT_SERVER__ADMIN_TOKEN in the Admin token box.",
        "需要有效的管理员令牌：请在“管理员令牌”框中输入 ASSISTANT_SERVER__ADMIN_TOKEN 的值。",
    ),
    "footer": ("Answers: {} · Embeddings: {} · Index: {}", "回答：{} · 向量模型：{} · 索引：{}"),
    "index_built": ("built {}, {} documents, {} chunks", "建于 {}，{} 个文档，{} 个片段"),
}


def say(key: str, language: UiLanguage, *fields: object) -> str:
    """The interface text ``key`` in ``language``, with ``fields`` put in its "{}" places."""
    text = TEXT[key][UI_LANGUAGES.index(language)]
    return text.format(*fields) if fields else text


def status_text(status: str, language: UiLanguage) -> str:
    """A document's status (``serving.status.document_status``) in the interface language."""
    if status.startswith("duplicate of "):
        return say("status_duplicate", language, status.removeprefix("duplicate of "))
    key = f"status_{status}"
    return say(key, language) if key in TEXT else status


def reason_text(reason: str, language: UiLanguage) -> str:
    """Why a sentence is (not) verified (``types.Reason``), in the interface language."""
    key = f"reason_{reason}"
    return say(key, language) if key in TEXT else reason


def interface_language(cookie: str | None, accept_language: str | None) -> UiLanguage:
    """The switch's last choice (its cookie); else the browser's preferred language among ours; else English."""
    if cookie in UI_LANGUAGES:
        return cast(UiLanguage, cookie)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        match = ACCEPT_RE.fullmatch(part)
        if match:
            try:
                weight = float(match.group(2) or 1)
            except ValueError:
                continue
            ranked.append((-weight, position, match.group(1).lower()))
    return cast(UiLanguage, next((code for _, _, code in sorted(ranked) if code in UI_LANGUAGES), "en"))
