"""Server mode: a real `chroma run` on loopback, indexed by one process and answering in another."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest
from fastapi.testclient import TestClient

from assistant.errors import BackendUnavailable, IndexBusy
from assistant.indexing import lexical
from assistant.indexing.store.lease import EngineLease, lease_names
from assistant.ingest.documents import save_uploads
from assistant.serving.api.app import create_app
from assistant.serving.jobs import IndexJobs
from assistant.serving.status import list_documents
from assistant.service import Assistant
from assistant.settings import Settings, StoreSettings
from assistant.types import IndexReport

CHROMA = Path(sys.executable).with_name("chroma")
DOC = "# 投资\n\n微软对OpenAI的投资是100亿美元。\n\n谷歌对Anthropic的投资是3亿美元。\n"


def app_server(chroma_url: str, index_dir: Path, collection: str, **store: float) -> Assistant:
    """An app server of the library ``collection`` on the Chroma server, with a local folder of its own (a machine);
    the document folder is the test's one ``corpus``, which every replica shares."""
    return Assistant(Settings(paths={"index_dir": index_dir}, store=StoreSettings(chroma_url=chroma_url, collection=collection, **store)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception as exc:  # noqa: BLE001 - not up yet
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start") from exc
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_one_process_indexes_another_answers(chroma_url, corpus, tmp_path):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    writer = Assistant(Settings(store=StoreSettings(chroma_url=chroma_url, collection="shared")))
    first = writer.index()
    assert first.added == ("a.md",)
    assert not (tmp_path / "index" / "manifest.json").exists()  # the manifest lives on the server

    env = {**os.environ, "ASSISTANT_STORE__CHROMA_URL": chroma_url, "ASSISTANT_STORE__COLLECTION": "shared"}
    env["ASSISTANT_PATHS__INDEX_DIR"] = str(tmp_path / "reader-cache")  # a separate process with its own local cache
    asked = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "微软对OpenAI的投资是多少？", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert asked.returncode == 0, asked.stderr
    assert "100亿美元" in json.loads(asked.stdout)["citations"][0]["quote"]

    reader = Assistant(Settings(paths={"index_dir": tmp_path / "reader-cache"}, store=StoreSettings(chroma_url=chroma_url, collection="shared")))
    assert "100亿美元" in reader.ask("微软对OpenAI的投资是多少？").citations[0].quote
    (corpus / "a.md").write_text(DOC.replace("100亿美元", "130亿美元"), encoding="utf-8")
    update = writer.index()
    assert update.updated == ("a.md",) and 0 < update.embedded <= 3
    assert "130亿美元" in reader.ask("微软对OpenAI的投资是多少？").citations[0].quote  # the reader follows the switch
    assert writer.check() == [] and reader.check() == []


def test_unreachable_server_is_a_clear_error(corpus):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable, match="ASSISTANT_STORE__CHROMA_URL"):
        Assistant(Settings(store=StoreSettings(chroma_url=url))).index()


def test_the_engine_lease_admits_one_indexer_and_a_dead_ones_lease_expires(chroma_url):
    """Two machines' indexers on one library: the second is refused with the holder's name; a released lease is
    taken at once, an abandoned one (its indexer killed, nothing renews it) after its time, and the stalled
    holder's fence then reports the loss."""
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    first = EngineLease(client, "leased", ttl_s=30, owner="machine-a:1")
    second = EngineLease(client, "leased", ttl_s=30, owner="machine-b:2")
    with first.held():
        with pytest.raises(IndexBusy, match="machine-a:1"):
            second.acquire()
        assert first.still_held()
    second.acquire()  # released: taken at once, and the old lease collection is gone
    assert lease_names(client, "leased") == ["leased-lease-000000002"] and second.still_held()

    killed = EngineLease(client, "other", ttl_s=1.0, owner="machine-a:3")
    killed.acquire()  # and never renewed or released: its process died
    successor = EngineLease(client, "other", ttl_s=30, owner="machine-b:4")
    with pytest.raises(IndexBusy, match="machine-a:3"):
        successor.acquire()
    time.sleep(1.2)
    successor.acquire()
    assert successor.still_held() and not killed.still_held()  # the stalled indexer would not switch generations
    second.release()
    successor.release()


@pytest.mark.slow
def test_an_index_run_holds_the_lease_and_its_collection_survives_garbage_collection(chroma_url, corpus, tmp_path):
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    settings = Settings(store=StoreSettings(chroma_url=chroma_url, collection="guarded"))
    other_machine = EngineLease(chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1])), "guarded", ttl_s=30, owner="machine-b:9")
    with other_machine.held():
        with pytest.raises(IndexBusy, match="machine-b:9"):
            Assistant(settings).index()
    assert Assistant(settings).index().added == ("a.md",)  # released: this machine indexes
    (corpus / "a.md").write_text(DOC.replace("100亿美元", "130亿美元"), encoding="utf-8")
    assert Assistant(settings).index().updated == ("a.md",)  # its garbage collection left the lease it ran under
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    assert len(lease_names(client, "guarded")) == 1  # the last run's lease, released, kept for the next number
    assert Assistant(settings).check() == []


