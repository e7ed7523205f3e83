# Two entry points for a fresh machine: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck unit bench deploy-check e2e-claude e2e-codex e2e-agents clean

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

# The real Codex CLI through lmgate's Responses API against a loopback fake model (offline; see e2e/).
E2E_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/lmgate-e2e
e2e-codex: $(STAMP)
	@test -x $(E2E_CACHE)/node_modules/.bin/codex || (mkdir -p $(E2E_CACHE) && cd $(E2E_CACHE) && \
		(test -f package.json || npm init -y >/dev/null) && npm install --no-audit --no-fund @openai/codex)
	LMGATE_CODEX=$(E2E_CACHE)/node_modules/.bin/codex $(BIN)/pytest e2e/test_codex.py -q

# The OpenAI Agents SDK (PyPI openai-agents) through lmgate, in a venv of its own (it pulls in mcp & co.).
AGENTS_VENV := $(E2E_CACHE)/agents-venv
e2e-agents:
	@test -x $(AGENTS_VENV)/bin/pytest || ($(PYTHON) -m venv $(AGENTS_VENV) && \
		$(AGENTS_VENV)/bin/pip install -q -e '.[test]' openai-agents)
	$(AGENTS_VENV)/bin/pytest e2e/test_agents_sdk.py -q -p no:cacheprovider

bench: $(STAMP)
	bash bench/run_bench.sh

# Real agent clients, installed once from npm into a cache directory (not part of `make test`).
E2E_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/lmgate-e2e
CLAUDE  := $(E2E_DIR)/node_modules/.bin/claude

$(CLAUDE):
	mkdir -p $(E2E_DIR)
	cd $(E2E_DIR) && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund @anthropic-ai/claude-code

# Claude Code -> lmgate -> a loopback model (OpenAI-compatible and Ollama): one Bash tool round trip each.
e2e-claude: $(STAMP) $(CLAUDE)
	LMGATE_E2E_CLAUDE=$(CLAUDE) $(BIN)/pytest tests/e2e_claude_code.py -q

# Lint, render and schema-validate the Dockerfile, Helm chart, manifests, Flux files and systemd unit
# (docs/deploy.md). Installs its tools on first use into $(DEPLOY_TOOLS).
DEPLOY_TOOLS ?= $(HOME)/.cache/lmgate-deploy-tools
deploy-check: $(STAMP)
	DEPLOY_TOOLS=$(DEPLOY_TOOLS) LMGATE=$(BIN)/lmgate bash deploy/check/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
