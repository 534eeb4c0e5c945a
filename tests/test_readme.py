"""The README and docs/ as a reader meets them: every relative link resolves, and the README's CLI lines run.

Only an explicit allow-list of commands is run, chosen by their first words: those that need no server, no model
download and no indexing of their own (`--help`, `config`, each command's `--help` for the option synopses), and,
as slow tests, `ask` and `retrieve` against the report's real index (built once per session by the
`report_assistant` fixture), with extractive answers so no model is loaded.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from itertools import takewhile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
ASSISTANT = str(Path(sys.executable).parent / "assistant")
EXECUTABLES = {".venv/bin/assistant", "assistant"}

FENCE = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.DOTALL | re.MULTILINE)
SHELL_BLOCK = re.compile(r"^```(?:bash|sh|shell|console)[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)

# First words of the concrete README lines that are run; any other line is left alone (serve, index, eval, model
# fetch, changes: they start servers, download models, index the corpus folder or need several versions).
FAST = {("--help",), ("config",), ("config", "--markdown")}
NEEDS_INDEX = {("ask",), ("retrieve",)}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script kept), spaces to '-'."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", markdown), re.MULTILINE)
    return {slug(h) for h in headings} | set(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", markdown))


def relative_links(markdown: str) -> list[str]:
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return [t for t in LINK.findall(prose) + REFERENCE.findall(prose) if not EXTERNAL.match(t)]


def broken_links(page: Path) -> list[str]:
    """Each relative link of ``page`` whose file does not exist, or whose #anchor is no heading of that file."""
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file.read_text(encoding="utf-8")):
            broken.append(f"{target} (no heading #{fragment} in {file.name})")
    return broken


def shell_lines(markdown: str) -> list[str]:
    """The lines of the fenced shell blocks, a line ending in a backslash joined with the next."""
    blocks = (block.replace("\\\n", " ") for block in SHELL_BLOCK.findall(markdown))
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def cli_lines(markdown: str) -> list[list[str]]:
    """The arguments of every shell line that runs the assistant (comments dropped)."""
    commands = []
    for line in shell_lines(markdown):
        words = shlex.split(line, comments=True)
        if words and words[0] in EXECUTABLES:
            commands.append(words[1:])
    return commands


def is_synopsis(args: list[str]) -> bool:
    """A usage line (``[--k N]``, ``DOC``, ``1.5b|0.5b``) rather than a command to run as written."""
    return any(w.startswith("[") or w.endswith("]") or "|" in w or re.fullmatch(r"[A-Z][A-Z_]*", w) for w in args)


def without_options(args: list[str]) -> list[str]:
    """A usage line with its optional ``[...]`` groups left out: ``config [--markdown]`` is ``config``."""
    kept, depth = [], 0
    for word in args:
        depth += word.count("[")
        if depth == 0:
            kept.append(word)
        depth -= word.count("]")
    return kept


def command_path(args: list[str]) -> list[str]:
    return list(takewhile(lambda w: re.fullmatch(r"[a-z][a-z-]*", w), args))


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "ASSISTANT_LLM__PROVIDER": "none", **(env or {})}
    return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, timeout=timeout, env=full_env)


README_TEXT = README.read_text(encoding="utf-8")
COMMANDS = cli_lines(README_TEXT)
SYNOPSES = [args for args in COMMANDS if is_synopsis(args)]
# Each line as written, or a usage line with its optional parts left out, when nothing in it is a placeholder.
RUNNABLE = list({tuple(a): a for a in map(without_options, COMMANDS) if a and not is_synopsis(a)}.values())
QUICK = [args for args in RUNNABLE if tuple(args) in FAST]
INDEXED = [args for args in RUNNABLE if tuple(command_path(args)[:1]) in NEEDS_INDEX and "--doc" not in args]


def line_id(args: list[str]) -> str:
    return " ".join(args)[:60] or "(none)"


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_an_existing_file(page):
    assert not broken_links(page), f"broken links in {page.relative_to(ROOT)}: {broken_links(page)}"


def test_the_link_check_finds_a_broken_link_and_a_missing_anchor(tmp_path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Some section · 部分\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[fine](other.md) [fine too](other.md#some-section--部分) ![missing](images/none.png)\n"
        "[no anchor](other.md#nowhere) `[in code](ignored.md)` [web](https://example.com/x.md)\n"
        "```\n[in a block](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["images/none.png (no such file)", "other.md#nowhere (no heading #nowhere in other.md)"]


def test_the_readme_links_every_docs_page_and_keeps_the_two_commands():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in relative_links(README_TEXT)}
    assert [p.name for p in DOCS if p.resolve() not in linked] == []
    lines = shell_lines(README_TEXT)
    assert any(line.startswith("make run ") or line == "make run" for line in lines)
    assert any(line.startswith("make test ") or line == "make test" for line in lines)
    assert len(README_TEXT.splitlines()) <= 250, "keep the README short: move details into docs/"


def test_the_readme_has_commands_to_run():
    """Guards the parsing: the README's CLI block is found and its quick lines are recognised."""
    assert ["--help"] in QUICK and ["config"] in QUICK and len(SYNOPSES) >= 5
    assert {args[0] for args in INDEXED} == {"ask", "retrieve"}


@pytest.mark.parametrize("args", QUICK, ids=line_id)
def test_quick_readme_command_exits_0(args):
    result = run(args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("args", SYNOPSES, ids=line_id)
def test_readme_synopsis_names_a_real_command_and_its_options(args):
    path = command_path(args)
    result = run([*path, "--help"])
    assert result.returncode == 0, result.stderr
    options = set(re.findall(r"--[a-z][\w-]*", " ".join(args))) - {"--help"}
    assert {o for o in options if o not in result.stdout} == set(), f"`assistant {' '.join(path)} --help` lacks them"


@pytest.mark.slow
@pytest.mark.parametrize("args", INDEXED, ids=line_id)
def test_readme_question_runs_against_the_report_index(args, report_assistant):
    paths = report_assistant.settings.paths
    env = {"ASSISTANT_PATHS__CORPUS_DIR": str(paths.corpus_dir), "ASSISTANT_PATHS__INDEX_DIR": str(paths.index_dir)}
    result = run(args, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
