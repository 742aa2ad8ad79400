# Two commands: `make run` (the app on embedded defaults) and `make test` (the whole suite
# against real PostgreSQL and Redis, the browser tests on Debian's Chromium). Everything
# else is a step they share.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock

export PATH := $(CURDIR)/$(BIN):$(PATH)

PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
REDIS_HOST ?= 127.0.0.1
REDIS_PORT ?= 6379

.PHONY: run test install lock translations messages services chromium graphviz oidc-provider lint clean

# What an install gets is exactly requirements.lock: every package pinned with its hashes, so
# a fresh machine installs what CI tested. The project itself goes in editable, without
# resolving anything more.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=24,<27'
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Refresh the lock after changing pyproject.toml: pins already there are kept, new
# requirements are resolved. `make lock UPGRADE=1` moves every pin to the newest release
# its bounds in pyproject.toml allow.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 $(if $(UPGRADE),--upgrade) --quiet -o $(LOCK)

# `dot` draws the process diagrams (the claim page, the README's): `make run` and `make test`
# both need it, so the install gets it (Debian's package, or a loud failure).
install: $(STAMP) translations graphviz

graphviz:
	@bash scripts/ensure-graphviz.sh

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
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-location -o housing/translations/messages.pot .
	$(BIN)/pybabel update -i housing/translations/messages.pot -d housing/translations --no-fuzzy-matching --ignore-obsolete

services:
	@bash scripts/ensure-services.sh

# The browser tests drive Debian's Chromium (installed here when missing; never a browser
# that Playwright downloads itself).
chromium:
	@bash scripts/ensure-chromium.sh

# The sign-in tests start a real OpenID Provider (npm's oidc-provider under node), installed
# from tests/oidc_provider/package-lock.json.
oidc-provider:
	@bash scripts/ensure-oidc-provider.sh

test: install services chromium oidc-provider
	$(BIN)/ruff check .
	$(BIN)/mypy housing workflows workers
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy housing workflows workers

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
