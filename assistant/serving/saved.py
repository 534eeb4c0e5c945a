"""Questions asked in a saved conversation, for every face that saves them (the API and the chat).

The history comes from the store, not from the client, so a reopened conversation goes on where it stopped; a
second question on the same conversation waits until the first is answered and saved, so follow-ups keep their
order; the answer is saved with its citations pinned to the document versions they quote.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from weakref import WeakValueDictionary

from assistant.errors import ConversationFull
from assistant.service import Assistant
from assistant.serving.conversations import Conversation, ConversationStore, Rating
from assistant.types import Answer, EventKind, StreamEvent, Turn


class SavedChats:
    """``Assistant.ask_stream`` inside a stored conversation, one question at a time per conversation."""

    def __init__(self, assistant: Assistant, store: ConversationStore) -> None:
        self.assistant = assistant
        self.store = store
        self._guard = threading.Lock()
        self._locks: WeakValueDictionary[str, threading.Lock] = WeakValueDictionary()

    def _turn_lock(self, conversation_id: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(conversation_id)
            if lock is None:
                lock = self._locks[conversation_id] = threading.Lock()
            return lock

    def ask_stream(
        self, owner: str, conversation_id: str, question: str, k: int | None = None, documents: Sequence[str] = ()
    ) -> Iterator[StreamEvent]:
        """The answer's events; the final one carries the saved answer. UnknownConversation or ConversationFull
        before any answering, read once the previous question in the conversation is saved."""
        lock = self._turn_lock(conversation_id)
        with lock:
            history = history_of(self.open(owner, conversation_id))
            for event in self.assistant.ask_stream(question, k, history, documents):
                if event.kind is EventKind.ANSWER and event.answer is not None:  # shown as it is, saved pinned
                    pinned = self.assistant.pinned(event.answer)
                    self.store.append(owner, conversation_id, pinned.question, pinned.to_dict())
                yield event

    def reread(self, conversation: Conversation) -> Conversation:
        """The conversation with each answer read against the documents as they are now (``Assistant.as_of_now``):
        a passage a later version changed or removed is flagged in the answer's notice."""
        turns = tuple(
            replace(t, answer=self.assistant.as_of_now(Answer.from_dict(t.answer)).to_dict()) for t in conversation.turns
        )
        return replace(conversation, turns=turns)

    def open(self, owner: str, conversation_id: str) -> Conversation:
        conversation = self.store.get(owner, conversation_id)
        if conversation.size >= self.store.max_turns:
            raise ConversationFull.turns(conversation.size)
        return conversation

    def rate(self, owner: str, conversation_id: str, n: int, up: bool, comment: str = "") -> None:
        """Keep a reader's thumbs up or down on answer ``n``, with the models and settings that produced it."""
        settings = self.assistant.settings
        produced_by = {
            "answerer": settings.llm.describe(),
            "embedding_model": self.assistant.embedder.identity,
            "k": settings.retrieve.k,
        }
        self.store.rate(owner, conversation_id, n, 1 if up else -1, comment.strip(), produced_by)


def history_of(conversation: Conversation) -> list[Turn]:
    return [(turn.question, str(turn.answer.get("answer", ""))) for turn in conversation.turns]


def golden_rows(ratings: Sequence[Rating]) -> list[dict[str, object]]:
    """Rated answers as dev-set rows (``assistant eval --qa`` reads them), each marked for review.

    A thumbs-up takes the answer's verified quotes as evidence, to be confirmed; a thumbs-down has no evidence
    until a reviewer finds it, so it reads as unanswerable until then.
    """
    rows = []
    for rating in ratings:
        answer = rating.answer
        citations = [c for c in answer.get("citations", []) if isinstance(c, dict)]
        evidence = [str(c["quote"]) for c in citations if c.get("verified", True)] if rating.rating > 0 else []
        rows.append({
            "id": f"feedback-{rating.conversation_id[:8]}-{rating.n}",
            "lang": answer.get("language", ""),
            "question": rating.question,
            "evidence": evidence,
            "answer_keywords": [],
            "type": "feedback",
            "doc": str(citations[0]["source"]) if citations and rating.rating > 0 else "",
            "review": "confirm the evidence" if rating.rating > 0 else "rated wrong: find the evidence, or confirm it is unanswerable",
            "rating": rating.rating,
            "comment": rating.comment,
            "answer": answer.get("answer", ""),
            "produced_by": rating.settings,
        })
    return rows
