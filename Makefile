# The one interface. `make run` starts the whole stack locally; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MOTO_PORT ?= 5000
API_PORT ?= 8000
COVENANT_REPLICAS ?= 3
STAGE ?= dev

.PHONY: run test unit lint typecheck check bench package infra docs clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip<26.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	MOTO_PORT=$(MOTO_PORT) API_PORT=$(API_PORT) COVENANT_REPLICAS=$(COVENANT_REPLICAS) $(BIN)/python -m devstack.run

test: $(STAMP)
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -n 2 -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy chalicelib

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python -m bench

# docs/ENTRIES.md is generated from the table of entry types (a test keeps the two equal).
docs: $(STAMP)
	$(BIN)/python -m chalicelib.ledger.entry_types > docs/ENTRIES.md

# Render the resources for COVENANT_REPLICAS replicas and the Lambda policy.
infra: $(STAMP)
	$(BIN)/python -m infra.render --replicas $(COVENANT_REPLICAS) > build/template.json
	$(BIN)/python -m infra.render --replicas $(COVENANT_REPLICAS) --prefix covenant-$(STAGE) --policy > .chalice/policy-$(STAGE).json

# A SAM template with infra/ merged in, checked by cfn-lint (deploy it with `sam deploy` or CloudFormation).
package: $(STAMP)
	mkdir -p build
	$(BIN)/python -m infra.render --replicas $(COVENANT_REPLICAS) > build/template.json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} COVENANT_PREFIX=covenant-$(STAGE) \
		$(BIN)/chalice package --stage $(STAGE) --merge-template build/template.json build/package
	$(BIN)/cfn-lint build/package/sam.json

clean:
	rm -rf $(VENV) build .state .pytest_cache .mypy_cache .ruff_cache .hypothesis
