# The two commands the README promises: `make run` and `make test` (plus `make test-unit|integration|e2e`,
# one test tier each).
# Everything else is set-up they need.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
BIN     = $(VENV)/bin

.PHONY: run test test-unit test-integration test-e2e lint install install-dev browser wordpress redis-server clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: install  ## set up and serve on http://$(HOST):$(PORT) (SQLite, trains a model the first time)
	$(BIN)/spamguard serve --host $(HOST) --port $(PORT)

test: lint browser wordpress redis-server  ## lint, then all three test tiers in one run with coverage (needs Redis and PostgreSQL)
	$(BIN)/python -m pytest --cov --cov-report=term $(PYTEST_ARGS)

test-unit: install-dev  ## tests/unit: no Redis, PostgreSQL, server or trained model (under a minute)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install-dev redis-server  ## tests/integration (and tests/test_architecture.py): the real Redis and PostgreSQL
	$(BIN)/python -m pytest tests/integration tests/test_architecture.py $(PYTEST_ARGS)

test-e2e: install-dev browser wordpress redis-server  ## tests/e2e: gunicorn, Chromium, Node, WordPress
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

lint: install-dev  ## ruff (lint and format check), mypy and the import-linter contracts (configured in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(VENV)/.installed  ## virtualenv with the pinned runtime requirements
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

browser:  ## Debian's chromium for the browser tests (installed with apt-get when missing)
	@scripts/ensure-chromium.sh

wordpress:  ## Debian's WordPress 6.1 + Akismet 5.0.2, PHP and MariaDB for the WordPress end-to-end tests
	@scripts/ensure-wordpress.sh

redis-server:  ## Debian's redis-server (the Redis Cluster test starts its own nodes)
	@scripts/ensure-redis-server.sh

clean:  ## remove the virtualenv and local state (database, models, secret)
	rm -rf $(VENV) var
