"""Indexing as a background job, one at a time per process: the REST API and the Documents tab share it.

``POST /api/index`` and the Re-index button start a job, or join the one already running, then poll it. The
job calls the same ``Assistant.index`` as ``assistant index``, so the atomic switch and the cross-process lock
are unchanged. A job outlives the request that started it, and its failure stays in the job for whoever asks.
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
from assistant.types import IndexReport

log = logging.getLogger(__name__)
KEEP_FINISHED = 8  # finished jobs kept for lookup; older ones are forgotten
INTERNAL_ERROR = "Indexing failed unexpectedly; the server log has the details. The previous index keeps serving."
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
                "error": {"message": self.message, "kind": self.kind} if self.error is not None else None,
            }


class IndexJobs:
    """Starts index jobs in a thread of their own, at most one running, and keeps the last few finished ones."""

    def __init__(self, index: Indexer, *, keep: int = KEEP_FINISHED) -> None:
        self._index = index
        self._keep = keep
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, IndexJob] = OrderedDict()
        self._current: IndexJob | None = None

    def start(self, *, rebuild: bool = False) -> tuple[IndexJob, bool]:
        """(the job, True) for a new one; (the running one, False) while another runs, whatever ``rebuild`` says."""
        with self._lock:
            if self._current is not None and not self._current.finished:
                return self._current, False
            job = self._current = IndexJob(rebuild)
            self._jobs[job.id] = job
            finished = [old for old in self._jobs.values() if old.finished]
            for old in finished[: max(0, len(finished) - self._keep)]:
                del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job,), name=f"index-job-{job.id[:8]}", daemon=True).start()
        return job, True

    def get(self, job_id: str) -> IndexJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id, self._keep)
        return job

    def _run(self, job: IndexJob) -> None:
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
