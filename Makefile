# Two commands: `make run` (the app on embedded defaults) and `make test` (the whole suite
# against real PostgreSQL and Redis). Everything else is a step they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PATH := $(CURDIR)/$(BIN):$(PATH)

PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
REDIS_HOST ?= 127.0.0.1
REDIS_PORT ?= 6379

.PHONY: run test install translations messages services lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d housing/translations

run: install
	$(BIN)/housing db upgrade
	$(BIN)/housing demo seed
	@echo "Veilig Wonen on http://127.0.0.1:$${PORT:-5000} — Ctrl-C stops web, worker and beat."
	@# honcho gives each process a PORT of its own (5000, 5100, …): links in the worker's
	@# e-mails must point at the web's port, so BASE_URL is fixed here for all three.
	BASE_URL=$${BASE_URL:-http://127.0.0.1:$${PORT:-5000}} $(BIN)/honcho start -f Procfile

messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location -o housing/translations/messages.pot .
	$(BIN)/pybabel update -i housing/translations/messages.pot -d housing/translations --no-fuzzy-matching

services:
	@bash scripts/ensure-services.sh

test: install services
	$(BIN)/ruff check .
	$(BIN)/mypy housing workflows workers
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy housing workflows workers

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
