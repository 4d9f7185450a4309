# One target per chore. `make serve` and `make test` work on a machine that has never seen the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Extras the test environment installs; CI adds `train` (PyTorch, transformers and peft).
EXTRAS ?= dev
comma := ,
DEV_INSTALLED := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: serve worker test check fmt migrate revision clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[postgres,redis]'
	touch $@

$(DEV_INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $@ $(INSTALLED)

serve: $(INSTALLED)  ## Install, migrate the database, serve the API on COLLOQUY_HOST:COLLOQUY_PORT
	$(BIN)/colloquy db upgrade
	$(BIN)/colloquy serve

worker: $(INSTALLED)  ## Run fine-tuning jobs from COLLOQUY_QUEUE_URL (training needs the `train` extra)
	$(BIN)/colloquy worker

check: $(DEV_INSTALLED)  ## Lint, format check, types and import contracts
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

test: check  ## Everything CI runs: the checks, then the whole test suite
	$(BIN)/pytest -n auto

fmt: $(DEV_INSTALLED)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

migrate: $(INSTALLED)
	$(BIN)/colloquy db upgrade

revision: $(INSTALLED)  ## make revision m="what changed"
	$(BIN)/colloquy db revision -m "$(m)"
	$(BIN)/ruff format src/colloquy/migrations/versions

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
