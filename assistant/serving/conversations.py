"""Saved conversations and answer ratings: one SQLite file in ``paths.state_dir``, shared by every server thread.

SQLite, because the state is small, written one answer at a time, and must survive restarts and concurrent
writers without a server to run: WAL journaling lets readers go on while one writer commits, and the busy
timeout makes concurrent writers wait their turn instead of failing. Each call opens its own connection, so
no connection is shared across threads. A conversation belongs to the client that created it (the browser's
random id, or an API client's ``X-Client-Id``); any other client is told it does not exist.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConversationFull, MissingClientId, StorageUnavailable, UnknownConversation
from assistant.settings import Settings

FILE_NAME = "conversations.sqlite3"
CLIENT_HEADER = "X-Client-Id"
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
TITLE_CHARS = 80  # a title longer than this is cut: it is a label in a sidebar
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another's commit before giving up
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL, size INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    n INTEGER NOT NULL, rating INTEGER NOT NULL, comment TEXT NOT NULL, settings TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
"""


@dataclass(frozen=True)
class SavedTurn:
    """One question and the answer given to it (``Answer.to_dict()``, citations carrying their document version)."""

    n: int
    question: str
    answer: dict[str, object]
    created: float

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "question": self.question, "answer": self.answer, "created": self.created}


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float
    size: int = 0  # questions asked in it
    turns: tuple[SavedTurn, ...] = field(default=())

    def to_dict(self, *, with_turns: bool = False) -> dict[str, object]:
        body: dict[str, object] = {
            "id": self.id, "title": self.title, "created": self.created, "updated": self.updated, "turns": self.size
        }
        if with_turns:
            body["messages"] = [turn.to_dict() for turn in self.turns]
        return body


@dataclass(frozen=True)
class Rating:
    """A reader's verdict on one answer, with what produced it: the material for growing the eval."""

    conversation_id: str
    n: int
    rating: int  # +1 or -1
    comment: str
    question: str
    answer: dict[str, object]
    settings: dict[str, object]
    created: float


def client_id(value: str | None) -> str:
    """The caller's id as given, or MissingClientId: without one, nobody could find the conversation again."""
    if value is None or not CLIENT_ID_RE.fullmatch(value):
        raise MissingClientId(CLIENT_HEADER)
    return value


def title_from(question: str) -> str:
    one_line = " ".join(question.split())
    return one_line if len(one_line) <= TITLE_CHARS else one_line[: TITLE_CHARS - 1] + "…"


class ConversationStore:
    """Conversations, their turns and ratings in ``state_dir``; every method is one transaction."""

    def __init__(self, state_dir: Path, *, max_turns: int, max_bytes: int) -> None:
        self.path = state_dir / FILE_NAME
        self.max_turns = max_turns
        self.max_bytes = max_bytes
        self._ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ConversationStore:
        limits = settings.limits
        return cls(settings.paths.state_dir, max_turns=limits.max_conversation_turns, max_bytes=int(limits.max_state_mb * 2**20))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            if not self._ready:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as db:
                db.execute("PRAGMA foreign_keys = ON")
                if not self._ready:
                    db.execute("PRAGMA journal_mode = WAL")
                    db.executescript(SCHEMA)
                    self._ready = True
                db.execute("BEGIN IMMEDIATE")  # writers queue here, so a size check and its write see the same state
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
        except (sqlite3.OperationalError, OSError) as exc:
            raise StorageUnavailable(self.path, exc) from exc

    def create(self, owner: str, title: str = "") -> Conversation:
        now = time.time()
        conversation = Conversation(secrets.token_urlsafe(16), title_from(title), now, now)
        with self._db() as db:
            db.execute(
                "INSERT INTO conversations (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                (conversation.id, owner, conversation.title, now, now),
            )
        return conversation

    def list(self, owner: str) -> list[Conversation]:
        """The owner's conversations, the most recently used first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.created, c.updated, (SELECT count(*) FROM turns t WHERE t.conversation_id = c.id)"
                " FROM conversations c WHERE c.owner = ? ORDER BY c.updated DESC",
                (owner,),
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def get(self, owner: str, conversation_id: str) -> Conversation:
        with self._db() as db:
            head = self._head(db, owner, conversation_id)
            rows = db.execute(
                "SELECT n, question, answer, created FROM turns WHERE conversation_id = ? ORDER BY n", (conversation_id,)
            ).fetchall()
        turns = tuple(SavedTurn(n, question, json.loads(answer), created) for n, question, answer, created in rows)
        return Conversation(*head, size=len(turns), turns=turns)

    def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        with self._db() as db:
            self._head(db, owner, conversation_id)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title_from(title), conversation_id))
        return self.get(owner, conversation_id)

    def delete(self, owner: str, conversation_id: str) -> None:
        with self._db() as db:
            self._head(db, owner, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def append(self, owner: str, conversation_id: str, question: str, answer: dict[str, object]) -> SavedTurn:
        """Add a question and its answer; the first one titles an untitled conversation. ConversationFull at a cap."""
        body = json.dumps(answer, ensure_ascii=False)
        size = len(body.encode()) + len(question.encode())
        now = time.time()
        with self._db() as db:
            _, title, _, _ = self._head(db, owner, conversation_id)
            count, = db.execute("SELECT count(*) FROM turns WHERE conversation_id = ?", (conversation_id,)).fetchone()
            if count >= self.max_turns:
                raise ConversationFull.turns(count)
            used, = db.execute("SELECT coalesce(sum(size), 0) FROM turns").fetchone()
            if used + size > self.max_bytes:
                raise ConversationFull(
                    "The saved conversations have reached their size cap.", "limits.max_state_mb", zh="保存的对话已达到容量上限。"
                )
            db.execute(
                "INSERT INTO turns (conversation_id, n, question, answer, created, size) VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, count + 1, question, body, now, size),
            )
            db.execute(
                "UPDATE conversations SET updated = ?, title = ? WHERE id = ?",
                (now, title or title_from(question), conversation_id),
            )
        return SavedTurn(count + 1, question, answer, now)

    def rate(
        self, owner: str, conversation_id: str, n: int, rating: int, comment: str, settings: dict[str, object]
    ) -> None:
        """Record (or replace) the owner's rating of answer ``n``; the settings say what produced the answer."""
        with self._db() as db:
            self._head(db, owner, conversation_id)
            if db.execute("SELECT 1 FROM turns WHERE conversation_id = ? AND n = ?", (conversation_id, n)).fetchone() is None:
                raise UnknownConversation(f"{conversation_id}/{n}")
            db.execute(
                "INSERT OR REPLACE INTO feedback (conversation_id, n, rating, comment, settings, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, n, 1 if rating > 0 else -1, comment, json.dumps(settings, ensure_ascii=False), time.time()),
            )

    def ratings(self) -> list[Rating]:
        """Every rating, oldest first, with its question and answer (all owners: the operator's export)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT f.conversation_id, f.n, f.rating, f.comment, t.question, t.answer, f.settings, f.created"
                " FROM feedback f JOIN turns t ON t.conversation_id = f.conversation_id AND t.n = f.n ORDER BY f.created"
            ).fetchall()
        return [
            Rating(cid, n, rating, comment, question, json.loads(answer), json.loads(settings), created)
            for cid, n, rating, comment, question, answer, settings, created in rows
        ]

    @staticmethod
    def _head(db: sqlite3.Connection, owner: str, conversation_id: str) -> tuple[str, str, float, float]:
        row = db.execute(
            "SELECT id, title, created, updated FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
        ).fetchone()
        if row is None:
            raise UnknownConversation(conversation_id)
        return row