def test_two_indexers_taking_the_lease_at_the_same_moment_cannot_both_win(chroma_url):
    """Both read "no lease yet" and create number 1: the server creates it for one and refuses the other."""
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))

    class Late:  # lists the collections as they were before the other indexer created its lease
        def __init__(self, real: chromadb.ClientAPI) -> None:
            self.real, self.seen = real, real.list_collections()

        def list_collections(self) -> list:
            return self.seen

        def __getattr__(self, name: str) -> object:
            return getattr(self.real, name)

    late = Late(client)
    winner = EngineLease(client, "race", ttl_s=30, owner="machine-a:1")
    winner.acquire()
    with pytest.raises(IndexBusy, match="same moment"):
        EngineLease(late, "race", ttl_s=30, owner="machine-b:2").acquire()
    assert winner.still_held()
    winner.release()


@pytest.mark.slow
def test_a_retired_generation_outlives_its_switch_by_the_grace_period(chroma_url, corpus):
    """A reader on another machine may still answer from a generation a rebuild retired: the next write keeps its
    collections until ``store.retire_grace_s`` has passed, then drops them."""
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))

    def assistant(grace_s: float) -> Assistant:
        return Assistant(Settings(store=StoreSettings(chroma_url=chroma_url, collection="graced", retire_grace_s=grace_s)))

    assistant(600).index()
    first = assistant(600).store.manifest()
    assistant(600).index(rebuild=True)  # a new generation; the first one retired
    (corpus / "a.md").write_text(DOC + "\n苹果对OpenAI没有投资。\n", encoding="utf-8")
    assistant(600).index()  # a write: within the grace period, the retired collections stay
    names = {getattr(c, "name", c) for c in client.list_collections()}
    assert {first.chunks_collection, first.sentences_collection} <= names
    assert "100亿美元" in client.get_collection(first.chunks_collection).get(limit=1, include=["documents"])["documents"][0]

    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    time.sleep(0.5)
    assistant(0.2).index()  # past its grace period: dropped
    names = {getattr(c, "name", c) for c in client.list_collections()}
    assert not {first.chunks_collection, first.sentences_collection} & names
    assert assistant(0.2).check() == []


@pytest.mark.slow
def test_two_app_servers_share_a_document_folder_and_one_library(chroma_url, corpus, tmp_path):
    """Two app servers (separate local folders, one Chroma server, one shared document folder): a document uploaded
    through A and indexed is listed and answered by B; while A indexes, B's index run is refused with IndexBusy."""
    a, b = (app_server(chroma_url, tmp_path / name, "replicas") for name in "ab")
    saved, rejected = save_uploads(a.settings, [("invest.md", lambda: DOC.encode())])
    assert saved == ["invest.md"] and not rejected
    reached, release = threading.Event(), threading.Event()

    def slow_progress(stage: str, done: int, total: int) -> None:
        reached.set()
        release.wait(60)

    indexing = threading.Thread(target=lambda: a.index(progress=slow_progress))
    indexing.start()
    assert reached.wait(60)
    try:
        with pytest.raises(IndexBusy, match="replicas"):
            b.index()
    finally:
        release.set()
        indexing.join(120)
    listed = {d["doc_id"]: d["status"] for d in list_documents(b)}
    assert listed == {"invest.md": "indexed"}
    assert "100亿美元" in b.ask("微软对OpenAI的投资是多少？").citations[0].quote


