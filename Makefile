# Two entry points for a fresh machine: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: serve test lint typecheck unit bench deploy-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/lmgate serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(STAMP)
	bash bench/run_bench.sh

# Lint, render and schema-validate the Dockerfile, Helm chart, manifests, Flux files and systemd unit
# (docs/deploy.md). Installs its tools on first use into $(DEPLOY_TOOLS).
DEPLOY_TOOLS ?= $(HOME)/.cache/lmgate-deploy-tools
deploy-check: $(STAMP)
	DEPLOY_TOOLS=$(DEPLOY_TOOLS) LMGATE=$(BIN)/lmgate bash deploy/check/run.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
