"""Indexing as a background job, one at a time: the REST API and the Documents tab share it.

``POST /api/index`` and the Re-index button start a job, or join the one already running, then poll it. The
job calls the same ``Assistant.index`` as ``assistant index``, so the atomic switch and the cross-process lock
are unchanged. A job outlives the request that started it, and its failure stays in the job for whoever asks.

On a Chroma server, several app servers serve one library: a job's owner pins its state on the library's board
(``store/board.py``) at every change and at least every ``heartbeat_s``, so any app server joins a job another
one runs and answers its poll URL (a ``RemoteJob``). A running job whose owner stopped pinning it for
``stale_s`` (the process died) is shown as failed, and a new job may start.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum

from assistant.errors import AssistantError, UnknownJob
from assistant.indexing.build import StageProgress
from assistant.indexing.store.board import EngineBoard
from assistant.serving.api.errors import status_for
from assistant.service import Assistant
from assistant.types import IndexReport

log = logging.getLogger(__name__)
KEEP_FINISHED = 8  # finished jobs kept for lookup; older ones are forgotten
INTERNAL_ERROR = "Indexing failed unexpectedly; the server log has the details. The previous index keeps serving."
ABANDONED = "The app server running this indexing job stopped reporting (it may have been stopped); the previous index keeps serving. Start the job again."
HEARTBEAT_S = 10.0  # a running job is pinned on the board at least this often...
STALE_S = 60.0  # ...and taken for abandoned when it was not for this long
REMOTE_POLL_S = 1.0  # how often a job another app server runs is read again, and its owner pins it at most
Indexer = Callable[..., IndexReport]
"""``Assistant.index`` or anything called like it: ``index(rebuild=…, progress=…)``."""


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class IndexJob:
    """One indexing run: its state, current stage and count, and at the end the report or the error."""

    def __init__(self, rebuild: bool) -> None:
        self.id = uuid.uuid4().hex
        self.rebuild = rebuild
        self.state = JobState.QUEUED
        self.stage = ""
        self.done = 0
        self.total = 0
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.report: IndexReport | None = None
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._version = 0  # bumped on every change, so a poller wakes only when there is something new

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)

    @property
    def message(self) -> str:
        """The failure as the user should read it; unexpected errors are not shown (they may hold internals)."""
        if self.error is None:
            return ""
        return str(self.error) if isinstance(self.error, AssistantError) else INTERNAL_ERROR

    @property
    def kind(self) -> str:
        return type(self.error).__name__ if isinstance(self.error, AssistantError) else "InternalError"

    def _update(self, **fields: object) -> None:
        with self._changed:
            for name, value in fields.items():
                setattr(self, name, value)
            self._version += 1
            self._changed.notify_all()

    def progress(self, stage: str, done: int, total: int) -> None:
        """The ``StageProgress`` callback the indexer reports to."""
        self._update(stage=stage, done=done, total=total)

    def wait(self, seen: int, timeout: float) -> int:
        """Block until the job changed since version ``seen`` (or finished, or ``timeout``); the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen or self.finished, timeout)
            return self._version

    def to_dict(self) -> dict[str, object]:
        with self._changed:
            return {
                "id": self.id,
                "state": self.state.value,
                "rebuild": self.rebuild,
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "created_at": self.created_at,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "report": self.report.to_dict() if self.report is not None else None,
                "error": self.error_dict(),
            }

    def error_dict(self) -> dict[str, object] | None:
        """Why it failed, with the HTTP status the synchronous route used to answer."""
        if self.error is None:
            return None
        status = status_for(self.error) if isinstance(self.error, AssistantError) else 500
        return {"message": self.message, "kind": self.kind, "status": status}


