"""HTTP statuses for the assistant's errors, and validation errors as one readable line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from assistant.errors import (
    AdminRequired,
    BackendUnavailable,
    AssistantError,
    BadQuestion,
    BadUpload,
    ConversationFull,
    EmptyCorpus,
    IndexBusy,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    MissingClientId,
    StorageUnavailable,
    UnknownConversation,
    UnknownDocument,
    UnknownPage,
    NotAPdf,
    UnknownJob,
    UnknownVersion,
    UploadTooLarge,
)

STATUS_BY_ERROR: tuple[tuple[type[AssistantError], int], ...] = (
    (BadQuestion, 422),
    (UnknownDocument, 404),
    (UnknownPage, 404),
    (NotAPdf, 422),
    (UnknownJob, 404),
    (UnknownVersion, 404),
    (UnknownConversation, 404),
    (MissingClientId, 400),
    (ConversationFull, 413),
    (UploadTooLarge, 413),
    (BadUpload, 422),
    (IndexBusy, 409),
    (EmptyCorpus, 409),
    (IndexMissing, 503),
    (IndexMismatch, 503),
    (IndexCorrupt, 503),
    (StorageUnavailable, 503),
    (BackendUnavailable, 503),  # the Chroma server or an embedding model cannot be reached or loaded
)


def status_for(exc: AssistantError) -> int:
    if isinstance(exc, AdminRequired):
        return exc.status
    return next((status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind)), 500)


def validation_message(errors: Iterable[Mapping[str, Any]]) -> str:
    """``field: problem`` pairs, e.g. ``k: Input should be less than or equal to 50``."""
    parts = []
    for error in errors:
        names_a_field = error.get("type") != "json_invalid"  # its loc is a character position, not a field
        location = ".".join(str(part) for part in error.get("loc", ())[1:]) if names_a_field else ""
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
