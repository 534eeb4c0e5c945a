"""Shared fixtures: every test's state lives under tmp_path; the report index is built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.service import Assistant
from assistant.settings import PathSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "corpus" / "genai-enterprise-report.zh.txt"
GOLDEN = ROOT.parent / "shared" / "eval" / "golden_dev.jsonl"


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
    return Settings(paths=PathSettings(corpus_dir=base / "corpus", index_dir=base / "index"))


@pytest.fixture(scope="session")
def report_assistant(report_settings: Settings) -> Assistant:
    """The real report indexed with the real bundled embeddings (about 20 s, once)."""
    assistant = Assistant(report_settings)
    assistant.index(rebuild=True)
    return assistant


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def report_text() -> str:
    return REPORT.read_text(encoding="utf-8")