@pytest.mark.slow
def test_an_indexer_killed_mid_run_leaves_its_lease_to_expire_and_the_next_one_finishes(chroma_url, corpus, tmp_path):
    """Machine A's `assistant index` is SIGKILLed while it holds the lease; machine B is refused until the lease
    runs out, then indexes: nothing half-built is served and `index --check` is clean."""
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    port = int(chroma_url.rsplit(":", 1)[1])
    env = {**os.environ, "ASSISTANT_STORE__CHROMA_URL": chroma_url, "ASSISTANT_STORE__COLLECTION": "killed",
           "ASSISTANT_STORE__LEASE_S": "5", "ASSISTANT_PATHS__INDEX_DIR": str(tmp_path / "machine-a")}
    machine_b = app_server(chroma_url, tmp_path / "machine-b", "killed", lease_s=5)
    indexer = subprocess.Popen([sys.executable, "-m", "assistant", "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 120
    while not lease_names(client, "killed") and indexer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert indexer.poll() is None, "the indexer finished before it could be killed"
    indexer.kill()
    indexer.wait(30)
    with pytest.raises(IndexBusy, match="until"):
        machine_b.index()
    time.sleep(5.5)
    assert machine_b.index().added == ("a.md",)
    assert machine_b.check() == []
    assert "100亿美元" in machine_b.ask("微软对OpenAI的投资是多少？").citations[0].quote


@pytest.mark.slow
def test_ten_readers_on_one_app_server_answer_throughout_a_reindex_on_another(chroma_url, corpus, tmp_path):
    """While machine A re-indexes an edited document, ten readers on machine B keep asking: no error, and every
    answer comes from one whole generation, the old figure or the new one."""
    (corpus / "a.md").write_text(DOC, encoding="utf-8")

    machine_a, machine_b = (app_server(chroma_url, tmp_path / name, "readers") for name in "ab")
    machine_a.index()
    machine_b.ask("微软对OpenAI的投资是多少？")  # B has loaded the models and the live generation
    (corpus / "a.md").write_text(DOC.replace("100亿美元", "130亿美元") + "\n亚马逊对Anthropic的投资是40亿美元。\n", encoding="utf-8")
    done = threading.Event()
    quotes: list[str] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not done.is_set() or not quotes:
            try:
                quotes.append(machine_b.ask("微软对OpenAI的投资是多少？").citations[0].quote)
            except BaseException as exc:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(10)]
    for reader in readers:
        reader.start()
    try:
        assert machine_a.index().updated == ("a.md",)
    finally:
        done.set()
        for reader in readers:
            reader.join(120)
    assert not errors, errors[:3]
    assert quotes and all(("100亿美元" in q) != ("130亿美元" in q) for q in quotes), set(quotes)
    assert "130亿美元" in machine_b.ask("微软对OpenAI的投资是多少？").citations[0].quote  # B follows the switch


def test_an_index_job_on_one_app_server_is_joined_and_polled_through_another(chroma_url, corpus, tmp_path):
    """Index jobs are pinned on the library's board in the Chroma server: B's POST /api/index joins the job A runs
    (200, A's job id), B answers its poll URL while it runs and when it is done, with A's report."""
    (corpus / "invest.md").write_text(DOC, encoding="utf-8")

    a, b = (app_server(chroma_url, tmp_path / name, "boards") for name in "ab")
    release = threading.Event()

    def held_back(**options: object) -> IndexReport:
        release.wait(60)
        return a.index(**options)

    on_a = TestClient(create_app(a, IndexJobs(held_back, board=a.store.board("jobs"))))
    on_b = TestClient(create_app(b))
    try:
        started = on_a.post("/api/index")
        assert started.status_code == 202
        job_id = started.json()["id"]
        deadline = time.monotonic() + 30
        while (polled := on_b.get(f"/api/index/{job_id}")).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert polled.status_code == 200 and polled.json()["state"] in ("queued", "running")
        joined = on_b.post("/api/index")
        assert joined.status_code == 200 and joined.json()["id"] == job_id
        assert joined.headers["Location"] == f"/api/index/{job_id}"
    finally:
        release.set()
    deadline = time.monotonic() + 180
    while (state := on_b.get(f"/api/index/{job_id}").json())["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state["state"] == "done" and state["report"] == on_a.get(f"/api/index/{job_id}").json()["report"]
    assert state["report"]["documents"]["added"] == ["invest.md"]


def test_a_job_whose_app_server_stopped_pinning_it_shows_as_failed_and_a_new_one_may_start(chroma_url, corpus, tmp_path):
    (corpus / "invest.md").write_text(DOC, encoding="utf-8")
    settings = Settings(paths={"index_dir": tmp_path / "b", "corpus_dir": corpus}, store=StoreSettings(chroma_url=chroma_url, collection="ghosts"))
    b = Assistant(settings)
    board = b.store.board("jobs")
    ghost = {"id": "ghost", "state": "running", "rebuild": False, "stage": "embed passages", "done": 3, "total": 9,
             "created_at": time.time(), "started_at": time.time(), "finished_at": None, "report": None, "error": None}
    board.put("ghost", ghost)
    jobs = IndexJobs(b.index, board=board, stale_s=0.5)
    assert jobs.start()[0].id == "ghost"  # still pinned: joined, not started twice
    time.sleep(1.0)
    shown = TestClient(create_app(b, jobs)).get("/api/index/ghost").json()
    assert shown["state"] == "failed" and shown["error"]["kind"] == "JobAbandoned" and shown["stage"] == "embed passages"
    job, started = jobs.start()
    assert started and job.id != "ghost"
    deadline = time.monotonic() + 180
    while not job.finished and time.monotonic() < deadline:
        job.wait(-1, 1)
    assert job.to_dict()["state"] == "done"
    deadline = time.monotonic() + 15  # its last state is pinned for the other app servers right after
    while board.get(job.id)[0]["state"] != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert board.get(job.id)[0] == job.to_dict()


def test_an_app_server_opening_the_library_reads_each_rows_tokens_instead_of_tokenising(chroma_url, corpus, tmp_path, monkeypatch):
    """The indexer stores each new row's BM25 tokens with it; an app server with an empty local folder builds BM25
    from them without tokenising a single row, and the index is the one tokenising would have built."""
    (corpus / "invest.md").write_text(DOC + "\nStable Diffusion 由 Stability AI 开发。\n", encoding="utf-8")

    app_server(chroma_url, tmp_path / "indexer", "tokens").index()
    reader = app_server(chroma_url, tmp_path / "reader", "tokens").store
    stored = reader.load_chunks(reader.manifest())
    assert stored and all(s.tokens == tuple(lexical.tokenize(s.chunk.text)) for s in stored)
    tokenised: list[str] = []
    real = lexical.tokenize
    monkeypatch.setattr(lexical, "tokenize", lambda text, **options: tokenised.append(text) or real(text, **options))
    opened = app_server(chroma_url, tmp_path / "fresh", "tokens").retriever()
    assert tokenised == []
    chunks = list(opened.chunks.values())
    expected = lexical.LexicalIndex.build([c.id for c in chunks], [c.text for c in chunks])
    query = real("Stability AI 开发")
    assert opened.lexical.search(query, 3) == expected.search(query, 3) and opened.lexical.search(query, 3)


def test_an_app_server_starts_while_the_chroma_server_is_down_and_says_so_when_asked_to_index(corpus):
    url = f"http://127.0.0.1:{free_port()}"
    client = TestClient(create_app(Assistant(Settings(paths={"corpus_dir": corpus}, store=StoreSettings(chroma_url=url)))))
    response = client.post("/api/index")
    assert response.status_code == 503 and "ASSISTANT_STORE__CHROMA_URL" in response.json()["detail"]
