# Two entry points for a fresh machine: `make serve` and `make test` (see README.md); the real-client
# tier is `make e2e` (each part also on its own: e2e-model, e2e-webui, ...).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck unit bench clean e2e e2e-model e2e-webui e2e-claude e2e-codex

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/lmgate serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests e2e

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(STAMP)
	bash bench/run_bench.sh

# The real-client tier: real servers and clients nobody on the team wrote, each part installing what it
# needs into $${XDG_CACHE_HOME:-~/.cache}/lmgate-e2e on first use (e2e/install.sh prints how long).
E2E_PARTS := e2e-model e2e-webui
# e2e-claude / e2e-codex: Claude Code and Codex doing a tool round trip through lmgate. They land with the
# Anthropic Messages and Responses protocols: add `e2e/claude.py` / `e2e/codex.py` (an `agents` part in
# e2e/install.sh for the npm CLIs), the target below, and the name to E2E_PARTS.

e2e: $(E2E_PARTS)

e2e-model: $(STAMP)  ## llama.cpp + SmolLM2: greedy output identical through lmgate and direct, failover, TTFT
	$(BIN)/python e2e/model.py

e2e-webui: $(STAMP)  ## Open WebUI with both connections on lmgate, chat streamed and not (~7 GB install)
	$(BIN)/python e2e/webui.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
