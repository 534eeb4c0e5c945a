"""Each document's earlier versions: the cleaned text of every version indexed, kept so "what changed" can be
computed after an update.

Under ``<index>/versions/<key>/``: one ``<sha256>.txt`` per version (content-addressed, so recording the same
text twice writes nothing) and ``history.json``, replaced atomically after the text is on disk: a crash leaves the
old history or the new one, complete. The last ``keep`` versions are kept; an older version's text goes with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.errors import UnknownVersion
from assistant.indexing.store.manifest import DocumentRecord, write_atomic

HISTORY = "history.json"


@dataclass(frozen=True)
class Version:
    """One indexed version of a document: numbered from 1, oldest first."""

    n: int
    sha256: str
    indexed_at: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class VersionStore:
    """The version history of every document in one index folder."""

    def __init__(self, index_dir: Path, keep: int) -> None:
        self.root = Path(index_dir) / "versions"
        self.keep = keep

    def folder(self, doc_id: str) -> Path:
        """A file-system-safe folder per document id (ids are corpus paths, with slashes and any characters)."""
        return self.root / hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:24]

    def history(self, doc_id: str) -> list[Version]:
        return self._history_in(self.folder(doc_id))

    @staticmethod
    def _history_in(folder: Path) -> list[Version]:
        try:
            data = json.loads((folder / HISTORY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [Version(int(v["n"]), str(v["sha256"]), float(v["indexed_at"])) for v in data.get("versions", [])]

    def record(self, doc_id: str, sha256: str, text: str) -> Version:
        """The document's version with this content: the latest one when unchanged, else a new one."""
        versions = self.history(doc_id)
        if versions and versions[-1].sha256 == sha256:
            return versions[-1]
        folder = self.folder(doc_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{sha256}.txt", text)
        added = Version((versions[-1].n + 1) if versions else 1, sha256, time.time())
        kept = [*versions, added][-self.keep :]
        history = {"doc_id": doc_id, "versions": [v.to_dict() for v in kept]}
        write_atomic(folder / HISTORY, json.dumps(history, ensure_ascii=False))
        for old in versions:
            if old.sha256 not in {v.sha256 for v in kept}:
                (folder / f"{old.sha256}.txt").unlink(missing_ok=True)
        return added

    def text(self, doc_id: str, n: int) -> str:
        """The cleaned text of version ``n``; UnknownVersion names the versions kept."""
        versions = self.history(doc_id)
        version = next((v for v in versions if v.n == n), None)
        if version is None:
            raise UnknownVersion(doc_id, n, [v.n for v in versions])
        return (self.folder(doc_id) / f"{version.sha256}.txt").read_text(encoding="utf-8")

    def sweep(self) -> None:
        """Remove what a killed run left behind: temp files, and texts of versions no history names any more.
        Runs under the indexing lock, so no writer is mid-way."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not (folder / HISTORY).is_file():
                continue
            named = {HISTORY} | {f"{v.sha256}.txt" for v in self._history_in(folder)}
            for path in folder.iterdir():
                if path.name not in named:
                    path.unlink(missing_ok=True)

    def check(self, documents: Mapping[str, DocumentRecord]) -> list[str]:
        """Problems with the kept histories of the indexed ``documents``: a version whose text is missing, or a
        latest version that is not the one the index serves (an indexing run stopped between the two)."""
        problems = []
        for doc_id, record in sorted(documents.items()):
            history = self.history(doc_id) if record.indexed else []
            for version in history:
                if not (self.folder(doc_id) / f"{version.sha256}.txt").is_file():
                    problems.append(f"version {version.n} of {doc_id} has lost its text; it cannot be compared")
            if history and history[-1].sha256 != record.sha256:
                problems.append(
                    f"the version history of {doc_id} is ahead of the index (an indexing run was interrupted); "
                    "run `assistant index` to finish it"
                )
        return problems
