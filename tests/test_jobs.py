"""Index jobs: the real indexer over the test's own corpus, run in the background, one at a time, never lost."""

import logging

import pytest
from conftest import GatedIndexer

from assistant.errors import UnknownJob
from assistant.service import Assistant
from assistant.serving.jobs import INTERNAL_ERROR, IndexJob, IndexJobs, JobState
from assistant.settings import Settings

DOC = "摘要\n\n微软对OpenAI的投资是100亿美元。\n\n谷歌对Anthropic的投资是3亿美元。\n"


@pytest.fixture
def assistant(report_assistant: Assistant, corpus) -> Assistant:
    """An assistant over the test's own one-document corpus and empty index, sharing the loaded model."""
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    return Assistant(Settings(), embedder=report_assistant.embedder)


def finish(job: IndexJob, timeout: float = 120) -> list[tuple[str, int, int]]:
    """Follow a job as the Re-index box does, to its end; the (stage, done, total) it showed on the way."""
    seen, shown = -1, []
    while not job.finished:
        seen = job.wait(seen, timeout)
        shown.append((job.stage, job.done, job.total))
    return shown


def test_a_job_runs_in_the_background_through_each_stage_to_the_report(assistant):
    jobs = IndexJobs(assistant.index)
    job, started = jobs.start()
    assert started and jobs.get(job.id) is job
    shown = finish(job)
    assert job.state is JobState.DONE and job.error is None
    assert {stage for stage, _, _ in shown} <= {"", "read", "embed passages", "embed sentences", "store"}
    assert shown[-1] == ("store", 1, 1) and all(0 <= done <= total for _, done, total in shown)
    body = job.to_dict()
    assert body["report"]["documents"]["added"] == ["a.md"]
    assert body["report"]["total"]["chunks"] == sum(r.chunks for r in assistant.manifest().documents.values()) > 0
    assert body["created_at"] <= body["started_at"] <= body["finished_at"] and body["error"] is None


def test_a_second_start_while_one_runs_joins_it_and_the_next_one_starts_afresh(assistant):
    indexer = GatedIndexer(assistant)
    jobs = IndexJobs(indexer)
    try:
        first, started = jobs.start()
        assert started and indexer.reached.wait(60)
        assert first.state is JobState.RUNNING
        joined, again = jobs.start(rebuild=True)
        assert joined is first and not again and not first.rebuild
    finally:
        indexer.open()
    finish(first)
    assert first.state is JobState.DONE
    later, started = jobs.start()
    assert started and later.id != first.id
    finish(later)
    assert later.report is not None and later.report.unchanged == ("a.md",) and later.report.embedded == 0


def test_a_failure_is_kept_in_the_job_with_its_message(assistant, corpus):
    (corpus / "a.md").unlink()
    job, _ = IndexJobs(assistant.index).start()
    finish(job)
    assert job.state is JobState.FAILED and job.report is None
    assert job.to_dict()["error"] == {"kind": "EmptyCorpus", "message": job.message, "status": 409}
    assert "No readable documents found" in job.message


def test_a_bug_is_kept_in_the_job_without_its_internals_and_logged_with_its_traceback(caplog):
    def broken(**_: object) -> None:
        raise RuntimeError("internal detail /srv/secret")

    with caplog.at_level(logging.ERROR, logger="assistant.serving.jobs"):
        job, _ = IndexJobs(broken).start()
        finish(job)
    assert job.state is JobState.FAILED
    assert job.to_dict()["error"] == {"kind": "InternalError", "message": INTERNAL_ERROR, "status": 500}
    (record,) = [r for r in caplog.records if job.id in r.getMessage()]
    assert record.exc_info is not None and "internal detail" in str(record.exc_info[1])


def test_only_the_last_finished_jobs_are_kept(assistant):
    jobs = IndexJobs(assistant.index, keep=2)
    done = []
    for _ in range(3):
        job, _ = jobs.start()
        finish(job)
        done.append(job)
    fourth, _ = jobs.start()  # forgets the oldest of the three finished
    finish(fourth)
    with pytest.raises(UnknownJob, match="last 2 finished jobs"):
        jobs.get(done[0].id)
    assert [jobs.get(job.id) for job in done[1:]] == done[1:]
    with pytest.raises(UnknownJob, match="POST /api/index"):
        jobs.get("no-such-job")
