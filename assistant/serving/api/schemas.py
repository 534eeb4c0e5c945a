"""Request bodies of the REST API, with the limits that keep a request from costing more than it is worth."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION_CHARS = 100_000  # caps the request body; the configured, usually lower, limit is Assistant.validate's
MAX_HISTORY_TURNS = 20
MAX_SCOPE_DOCUMENTS = 200
MAX_TURN_CHARS = 20_000
MAX_JSON_BYTES = 12 * (MAX_QUESTION_CHARS + 2 * MAX_HISTORY_TURNS * MAX_TURN_CHARS) + 64 * 1024
"""Largest accepted JSON body: the longest escape of one character is 12 bytes (a surrogate pair), plus keys."""


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="Chinese or English question.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to retrieve (default: the retrieve.k setting).")
    documents: list[str] = Field(
        default_factory=list,
        max_length=MAX_SCOPE_DOCUMENTS,
        description="Answer from these documents only (ids as GET /api/documents lists them, or a name unique to one);"
        " empty: every document, or the ones the question names.",
    )


class HistoryTurn(BaseModel):
    question: str = Field(max_length=MAX_TURN_CHARS)
    answer: str = Field(max_length=MAX_TURN_CHARS)


class AskRequest(RetrieveRequest):
    history: list[HistoryTurn] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS, description="Earlier turns of the conversation, oldest first."
    )
    conversation_id: str | None = Field(
        None,
        max_length=64,
        description="A saved conversation (POST /api/conversations; send the same X-Client-Id): its turns are the"
        " history, the answer is appended to it, and a second question on it waits for the first. Not with history.",
    )


class ConversationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=1000, description="Empty: titled from its first question.")


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up: bool = Field(description="true: a good answer (thumbs up); false: a wrong or unhelpful one.")
    comment: str = Field("", max_length=MAX_TURN_CHARS, description="What was right or wrong, for the reviewer.")


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(False, description="Build from scratch even when the index is up to date.")


class CitationIn(BaseModel):
    """A citation as an answer gave it (``citations[]`` of POST /api/ask, or of a saved or exported answer)."""

    n: int = Field(ge=1)
    source: str = Field(max_length=1000)
    version: int | None = Field(None, ge=1, description="The version it quotes; null: the version current when it was given.")
    section: str = Field("", max_length=MAX_TURN_CHARS)
    page: int = 0
    chunk_id: str = Field("", max_length=200)
    quote: str = Field(max_length=MAX_TURN_CHARS)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    verified: bool = True


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    citations: list[CitationIn] = Field(min_length=1, max_length=50)
    language: Literal["zh", "en"] = Field("en", description="The language of the notice.")
