"""A small notice board in the Chroma server: JSON records every app server of one library can read.

Several app servers share one Chroma server (docs/chroma-server.md), but an index job lives in the memory of the
one that started it; ``POST /api/index`` on another would not see it, and its poll URL would 404 there. So the
job's owner pins its state here (``<prefix>-board-<topic>``, one record per key, replaced in one upsert, which the
server applies atomically) and every replica reads it. Chroma stores records with vectors, so each holds a
one-number placeholder, as the manifest pointer does. Only the newest ``keep`` records stay.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

BOARD_INFIX = "-board-"
UPDATED_AT = "updated_at"


def is_board(prefix: str, name: str) -> bool:
    """Whether a collection of ``prefix`` is a board (garbage collection must leave it alone)."""
    return name.startswith(prefix + BOARD_INFIX)


class EngineBoard:
    """The records of one topic ("jobs") of one library, newest first; each with the time it was last pinned."""

    def __init__(self, client: Callable[[], Any], prefix: str, topic: str, *, keep: int = 8) -> None:
        self._client, self.name, self.keep = client, f"{prefix}{BOARD_INFIX}{topic}", keep
        self._collection: Any = None
        self._lock = threading.Lock()

    @property
    def collection(self) -> Any:
        """Created on first use: an app server starts while the Chroma server is still down, as it always has."""
        with self._lock:
            if self._collection is None:
                self._collection = self._client().get_or_create_collection(self.name, embedding_function=None)
            return self._collection

    def put(self, key: str, record: dict[str, object]) -> None:
        """Pin ``record`` under ``key`` (replacing what was there), then take down all but the newest ``keep`` (read
        only when there are more: a running job pins itself every second)."""
        self.collection.upsert(ids=[key], documents=[json.dumps(record)], metadatas=[{UPDATED_AT: time.time()}], embeddings=[[0.0]])
        if self.collection.count() > self.keep:
            self.collection.delete(ids=[key for key, _, _ in self._all()[self.keep :]])

    def get(self, key: str) -> tuple[dict[str, object], float] | None:
        """The record under ``key`` and when it was pinned; None if there is none."""
        got = self.collection.get(ids=[key], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return json.loads(got["documents"][0]), float(got["metadatas"][0][UPDATED_AT])

    def records(self) -> list[tuple[dict[str, object], float]]:
        """Every record and when it was pinned, newest first."""
        return [(record, updated) for _, record, updated in self._all()]

    def _all(self) -> list[tuple[str, dict[str, object], float]]:
        got = self.collection.get(include=["documents", "metadatas"])
        found = [(key, json.loads(doc), float(meta[UPDATED_AT])) for key, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(found, key=lambda item: item[2], reverse=True)
