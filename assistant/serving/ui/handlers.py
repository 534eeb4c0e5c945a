"""What the chat's events do: plain functions over ``Assistant``, so tests call them without a browser."""

from __future__ import annotations

import html
import json
import logging
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast
from pathlib import Path

import gradio as gr

from assistant.errors import AdminRequired, AssistantError, BadUpload
from assistant.ingest.documents import remove_document, save_uploads
from assistant.service import Assistant
from assistant.serving.admin import Refusal, admin_refusal
from assistant.serving.jobs import IndexJobs, Job
from assistant.serving.saved import SavedChats
from assistant.serving.status import index_size, list_documents
from assistant.serving.ui.render import (
    render_changes,
    _when,
    document_row,
    escape_markdown,
    render_answer,
    render_draft,
    render_sources,
    render_streaming,
    turns_from_messages,
)
from assistant.serving.ui.text import UiLanguage, say
from assistant.settings import ServerSettings
from assistant.types import EventKind

log = logging.getLogger(__name__)
LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")
POLL_S = 0.25  # the longest the Re-index box waits before it looks at its job, or the chat at its queued questions
T = TypeVar("T")
ProgressBar = Callable[..., object]
"""``gr.Progress`` or anything called like it: ``progress((done, total), desc=stage)``."""


@dataclass(frozen=True)
class Saving:
    """Where the chat saves its answers: a conversation of this browser's."""

    chats: SavedChats
    owner: str
    conversation_id: str


def respond(
    assistant: Assistant,
    message: str,
    chat: Sequence[Mapping[str, object]] | None,
    documents: Sequence[str] = (),
    saving: Saving | None = None,
    language: UiLanguage = "en",
) -> Iterator[tuple[list[dict], str, str]]:
    """Stream one answer into the chat: the extractive draft at once (with the queue position while the question
    waits for the model), then the model's text replacing it, then the checked answer and its sources. With
    ``saving``, the saved conversation is the history and the answer is appended to it. ``language`` is the
    interface's; the answer is written in the question's."""
    message = LONE_SURROGATE_RE.sub("\ufffd", message)  # not encodable as UTF-8: it would break the event stream
    asked = [*map(dict, chat or []), {"role": "user", "content": message}]
    if saving is not None:
        events = saving.chats.ask_stream(saving.owner, saving.conversation_id, message, documents=documents)
    else:
        events = assistant.ask_stream(message, history=turns_from_messages(chat or []), documents=documents)
    notices: list[str] = []
    text = ""
    draft = None
    try:
        for event in events:
            if event.kind is EventKind.ANSWER and event.answer is not None:
                reply, sources = render_answer(event.answer, language), render_sources(event.answer, language)
            elif event.kind is EventKind.DRAFT and event.answer is not None:  # again: the model starts over
                draft, text = event.answer, ""
                reply, sources = render_draft(draft, say("writing", language), language), render_sources(draft, language)
            elif event.kind is EventKind.QUEUE and draft is not None:
                reply = render_draft(draft, event.text, language)
            else:
                if event.kind is EventKind.NOTICE:
                    notices.append(event.text)
                else:
                    text += event.text
                reply = render_streaming(notices, text)
                sources = render_sources(draft, language) if draft is not None else say("checking", language)
            yield [*asked, {"role": "assistant", "content": reply}], sources, ""
    except AssistantError as exc:
        raise user_error(exc.told_in(language)) from exc