class RemoteJob:
    """A job another app server runs, as the library's board shows it: read again while someone follows it."""

    def __init__(self, record: dict[str, object], pinned_at: float, board: EngineBoard, stale_s: float) -> None:
        self.id = str(record["id"])
        self._board, self._stale_s = board, stale_s
        self._record, self._pinned_at = record, pinned_at
        self._version = 0

    @property
    def abandoned(self) -> bool:
        return self._record["state"] in (JobState.QUEUED, JobState.RUNNING) and time.time() - self._pinned_at > self._stale_s

    @property
    def finished(self) -> bool:
        return self._record["state"] in (JobState.DONE, JobState.FAILED) or self.abandoned

    def wait(self, seen: int, timeout: float) -> int:
        """Read the board until the record changed since version ``seen`` (or finished, or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self._version == seen and not self.finished and time.monotonic() < deadline:
            time.sleep(min(REMOTE_POLL_S, max(0.0, deadline - time.monotonic())))
            pinned = self._board.get(self.id)
            if pinned is not None:
                self._version += pinned[0] != self._record
                self._record, self._pinned_at = pinned
        return self._version

    def to_dict(self) -> dict[str, object]:
        if not self.abandoned:
            return dict(self._record)
        error = {"message": ABANDONED, "kind": "JobAbandoned", "status": 500}
        return {**self._record, "state": JobState.FAILED.value, "finished_at": self._pinned_at + self._stale_s, "error": error}


Job = IndexJob | RemoteJob


class IndexJobs:
    """Starts index jobs in a thread of their own, at most one running, and keeps the last few finished ones; with a
    ``board``, at most one running among all app servers of the library (as far as the board shows: two started in
    the same instant both run, and the engine's lease refuses the second with IndexBusy)."""

    def __init__(self, index: Indexer, *, keep: int = KEEP_FINISHED, board: EngineBoard | None = None,
                 heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S) -> None:
        self._index = index
        self._keep = keep
        self._board, self._heartbeat_s, self._stale_s = board, heartbeat_s, stale_s
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, IndexJob] = OrderedDict()
        self._current: IndexJob | None = None

    @classmethod
    def of(cls, assistant: Assistant) -> IndexJobs:
        """The jobs of ``assistant``'s library: on a Chroma server, shared with its other app servers."""
        return cls(assistant.index, board=assistant.store.board("jobs"))

    def start(self, *, rebuild: bool = False) -> tuple[Job, bool]:
        """(the job, True) for a new one; (the running one, False) while another runs, whatever ``rebuild`` says."""
        with self._lock:
            if self._current is not None and not self._current.finished:
                return self._current, False
            running = self._running_elsewhere()
            if running is not None:
                return running, False
            job = self._current = IndexJob(rebuild)
            self._jobs[job.id] = job
            finished = [old for old in self._jobs.values() if old.finished]
            for old in finished[: max(0, len(finished) - self._keep)]:
                del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job,), name=f"index-job-{job.id[:8]}", daemon=True).start()
        return job, True

    def get(self, job_id: str) -> Job:
        with self._lock:
            job: Job | None = self._jobs.get(job_id)
        pinned = self._board.get(job_id) if job is None and self._board is not None else None
        if pinned is not None:
            job = RemoteJob(*pinned, self._board, self._stale_s)
        if job is None:
            raise UnknownJob(job_id, self._keep)
        return job

    def _running_elsewhere(self) -> RemoteJob | None:
        if self._board is None:
            return None
        jobs = (RemoteJob(record, pinned_at, self._board, self._stale_s) for record, pinned_at in self._board.records())
        return next((job for job in jobs if not job.finished), None)

    def _run(self, job: IndexJob) -> None:
        stop = threading.Event()
        if self._board is not None:
            threading.Thread(target=self._pin, args=(job, stop), name=f"index-job-pin-{job.id[:8]}", daemon=True).start()
        try:
            self._index_in(job)
        finally:
            stop.set()

    def _pin(self, job: IndexJob, stop: threading.Event) -> None:
        """Pin the job on the board at each change, and at least every ``heartbeat_s`` while it runs; last when it ends."""
        assert self._board is not None
        seen = -1
        while True:
            ending = stop.is_set()
            try:
                self._board.put(job.id, job.to_dict())
            except Exception as exc:  # the board is a courtesy to other app servers: never the job's failure
                log.warning("could not pin index job %s on the library's board: %s", job.id, exc)
            if ending:
                return
            stop.wait(REMOTE_POLL_S)  # progress comes per batch: pinning each would load the server for nothing
            seen = job.wait(seen, self._heartbeat_s)

    def _index_in(self, job: IndexJob) -> None:
        job._update(state=JobState.RUNNING, started_at=time.time())
        progress: StageProgress = job.progress
        try:
            report = self._index(rebuild=job.rebuild, progress=progress)
        except AssistantError as exc:
            log.warning("index job %s failed: %s", job.id, exc)
            job._update(state=JobState.FAILED, error=exc, finished_at=time.time())
        except Exception as exc:  # a bug: kept in the job (never lost with the thread) and logged in full
            log.exception("index job %s failed unexpectedly", job.id)
            job._update(state=JobState.FAILED, error=exc, finished_at=time.time())
        else:
            job._update(state=JobState.DONE, report=report, finished_at=time.time())
