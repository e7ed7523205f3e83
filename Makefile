# Two entry points for a fresh machine: `make serve` and `make test` (see README.md); the real-client
# tier is `make e2e` (each part also on its own: e2e-model, e2e-webui, ...).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck unit bench deploy-check clean e2e e2e-model e2e-webui e2e-claude e2e-codex e2e-agents

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
E2E_PARTS := e2e-model e2e-webui e2e-claude e2e-codex e2e-agents

e2e: $(E2E_PARTS)

e2e-model: $(STAMP)  ## llama.cpp + SmolLM2: greedy output identical through lmgate and direct, failover, TTFT
	$(BIN)/python e2e/model.py

e2e-webui: $(STAMP)  ## Open WebUI with both connections on lmgate, chat streamed and not (~7 GB install)
	$(BIN)/python e2e/webui.py

# Real agent clients, installed once from npm into the e2e cache directory (not part of `make test`).
E2E_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/lmgate-e2e
CLAUDE  := $(E2E_DIR)/node_modules/.bin/claude

$(CLAUDE):
	mkdir -p $(E2E_DIR)
	cd $(E2E_DIR) && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund @anthropic-ai/claude-code

# Claude Code -> lmgate -> a loopback model (OpenAI-compatible and Ollama): one Bash tool round trip each.
e2e-claude: $(STAMP) $(CLAUDE)
	LMGATE_E2E_CLAUDE=$(CLAUDE) $(BIN)/pytest tests/e2e_claude_code.py -q

# Codex CLI -> lmgate's Responses API -> a loopback model (OpenAI-compatible and Ollama): one exec_command round trip each.
CODEX := $(E2E_DIR)/node_modules/.bin/codex

$(CODEX):
	mkdir -p $(E2E_DIR)
	cd $(E2E_DIR) && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund @openai/codex

e2e-codex: $(STAMP) $(CODEX)
	LMGATE_E2E_CODEX=$(CODEX) $(BIN)/pytest tests/e2e_codex.py -q

# The OpenAI Agents SDK (PyPI openai-agents) -> lmgate's Responses API, in a venv of its own (the SDK
# pulls in mcp and more, kept out of the test extras).
AGENTS_VENV := $(E2E_DIR)/agents-venv

$(AGENTS_VENV)/bin/pytest:
	$(PYTHON) -m venv $(AGENTS_VENV)
	$(AGENTS_VENV)/bin/pip install -q -e '.[test]' openai-agents

e2e-agents: $(AGENTS_VENV)/bin/pytest
	$(AGENTS_VENV)/bin/pytest tests/e2e_agents_sdk.py -q -p no:cacheprovider

# Lint, render and schema-validate the Dockerfile, Helm chart, manifests, Flux files and systemd unit
# (docs/deploy.md). Installs its tools on first use into $(DEPLOY_TOOLS).
DEPLOY_TOOLS ?= $(HOME)/.cache/lmgate-deploy-tools
deploy-check: $(STAMP)
	DEPLOY_TOOLS=$(DEPLOY_TOOLS) LMGATE=$(BIN)/lmgate bash deploy/check/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
