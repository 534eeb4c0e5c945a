"""REST API: the real report index behind FastAPI's TestClient, plus one real `assistant serve` over HTTP."""

import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from conftest import (
    REPORT,
    GatedIndexer,
    assistant_server,
    fill_disk,
    finished_job,
    gradio_event,
    on_small_disk,
    read_only,
)
from pydantic import SecretStr, ValidationError

from assistant.errors import IndexCorrupt
from assistant.indexing.build import exclusive
from assistant.indexing.store.manifest import DocumentRecord
from assistant.service import Assistant
from assistant.serving.admin import is_loopback
from assistant.serving.api.app import create_app
from assistant.serving.api.ratelimit import RateLimiter
from assistant.serving.api.responses import (
    AnswerOut,
    DocumentOut,
    IndexJobOut,
    PassageOut,
)
from assistant.serving.api.schemas import MAX_JSON_BYTES
from assistant.serving.api.sse import INTERNAL_ERROR, sse_frames
from assistant.serving.jobs import IndexJobs
from assistant.serving.status import document_statuses
from assistant.settings import AnswerSettings, LimitSettings, PathSettings, ServerSettings, Settings
from assistant.types import EventKind, StreamEvent

ZH = "微软对OpenAI的投资金额是多少？"
EN = "How much more can a generative AI query cost than a conventional index query?"
TOKEN = "s3cret-token-0123456789"
DOC = "摘要\n\n微软对OpenAI的投资是100亿美元。\n\n谷歌对Anthropic的投资是3亿美元。\n"


def without_timings(answer: dict) -> dict:
    """Everything but the measured milliseconds, which differ between two runs of the same question."""
    return {key: value for key, value in answer.items() if key != "timings_ms"}


@pytest.fixture(scope="module")
def client(report_assistant: Assistant) -> TestClient:
    """The report index without a rate limit: these tests ask far more than one client may in a minute."""
    settings = report_assistant.settings.model_copy(update={"limits": LimitSettings(rate_per_minute=0)})
    return TestClient(create_app(Assistant(settings, embedder=report_assistant.embedder, store=report_assistant.store)))


def small_assistant(report_assistant: Assistant, **server: object) -> Assistant:
    """An assistant over the test's own corpus and index (see conftest), sharing the already loaded model."""
    settings = Settings(server=ServerSettings(**server))
    return Assistant(settings, embedder=report_assistant.embedder)


def parse_sse(body: str) -> list[tuple[str, dict]]:
    """(event name, data) per server-sent event; unnamed events are "message", as in browsers."""
    events = []
    for frame in filter(None, body.split("\n\n")):
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus exposition text as {(sample name, sorted labels): value}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def assert_quotes_are_verbatim(answer: dict) -> None:
    texts = {hit["chunk_id"]: hit["text"] for hit in answer["retrieved"]}
    assert answer["citations"]
    for citation in answer["citations"]:
        assert citation["quote"] in texts[citation["chunk_id"]]


@pytest.mark.parametrize("question", [ZH, EN])
def test_ask_returns_the_cli_json_with_verbatim_citations(client, report_assistant, question):
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200
    answer = response.json()
    assert without_timings(answer) == without_timings(report_assistant.ask(question).to_dict())
    assert answer["answerable"]
    assert_quotes_are_verbatim(answer)


def test_ask_honours_k_and_accepts_history(client):
    history = [{"question": ZH, "answer": "100亿美元"}]
    response = client.post("/api/ask", json={"question": EN, "k": 2, "history": history})
    assert response.status_code == 200
    assert len(response.json()["retrieved"]) == 2


def test_streamed_answer_ends_with_the_answer_event(client):
    response = client.post("/api/ask", params={"stream": "true"}, json={"question": ZH})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert {name for name, _ in events} == {"message"}
    *deltas, (_, final) = events
    assert final.pop("type") == "answer"
    assert without_timings(final) == without_timings(client.post("/api/ask", json={"question": ZH}).json())
    assert "".join(data["text"] for _, data in deltas if data["type"] == "token").strip()