class SessionQuestions:
    """Questions a chat session asked while its previous answer was still being written, in order.

    Users type a follow-up as soon as an answer appears, while the model is still finishing it. The handler
    already answering in that session shows such a question at once as waiting, and answers it next: one
    generator owns the session's chat, so two answers never overwrite each other's messages.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, deque[str]] = {}

    def offer(self, session: str, question: str) -> bool:
        """True: nothing is being answered in the session, so the caller answers ``question`` now; False: queued."""
        with self._lock:
            if session in self._pending:
                self._pending[session].append(question)
                return False
            self._pending[session] = deque()
            return True

    def waiting(self, session: str) -> list[str]:
        with self._lock:
            return list(self._pending.get(session, ()))

    def next(self, session: str) -> str | None:
        """The next queued question, or None: then the session is free again."""
        with self._lock:
            queued = self._pending.get(session)
            if queued:
                return queued.popleft()
            self._pending.pop(session, None)
            return None

    def busy(self, session: str) -> bool:
        """Whether a question of the session is being answered."""
        with self._lock:
            return session in self._pending

    def release(self, session: str) -> None:
        with self._lock:
            self._pending.pop(session, None)


def respond_in_turn(
    assistant: Assistant,
    questions: SessionQuestions,
    session: str,
    message: str,
    chat: Sequence[Mapping[str, object]] | None,
    documents: Sequence[str] = (),
    saving: Callable[[], Saving | None] = lambda: None,
    language: UiLanguage = "en",
) -> Iterator[tuple[object, object, object]]:
    """``respond``, one question at a time per session: a question asked meanwhile is shown as waiting at once
    (the box is cleared: it is not lost) and answered after the one being written. Text typed into the box
    while an answer streams stays there: only accepting a question clears the box. ``saving`` is called once
    the session takes the question: where its answers are saved (a question queued behind another goes where
    that one goes)."""
    if not questions.offer(session, message):
        yield gr.skip(), gr.skip(), ""  # the handler answering in this session shows and answers it
        return
    messages = [*map(dict, chat or [])]
    cleared = ""
    try:
        saved_in = saving()
        while message is not None:
            try:
                shown: tuple[list[dict], str] | None = None
                listed: list[str] = []  # the waiting questions the chat shows
                for update in ticking(respond(assistant, message, messages, documents, saved_in, language), POLL_S):
                    waiting = questions.waiting(session)
                    if update is not None:
                        shown = update[:2]
                    elif waiting == listed:
                        continue  # a tick, and no question was queued since the last update
                    if shown is not None:
                        listed = waiting
                        queued = [turn for q in waiting for turn in waiting_turn(q, language)]
                        yield [*shown[0], *queued], shown[1], cleared
                        cleared = gr.skip()
                messages = shown[0] if shown else messages
            except gr.Error as exc:
                if not questions.waiting(session):
                    raise
                messages = [*messages, {"role": "user", "content": message}, {"role": "assistant", "content": escape_markdown(exc.message)}]
            message = questions.next(session)
    finally:
        questions.release(session)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_DONE = object()


def ticking(events: Generator[T, None, None], every_s: float) -> Iterator[T | None]:
    """The items of ``events``, computed on a thread of their own, and None whenever ``every_s`` passes without
    one (a model can think for seconds before its first token). Closing this iterator (a closed tab) closes
    ``events`` at its next item, which stops the model."""
    ready: queue.Queue[object] = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in events:
                ready.put(item)
                if stop.is_set():
                    break
        except BaseException as exc:  # re-raised in the consumer's thread
            ready.put(_Failed(exc))
        finally:
            events.close()
            ready.put(_DONE)

    threading.Thread(target=pump, name="chat-answer", daemon=True).start()
    try:
        while True:
            try:
                item = ready.get(timeout=every_s)
            except queue.Empty:
                yield None
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()


def waiting_turn(question: str, language: UiLanguage = "en") -> list[dict]:
    waiting = f'<em class="draft">{escape_markdown(say("waiting", language))}</em>'
    return [{"role": "user", "content": question}, {"role": "assistant", "content": waiting}]


def user_error(message: str) -> gr.Error:
    """A failure the user can act on, for the UI: one log line and no traceback (Gradio prints a traceback for
    every gr.Error unless told not to); anything else a handler raises is a bug and keeps its traceback."""
    log.warning("shown to the user: %s", message)
    return gr.Error(message, print_exception=False)


def require_admin(server: ServerSettings, token: str | None) -> None:
    """The API's rule (``admin.admin_refusal``), its refusal worded as the Documents tab's advice, in both languages."""
    refusal = admin_refusal(server, token)
    if refusal is not None:
        key, fields = ("admin_disabled", (server.host,)) if refusal is Refusal.DISABLED else ("admin_wrong", ())
        raise AdminRequired(say(key, "en", *fields), status=refusal.status, zh=say(key, "zh", *fields))


def upload_folder() -> Path:
    """Where Gradio keeps files a browser uploaded (``GRADIO_TEMP_DIR`` or the system temp folder's ``gradio``)."""
    return Path(gr.utils.get_upload_folder()).resolve()


def uploaded_reader(path: str, folder: Path) -> Callable[[], bytes]:
    """Read ``path`` only if it lies inside Gradio's upload folder: an event can name any server file."""
    def read() -> bytes:
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(folder):
            raise BadUpload(f"{Path(path).name} was not uploaded through this page; upload the file itself.")
        return resolved.read_bytes()

    return read


def upload_documents(
    assistant: Assistant, paths: Sequence[str] | None, token: str | None, language: UiLanguage = "en"
) -> str:
    """Save uploaded files into the corpus (admin only); they become searchable at the next re-index.

    The token is checked before any file is opened, and only files inside Gradio's upload folder are read.
    """
    try:
        require_admin(assistant.settings.server, token)
    except AdminRequired as exc:
        return exc.told_in(language)
    root = upload_folder()
    saved, rejected = save_uploads(assistant.settings, [(Path(path).name, uploaded_reader(path, root)) for path in paths or []])
    problems = [exc.told_in(language) for exc in rejected]
    lines = [say("saved_uploads", language, ", ".join(saved))] if saved else []
    return "\n".join(lines + problems) or say("choose_files", language)


def delete_document(assistant: Assistant, doc_id: str | None, token: str | None, language: UiLanguage = "en") -> str:
    """Remove a file from the corpus (admin only); it leaves the index at the next re-index."""
    try:
        require_admin(assistant.settings.server, token)
        if not doc_id:
            return say("choose_delete", language)
        remove_document(assistant.settings, doc_id)
    except AssistantError as exc:
        return exc.told_in(language)
    return say("deleted", language, doc_id)


def reindex(
    jobs: IndexJobs, server: ServerSettings, token: str | None, progress: ProgressBar, language: UiLanguage = "en"
) -> Iterator[str]:
    """Start an index job, or join the one running (admin only), and follow it to the ``index --json`` summary."""
    try:
        require_admin(server, token)
    except AdminRequired as exc:
        yield exc.told_in(language)
        return
    job, started = jobs.start()
    yield from follow_job(job, progress, say("indexing" if started else "following", language))


def follow_job(job: Job, progress: ProgressBar, doing: str) -> Iterator[str]:
    """The job's stage and count while it runs (on the progress bar too), then its summary; a failure is a gr.Error.
    Read through ``to_dict``, so a job another app server runs (``RemoteJob``) is followed the same way."""
    seen, shown = -1, ""
    while not job.finished:
        seen = job.wait(seen, POLL_S)
        state = job.to_dict()
        stage, done, total = state["stage"], state["done"], state["total"]
        if total:
            progress((done, total), desc=stage)
        line = f"{doing}… {stage} {done}/{total}" if stage else f"{doing}…"
        if line != shown and not job.finished:
            shown = line
            yield line
    state = job.to_dict()
    if state["report"] is None:
        message = state["error"]["message"] if state["error"] else ""
        yield message
        raise user_error(message)
    yield json.dumps(state["report"], ensure_ascii=False, indent=2)


def footer_text(assistant: Assistant, language: UiLanguage = "en") -> str:
    """Which models answer and what the index holds, so a reader knows what produced an answer."""
    try:
        manifest = assistant.manifest()
        documents, chunks = index_size(manifest)
        index = say("index_built", language, _when(manifest.built_at), documents, chunks)
    except AssistantError as exc:
        index = exc.told_in(language)
    described = (assistant.settings.llm.describe(), assistant.embedder.identity, index)
    return say("footer", language, *map(escape_markdown, described))


def documents_view(assistant: Assistant, language: UiLanguage = "en") -> tuple[list[list[object]], list[str], str]:
    """Table rows, the deletable documents (those on disk) and the footer, after anything changed them."""
    try:
        statuses = list_documents(assistant)
    except AssistantError:  # the footer says why the index cannot be read; the table then lists nothing
        statuses = []
    on_disk = [str(s["doc_id"]) for s in statuses if s["status"] != "missing on disk"]
    return [document_row(s, language) for s in statuses], on_disk, footer_text(assistant, language)


def version_choices(assistant: Assistant, doc_id: str | None) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The versions kept of the chosen document for the Changes view: compare the latest with the one before."""
    if not doc_id:
        return gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[], value=None)
    _, history = assistant.versions(doc_id)
    numbers = [v.n for v in history]
    return (
        gr.Dropdown(choices=numbers, value=numbers[-2] if len(numbers) > 1 else None),
        gr.Dropdown(choices=numbers, value=numbers[-1] if numbers else None),
    )


def show_changes(
    assistant: Assistant, doc_id: str | None, old: int | None, new: int | None, language: UiLanguage = "en"
) -> str:
    """The chosen pair of versions side by side, or what to do when there is nothing to compare."""
    if not doc_id:
        return say("choose_document", language)
    try:
        return render_changes(assistant.changes(doc_id, old, new), language)
    except AssistantError as exc:
        return f"<p>{html.escape(exc.told_in(language))}</p>"
