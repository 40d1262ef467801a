# The two commands a newcomer needs: `make up` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Every installable package of the repository, found by its pyproject.toml.
LOCAL_PACKAGES := $(patsubst %/pyproject.toml,%,$(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml))
MYPY_PACKAGES := $(foreach d,$(filter-out %.egg-info,$(wildcard $(addsuffix /src/*,$(LOCAL_PACKAGES)))),-p $(notdir $(d)))
TEST_PATHS := $(wildcard libs/*/tests services/*/tests tools/*/tests) tests
# The fast loop: domain and handler stories in memory, plus the contract checks (< 30 s).
UNIT_TEST_PATHS := $(wildcard libs/*/tests services/*/tests) tests/contracts
# Settings: .env (created from .env.example) unless the environment already says otherwise.
ENV_FILE := .env
LOAD_ENV = set -a; [ -f $(ENV_FILE) ] && . ./$(ENV_FILE); set +a

.PHONY: help install backing-services browser migrate seed up test test-unit lint bench lock clean

help:
	@echo "make up      install, start PostgreSQL/RabbitMQ if needed, migrate, seed, run everything"
	@echo "make test    the whole test suite (unit, integration, end-to-end)"
	@echo "make test-unit  the fast loop: handler stories in memory, contracts (no servers needed)"
	@echo "make lint    ruff and mypy (strict)"
	@echo "make bench   every benchmark under bench/ (JSON out)"
	@echo "make migrate / make seed / make lock / make clean"

$(ENV_FILE):
	cp .env.example $(ENV_FILE)

$(BIN)/python:
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; \
	  else echo "Python's venv module is missing: sudo apt-get install -y python3-venv" >&2; exit 1; fi; }
	$(PYTHON) -m venv $(VENV)

# Installs exactly what requirements.lock pins, then our own packages in editable mode.
$(VENV)/.installed: $(BIN)/python requirements.lock $(foreach p,$(LOCAL_PACKAGES),$(p)/pyproject.toml)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(UV) pip sync -q --python $(BIN)/python requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps $(foreach p,$(LOCAL_PACKAGES),-e $(p))
	touch $@

# The official AsyncAPI JSON Schemas (package.json) that tests/contracts checks docs/asyncapi.yaml against,
# and axe-core, which tests/browser runs on every page of the staff console.
node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 or newer (it brings npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.package-lock.json

backing-services: $(ENV_FILE)
	@$(LOAD_ENV); bash scripts/ensure-backing-services.sh

# Debian's Chromium, its Japanese language pack and the Noto CJK fonts for tests/browser (Playwright
# drives /usr/bin/chromium; never `playwright install`). Only the tests need it: `make up` does not.
browser:
	@bash scripts/ensure-browser.sh

migrate: install backing-services
	@$(LOAD_ENV); $(BIN)/cityline-migrate && $(BIN)/cityline-topology

seed: migrate
	@$(LOAD_ENV); $(BIN)/segment-service-taxonomy publish deploy/demo/itami-taxonomy.yaml
	@$(LOAD_ENV); $(BIN)/admin-ui-users seed-demo

up: seed
	@$(LOAD_ENV); export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	echo; echo "  管理画面 (admin UI): http://127.0.0.1:$${ADMIN_UI_PORT:-8000}/signin  (demo accounts and TOTP secrets above)"; \
	echo "  LINE emulator:      http://127.0.0.1:$${LINE_EMULATOR_PORT:-8090}/_emulator/stats"; \
	echo "  受信設定 (LIFF):     http://127.0.0.1:$${SEGMENT_SERVICE_PORT:-8002}/liff/#mock-id-token=…  (mint a token: .env.example)"; \
	echo "  Ctrl-C stops everything."; echo; \
	exec $(BIN)/honcho start -f Procfile -e $(ENV_FILE)

test: install backing-services browser
	@$(LOAD_ENV); $(BIN)/pytest $(TEST_PATHS) $(PYTEST_ARGS)

test-unit: install
	$(BIN)/pytest $(UNIT_TEST_PATHS) -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy $(MYPY_PACKAGES)

bench: install backing-services
	@$(LOAD_ENV); for b in bench/*/bench.py; do echo "== $$b" >&2; $(BIN)/python $$b || exit 1; done

# The runtime set first (the container image installs it), then everything else constrained to it.
lock: $(BIN)/python
	$(BIN)/python -m pip install -q uv
	$(UV) pip compile -q requirements-runtime.in -o requirements-runtime.lock --python-version 3.11
	$(UV) pip compile -q requirements.in -c requirements-runtime.lock -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
