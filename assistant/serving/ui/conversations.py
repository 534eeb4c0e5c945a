"""The chat's saved conversations: the browser's own id, the sidebar's list, reopening, renaming, deleting,
exporting and rating. Plain functions over ``SavedChats``, so tests call them without a browser."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import gradio as gr

from assistant.errors import AssistantError, UnknownConversation
from assistant.serving.clientid import client_of
from assistant.serving.export import conversation_markdown
from assistant.serving.saved import SavedChats
from assistant.serving.ui.render import render_answer, render_sources
from assistant.serving.ui.text import UiLanguage, say
from assistant.types import Answer

Choices = list[tuple[str, str]]


def owner_of(request: gr.Request) -> str | None:
    """The browser's id from its cookie (``clientid``); None for a client without one (gradio_client): its
    questions are answered without being saved."""
    return client_of(request.cookies) if request is not None else None


def latest(chats: SavedChats, owner: str | None) -> str:
    """The conversation a page opens with: the one last used, so a reload or a new tab goes on where it stopped."""
    listed = chats.store.list(owner) if owner else []
    return next((c.id for c in listed if c.size), "")


def choices(chats: SavedChats, owner: str, conversation_id: str | None = None) -> Choices:
    """The sidebar's entries: (title, id), the most recently used first; a conversation still without questions
    only while it is the open one."""
    return [(c.title or "…", c.id) for c in chats.store.list(owner) if c.size or c.id == conversation_id]


def opened(
    chats: SavedChats, owner: str, conversation_id: str | None, language: UiLanguage = "en"
) -> tuple[list[dict], str, str]:
    """The conversation's messages as the chat shows them, the last answer's sources, and its id ("" when it is
    gone: deleted, or never this browser's)."""
    empty: tuple[list[dict], str, str] = ([], say("no_sources", language), "")
    if not conversation_id:
        return empty
    try:
        saved = chats.reread(chats.store.get(owner, conversation_id))  # a passage changed since is flagged
    except UnknownConversation:
        return empty
    messages: list[dict] = []
    sources = empty[1]
    for turn in saved.turns:
        answer = Answer.from_dict(turn.answer)
        shown = render_answer(answer, language)
        messages += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": shown}]
        sources = render_sources(answer, language)
    return messages, sources, saved.id


def start_if_new(chats: SavedChats, owner: str, conversation_id: str | None) -> str:
    """The conversation a question goes into: the open one, or a new one (titled by that first question)."""
    if conversation_id:
        try:
            return chats.store.get(owner, conversation_id).id
        except UnknownConversation:
            pass  # deleted in another tab: the question starts a new one
    return chats.store.create(owner).id


def rename(chats: SavedChats, owner: str, conversation_id: str | None, title: str) -> Choices:
    if conversation_id and title.strip():
        chats.store.rename(owner, conversation_id, title)
    return choices(chats, owner, conversation_id)


def delete(chats: SavedChats, owner: str, conversation_id: str | None) -> Choices:
    if conversation_id:
        try:
            chats.store.delete(owner, conversation_id)
        except UnknownConversation:
            pass  # already gone
    return choices(chats, owner)


def export_file(chats: SavedChats, owner: str, conversation_id: str | None) -> str | None:
    """A Markdown file of the conversation for the download button, in Gradio's upload folder; None: nothing open."""
    if not conversation_id:
        return None
    saved = chats.store.get(owner, conversation_id)
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=gr.utils.get_upload_folder()))
    path = folder / f"conversation-{saved.id}.md"
    path.write_text(conversation_markdown(saved), encoding="utf-8")
    return str(path)


def rate(
    chats: SavedChats,
    owner: str,
    conversation_id: str | None,
    chat: Sequence[Mapping[str, object]],
    index: int,
    liked: bool,
    language: UiLanguage = "en",
) -> str:
    """Keep a thumbs up or down on the answer at message ``index``; the answers are the saved turns in order."""
    if not conversation_id:
        return say("ask_first", language)
    n = sum(1 for message in chat[: index + 1] if message.get("role") == "assistant")
    try:
        chats.rate(owner, conversation_id, n, liked)
    except AssistantError as exc:
        return exc.told_in(language)
    return say("rating_saved", language)