def test_a_failure_after_streaming_began_becomes_an_error_event():
    def events(error: Exception) -> Iterator[StreamEvent]:
        yield StreamEvent(EventKind.TOKEN, "部分")
        raise error

    frames = list(sse_frames(events(IndexCorrupt("index", "bad file"))))
    assert frames[0] == 'data: {"type": "token", "text": "部分"}\n\n'
    assert parse_sse(frames[1]) == [("error", {"message": str(IndexCorrupt("index", "bad file"))})]
    hidden = list(sse_frames(events(RuntimeError("secret internals"))))
    assert parse_sse(hidden[1]) == [("error", {"message": INTERNAL_ERROR})]


LIMIT = AnswerSettings().max_question_chars


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "question: Field required"),
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "   "}, "Please type a question"),
        ({"question": "问" * (LIMIT + 1)}, f"the limit is {LIMIT}"),
        ({"question": ZH, "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": ZH, "k": 51}, "k: Input should be less than or equal to 50"),
        ({"question": ZH, "k": "many"}, "k: Input should be a valid integer"),
        ({"question": ZH, "history": [{"question": "q", "answer": "a"}] * 21}, "history: List should have at most 20"),
        ({"question": ZH, "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_requests_are_422_with_a_readable_message(client, body, message):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_retrieve_returns_the_ranked_passages(client, report_assistant):
    response = client.post("/api/retrieve", json={"question": EN, "k": 3})
    assert response.status_code == 200
    assert response.json() == [hit.to_dict() for hit in report_assistant.retrieve(EN, 3)]
    assert [hit["rank"] for hit in response.json()] == [1, 2, 3]


def test_documents_and_health_describe_the_loaded_index(client, report_assistant, report_settings):
    chunks = len(report_assistant.retriever().chunks)
    (name,) = [p.name for p in report_settings.paths.corpus_dir.iterdir() if p.suffix == ".txt"]  # not its .toml
    documents = client.get("/api/documents").json()
    assert [(d["doc_id"], d["status"], d["chunks"], d["language"]) for d in documents] == [(name, "indexed", chunks, "zh")]
    health = client.get("/healthz")
    assert health.status_code == 200
    on_disk = sum(p.stat().st_blocks * 512 for p in report_settings.paths.index_dir.rglob("*") if p.is_file())
    assert health.json()["index_bytes"] == on_disk > 1_000_000
    assert health.json() | {"built_at": 0, "index_bytes": 0} == {
        "status": "ok",
        "index_loaded": True,
        "documents": 1,
        "chunks": chunks,
        "index_bytes": 0,
        "built_at": 0,
        "stale_reason": None,
        "embedding_model": report_assistant.embedder.identity,
        "answerer": "none",  # auto, and no model file in the test's working directory
        "answers": report_assistant.settings.llm.describe(),
    }


def test_document_statuses_compare_the_manifest_with_disk():
    indexed = {
        "same.txt": DocumentRecord(sha256="1", chunks=2, indexed_at=0),
        "edited.txt": DocumentRecord(sha256="2", chunks=1, indexed_at=0),
        "bad.txt": DocumentRecord(sha256="3", error="Cannot read bad.txt: not text.", indexed_at=0),
        "deleted.txt": DocumentRecord(sha256="4", chunks=1, indexed_at=0),
    }
    on_disk = {"same.txt": "1", "edited.txt": "2b", "bad.txt": "3", "new.txt": "5"}
    statuses = {d["doc_id"]: d["status"] for d in document_statuses(indexed, on_disk)}
    assert statuses == {
        "bad.txt": "error",
        "deleted.txt": "missing on disk",
        "edited.txt": "changed on disk",
        "new.txt": "not indexed",
        "same.txt": "indexed",
    }


def test_without_an_index_everything_says_how_to_build_it(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = TestClient(create_app(small_assistant(report_assistant)))
    health = client.get("/healthz")
    assert health.status_code == 503 and not health.json()["index_loaded"]
    assert "assistant index" in health.json()["detail"]
    answer = client.post("/api/ask", json={"question": ZH})
    assert answer.status_code == 503 and answer.json()["detail"] == health.json()["detail"]
    streamed = client.post("/api/ask", params={"stream": "true"}, json={"question": ZH})
    assert streamed.status_code == 503
    assert parse_sse(streamed.text) == [("error", {"message": health.json()["detail"]})]
    assert [(d["doc_id"], d["status"]) for d in client.get("/api/documents").json()] == [("a.md", "not indexed")]


def test_metrics_count_requests_by_route_and_show_the_index_size(report_assistant):
    client = TestClient(create_app(report_assistant))
    for body in ({"question": EN}, {"question": ZH}, {"question": ZH, "k": 0}):
        client.post("/api/retrieve", json=body)
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = metric_samples(response.text)
    route = ("route", "/api/retrieve")
    assert samples[("assistant_http_requests_total", (("method", "POST"), route, ("status", "200")))] == 2
    assert samples[("assistant_http_requests_total", (("method", "POST"), route, ("status", "422")))] == 1
    assert samples[("assistant_http_request_duration_seconds_count", (route,))] == 3
    assert samples[("assistant_index_documents", ())] == 1
    assert samples[("assistant_index_chunks", ())] == len(report_assistant.retriever().chunks)


def test_admin_without_a_token_builds_on_loopback_and_is_refused_elsewhere(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    exposed = TestClient(create_app(small_assistant(report_assistant, host="0.0.0.0")))
    refused = exposed.post("/api/index")
    assert refused.status_code == 403 and "ASSISTANT_SERVER__ADMIN_TOKEN" in refused.json()["detail"]
    local = TestClient(create_app(small_assistant(report_assistant, host="127.0.0.1")))
    built = finished_job(local, local.post("/api/index", json={"rebuild": False}))
    assert built["state"] == "done" and built["report"]["documents"]["added"] == ["a.md"]
    (corpus / "a.md").write_text(DOC + "\n新增一句话。\n", encoding="utf-8")
    (corpus / "b.md").write_text(DOC, encoding="utf-8")
    statuses = [(d["doc_id"], d["status"]) for d in local.get("/api/documents").json()]
    assert statuses == [("a.md", "changed on disk"), ("b.md", "not indexed")]
    assert local.get("/healthz").json()["stale_reason"] == "documents changed"


def test_admin_token_is_required_when_configured(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    assistant = small_assistant(report_assistant, host="0.0.0.0", admin_token=SecretStr(TOKEN))
    client = TestClient(create_app(assistant))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Admin-Token": TOKEN[:-1]}, {"Authorization": TOKEN}):
        response = client.post("/api/index", json={"rebuild": True}, headers=headers)
        assert response.status_code == 401, headers
        assert "ASSISTANT_SERVER__ADMIN_TOKEN" in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert assistant.stale_reason() == "no index yet"
    admin = {"Authorization": f"Bearer {TOKEN}"}
    first = client.post("/api/index", headers=admin)
    assert first.status_code == 202 and finished_job(client, first, admin)["state"] == "done"
    again = finished_job(client, client.post("/api/index", headers={"X-Admin-Token": TOKEN}), {"X-Admin-Token": TOKEN})
    assert again["report"]["documents"]["unchanged"] == ["a.md"]


def test_index_job_while_another_process_holds_the_index_fails_with_409(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    assistant = small_assistant(report_assistant)
    client = TestClient(create_app(assistant))
    with exclusive(assistant.settings.paths.index_dir):
        job = finished_job(client, client.post("/api/index"))
    assert job["state"] == "failed" and job["report"] is None
    assert job["error"]["kind"] == "IndexBusy" and job["error"]["status"] == 409
    assert "Another indexing run" in job["error"]["message"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("LocalHost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False)],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_parallel_asks_all_succeed(client, report_assistant):
    questions = [ZH, EN, "企业买家在选择生成式AI供应商时经常采用哪些标准？"]
    expected = {q: without_timings(report_assistant.ask(q).to_dict()) for q in questions}
    results: list[tuple[str, int, dict]] = []

    def ask_all(offset: int) -> None:
        for i in range(3):
            question = questions[(offset + i) % len(questions)]
            response = client.post("/api/ask", json={"question": question})
            results.append((question, response.status_code, response.json()))

    threads = [threading.Thread(target=ask_all, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 24
    assert all(status == 200 and without_timings(body) == expected[q] for q, status, body in results)


def test_openapi_describes_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/retrieve", "/api/documents", "/api/index", "/api/index/{job_id}", "/healthz"} <= paths.keys()
    assert "text/event-stream" in paths["/api/ask"]["post"]["responses"]["200"]["content"]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"quote", "page", "section", "verified"} <= schemas["CitationOut"]["properties"].keys()
    assert schemas["AnswerOut"]["properties"]["citations"]["items"]["$ref"].endswith("/CitationOut")


def test_responses_match_their_declared_models(client, corpus):
    AnswerOut.model_validate(client.post("/api/ask", json={"question": ZH}).json())
    AnswerOut.model_validate(client.post("/api/ask", json={"question": "这份报告对火星殖民的预算是多少？"}).json())
    for passage in client.post("/api/retrieve", json={"question": EN}).json():
        PassageOut.model_validate(passage)
    for document in client.get("/api/documents").json():
        DocumentOut.model_validate(document)


@pytest.mark.slow
def test_served_api_answers_over_http(served):
    with httpx.Client(base_url=served.url, timeout=60) as http:
        health = http.get("/healthz")
        assert health.status_code == 200 and health.json()["index_loaded"]
        answer = http.post("/api/ask", json={"question": ZH})
        assert answer.status_code == 200 and "100亿美元" in answer.json()["answer"]
        assert_quotes_are_verbatim(answer.json())
        assert http.post("/api/index").status_code == 401
        admin = {"Authorization": f"Bearer {served.admin_token}"}
        with httpx.Client(base_url=served.url, timeout=60) as starter:  # the client that started the job goes away
            started = starter.post("/api/index", headers=admin)
        job = IndexJobOut.model_validate(finished_job(http, started, admin))
        assert job.state == "done" and job.report is not None and job.report.embedded == 0
        samples = metric_samples(http.get("/metrics").text)
        assert samples[("assistant_http_requests_total", (("method", "POST"), ("route", "/api/ask"), ("status", "200")))] >= 1
        assert http.get("/").headers["content-type"].startswith("text/html")  # the chat UI shares the server


def test_short_admin_tokens_are_refused_at_startup():
    with pytest.raises(ValidationError, match="at least 16"):
        ServerSettings(admin_token=SecretStr("guessable"))


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refills_at_the_rate():
    clock = Clock()
    limiter = RateLimiter(per_minute=30, burst=3, clock=clock)
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(2.0)  # one token every 2 s
    assert limiter.wait("b") == 0.0  # buckets are per client
    clock.now = 1.0
    assert limiter.wait("a") == pytest.approx(1.0)
    clock.now = 2.0
    assert limiter.wait("a") == 0.0
    assert limiter.wait("a") > 0
    clock.now = 1000.0
    assert [limiter.wait("a") for _ in range(4)][-1] > 0  # an idle client gets its burst back, not more
    assert all(RateLimiter(per_minute=0, burst=1).wait("a") == 0.0 for _ in range(100))


def test_too_many_questions_are_429_with_retry_after(report_assistant):
    settings = report_assistant.settings.model_copy(update={"limits": LimitSettings(rate_per_minute=1, rate_burst=2)})
    client = TestClient(create_app(Assistant(settings, embedder=report_assistant.embedder, store=report_assistant.store)))
    assert client.post("/api/retrieve", json={"question": ZH}).status_code == 200
    assert client.post("/api/ask", json={"question": ZH}).status_code == 200
    refused = client.post("/api/ask", json={"question": ZH})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "the limit is 1 a minute" in refused.json()["detail"]
    assert client.post("/api/retrieve", json={"question": ZH}).status_code == 429
    assert client.get("/api/documents").status_code == 200  # reading the document list is not limited


def test_an_oversized_json_body_is_refused_before_parsing(client):
    body = b'{"question": "' + b"a" * MAX_JSON_BYTES + b'"}'
    response = client.post("/api/retrieve", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_owner_uploads_and_deletes_documents_then_indexes(report_assistant, corpus):
    assistant = small_assistant(report_assistant, host="0.0.0.0", admin_token=SecretStr(TOKEN))
    client = TestClient(create_app(assistant))
    admin = {"Authorization": f"Bearer {TOKEN}"}
    files = [("files", ("a.md", DOC.encode())), ("files", ("notes/b.txt", DOC.encode()))]
    assert client.post("/api/documents", files=files).status_code == 401
    assert client.delete("/api/documents/a.md").status_code == 401
    assert not any(corpus.iterdir())
    saved = client.post("/api/documents", files=files, headers=admin)
    assert saved.status_code == 200 and saved.json() == {"saved": ["a.md", "b.txt"], "rejected": []}
    assert [d["status"] for d in client.get("/api/documents").json()] == ["not indexed", "not indexed"]
    assert finished_job(client, client.post("/api/index", headers=admin), admin)["report"]["documents"]["added"] == ["a.md", "b.txt"]
    partly = client.post("/api/documents", files=[files[0], ("files", ("run.exe", b"MZ"))], headers=admin)
    assert partly.status_code == 422 and partly.json()["saved"] == ["a.md"]
    assert "'run.exe' is not a supported document" in partly.json()["detail"]
    assert client.delete("/api/documents/b.txt", headers=admin).json() == {"removed": ["b.txt"]}
    missing = client.delete("/api/documents/b.txt", headers=admin)
    assert missing.status_code == 404 and "no document 'b.txt'" in missing.json()["detail"]
    assert finished_job(client, client.post("/api/index", headers=admin), admin)["report"]["documents"]["removed"] == ["b.txt"]
    assert sorted(p.name for p in corpus.iterdir()) == ["a.md"]


# -- indexing jobs ---------------------------------------------------------------------------


def test_index_is_a_job_answered_with_202_and_polled_to_the_report(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = TestClient(create_app(small_assistant(report_assistant)))
    started = client.post("/api/index", json={})
    assert started.status_code == 202
    job = IndexJobOut.model_validate(started.json())
    assert started.headers["location"] == f"/api/index/{job.id}" and job.state in ("queued", "running", "done")
    done = IndexJobOut.model_validate(finished_job(client, started))
    assert done.id == job.id and done.state == "done" and done.error is None
    assert done.report is not None and done.report.documents.added == ["a.md"]
    assert client.post("/api/ask", json={"question": ZH}).json()["answerable"]
    missing = client.get("/api/index/no-such-job")
    assert missing.status_code == 404 and "POST /api/index" in missing.json()["detail"]


def test_a_second_index_request_joins_the_running_job(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    indexer = GatedIndexer(small_assistant(report_assistant))
    client = TestClient(create_app(indexer.assistant, IndexJobs(indexer)))
    try:
        first = client.post("/api/index")
        assert first.status_code == 202 and indexer.reached.wait(60)
        assert client.get(first.headers["location"]).json()["state"] == "running"
        second = client.post("/api/index", json={"rebuild": True})
        assert second.status_code == 200 and second.headers["location"] == first.headers["location"]
        assert IndexJobOut.model_validate(second.json()).rebuild is False
    finally:
        indexer.open()
    assert finished_job(client, second)["state"] == "done"
    assert client.post("/api/index").headers["location"] != first.headers["location"]


def test_a_failed_job_says_why_and_the_previous_index_keeps_serving(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = TestClient(create_app(small_assistant(report_assistant)))
    assert finished_job(client, client.post("/api/index"))["state"] == "done"
    (corpus / "a.md").unlink()  # nothing left to index: the job must fail, not switch to an empty index
    job = IndexJobOut.model_validate(finished_job(client, client.post("/api/index")))
    assert job.state == "failed" and job.report is None and job.error is not None
    assert (job.error.kind, job.error.status) == ("EmptyCorpus", 409)
    assert job.error.message.startswith("No readable documents found")
    assert "100亿美元" in client.post("/api/ask", json={"question": ZH}).json()["answer"]


def test_polling_a_job_needs_the_admin_token_when_one_is_configured(report_assistant, corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = TestClient(create_app(small_assistant(report_assistant, admin_token=SecretStr(TOKEN))))
    admin = {"Authorization": f"Bearer {TOKEN}"}
    started = client.post("/api/index", headers=admin)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Admin-Token": TOKEN[:-1]}):
        refused = client.get(started.headers["location"], headers=headers)
        assert refused.status_code == 401 and "ASSISTANT_SERVER__ADMIN_TOKEN" in refused.json()["detail"]
        assert "state" not in refused.json()
    assert finished_job(client, started, admin)["state"] == "done"


def test_a_job_on_a_read_only_index_folder_fails_with_503_and_the_old_index_keeps_serving(report_assistant, corpus, tmp_path):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = TestClient(create_app(small_assistant(report_assistant)))
    assert finished_job(client, client.post("/api/index"))["state"] == "done"
    (corpus / "a.md").write_text(DOC + "\n新增一句话：示例公司的总部位于杭州。\n", encoding="utf-8")  # the job must write
    index = tmp_path / "index"
    with read_only(index, index / "chroma"):
        jobs = [IndexJobOut.model_validate(finished_job(client, client.post("/api/index"))) for _ in range(2)]
        assert "100亿美元" in client.post("/api/ask", json={"question": ZH}).json()["answer"]
    for job in jobs:  # the second try is refused before Chroma is touched again
        assert job.state == "failed" and job.error is not None
        assert (job.error.kind, job.error.status) == ("StorageUnavailable", 503)
        assert job.error.message.startswith("Cannot write to") and "the previous index keeps serving" in job.error.message
    assert finished_job(client, client.post("/api/index"))["report"]["documents"]["updated"] == ["a.md"]


@pytest.mark.slow
def test_a_full_disk_fails_the_index_job_readably_and_the_old_index_keeps_answering(report_assistant, corpus, tmp_path):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    built, index = tmp_path / "built", tmp_path / "index"
    Assistant(Settings(paths=PathSettings(corpus_dir=corpus, index_dir=built)), embedder=report_assistant.embedder).index()
    index.mkdir()
    log = tmp_path / "server.log"
    with assistant_server(corpus, index, log, wrap=partial(on_small_disk, index, built)) as server, httpx.Client(
        base_url=server.url, timeout=120
    ) as http:
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        assert "100亿美元" in http.post("/api/ask", json={"question": ZH}).json()["answer"]
        (corpus / "b.txt").write_text(REPORT.read_text(encoding="utf-8")[5000:8000], encoding="utf-8")
        filler = fill_disk(Path(f"/proc/{server.pid}/root{index}"), leave=64 * 1024)  # the server's own tmpfs
        job = IndexJobOut.model_validate(finished_job(http, http.post("/api/index", headers=admin), admin))
        assert job.state == "failed" and job.error is not None, job
        assert (job.error.kind, job.error.status) == ("StorageUnavailable", 503)
        assert "Free disk space" in job.error.message and "Traceback" not in job.error.message
        assert "100亿美元" in http.post("/api/ask", json={"question": ZH}).json()["answer"]
        shown = gradio_event(server.url, "click", [server.admin_token, None], elem_id="reindex", timeout=300)
        assert shown["success"] is False and "Free disk space" in shown["output"]["error"]
        filler.unlink()
        done = finished_job(http, http.post("/api/index", headers=admin), admin)
        assert done["state"] == "done" and done["report"]["documents"]["added"] == ["b.txt"]
    assert "Traceback" not in log.read_text() and "shown to the user: Cannot write to" in log.read_text()
