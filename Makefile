# Conduit: the make targets are the interface. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT
# The RealWorld spec and official suites (openapi.yml, hurl/, postman/, e2e/), relative to this folder
# or absolute; harness/realworld.py explains. Tests that need them skip loudly without (fail with CI=true).
REALWORLD_DIR ?= ../shared/realworld
export REALWORLD_DIR

MAIN_STAMP := $(VENV)/.installed-main
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help install run test lint format conformance lock clean stack stack-down stack-status

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "$(PYTHON) has no venv module: on Debian/Ubuntu run 'apt-get install python3-venv'"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Conduit needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# The locked dependencies (hashes checked), then Conduit itself without touching them.
$(MAIN_STAMP): requirements/main.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/main.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(DEV_STAMP)
	@touch $@

$(DEV_STAMP): requirements/dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@ $(MAIN_STAMP)

# The runtime and pytest only: what the unit and API tests need (make test-system-python).
$(VENV)/.installed-test: requirements/test.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/test.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@ $(MAIN_STAMP)

install: $(MAIN_STAMP) ## Make .venv with the locked runtime dependencies and Conduit (what a server needs)

run: $(MAIN_STAMP) ## Serve the API with gunicorn on http://127.0.0.1:$PORT (SQLite under var/ unless DATABASE_URL is set)
	$(BIN)/conduit deploy
	$(BIN)/conduit serve

.PHONY: dev
dev: $(MAIN_STAMP) ## Serve like `make run`, in the development profile, restarting the workers when a file changes
	$(BIN)/conduit deploy
	CONDUIT_ENV=development $(BIN)/conduit serve --reload --workers 1

test: $(DEV_STAMP) ## Run the whole test suite (PostgreSQL tests skip loudly without a server; CI=true requires it)
	$(BIN)/python -m pytest --ignore=tests/provisioning --durations=20

lint: $(DEV_STAMP) ## ruff (lint + format check), mypy --strict, vulture (dead code), bandit on src/, pip-audit of the locks
	$(BIN)/ruff check src tests migrations bin deploy bench harness
	$(BIN)/ruff format --check src tests migrations bin deploy bench harness
	$(BIN)/mypy
	$(BIN)/vulture
	$(BIN)/bandit --quiet --recursive --severity-level medium src
	bin/audit-deps

.PHONY: audit
audit: $(DEV_STAMP) ## pip-audit the locked dependencies (needs PyPI's JSON API; `make lint` skips it loudly without)
	AUDIT_REQUIRED=1 bin/audit-deps

format: $(DEV_STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests migrations bin deploy bench harness
	$(BIN)/ruff format src tests migrations bin deploy bench harness

SYSTEM_PYTHON ?= /usr/bin/python3
SYSTEM_VENV := .venv-system

.PHONY: test-system-python
test-system-python: ## The API and unit tests and a `make run` smoke on Debian's own python3 (a stock server's 3.11.2), in .venv-system
	$(MAKE) --no-print-directory VENV=$(SYSTEM_VENV) PYTHON=$(SYSTEM_PYTHON) $(SYSTEM_VENV)/.installed-test
	$(SYSTEM_VENV)/bin/python -m pytest -q --ignore=tests/integration --ignore=tests/browser --ignore=tests/bench --ignore=tests/provisioning
	$(SYSTEM_VENV)/bin/python -m pytest -q tests/integration/test_make_run.py

conformance: $(MAIN_STAMP) ## Run the official Hurl and Postman suites: gunicorn on SQLite and PostgreSQL, then the nginx stack
	$(BIN)/python bin/conformance.py

# One universal lock per set: every marker branch for CPython 3.11.0 and newer (Debian 12's 3.11.2 needs
# async-timeout, 3.11.7 does not), so pip --require-hashes installs it on any supported interpreter.
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"

lock: $(DEV_STAMP) ## Re-resolve requirements/*.lock from pyproject.toml for every Python >= 3.11 (needs the package index)
	$(UV_COMPILE) -o requirements/main.lock pyproject.toml requirements/build.in
	$(UV_COMPILE) -o requirements/dev.lock --extra dev pyproject.toml requirements/build.in
	$(UV_COMPILE) -o requirements/test.lock -c requirements/dev.lock pyproject.toml requirements/build.in requirements/test.in

clean: ## Remove the virtualenv, caches and local databases
	rm -rf $(VENV) $(SYSTEM_VENV) .pytest_cache .mypy_cache .ruff_cache var/*.db var/*.db-*

stack: $(MAIN_STAMP) ## Start nginx + 2 gunicorn + PostgreSQL + Redis on http://127.0.0.1:$STACK_PORT (8080)
	$(BIN)/python bin/stack.py up

stack-down: $(MAIN_STAMP) ## Stop exactly what `make stack` started
	$(BIN)/python bin/stack.py down

stack-status: $(MAIN_STAMP) ## Show what `make stack` runs and whether it answers
	$(BIN)/python bin/stack.py status

FRONTEND_DEPS := frontend/node_modules/.package-lock.json

$(FRONTEND_DEPS): frontend/package-lock.json
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund

.PHONY: frontend frontend-deps
frontend-deps: $(FRONTEND_DEPS) ## Install the web UI's locked npm packages (needs node and npm; the tests check the build with them)

frontend: $(FRONTEND_DEPS) | $(BIN)/python ## Rebuild the web UI (frontend/ -> src/conduit/static/, committed)
	$(BIN)/python bin/build-frontend.py

.PHONY: release
release: ## Build dist/conduit-$VERSION.tar.gz from the tag VERSION (what deploy/ansible installs; never a branch)
	@test -n "$(VERSION)" || { echo "make release: set VERSION to a tag, e.g. make release VERSION=v1.2.0"; exit 1; }
	$(PYTHON) bin/release.py "$(VERSION)"

E2E_DEPS := e2e/node_modules/.package-lock.json

$(E2E_DEPS): e2e/package-lock.json
	cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund

.PHONY: e2e e2e-deps
e2e-deps: $(E2E_DEPS) ## Install @playwright/test for `make e2e` (npm, locked in e2e/package-lock.json; no browser download)

e2e: $(MAIN_STAMP) $(E2E_DEPS) ## The official RealWorld browser suite, unchanged, in Chromium against gunicorn and the nginx stack (bin/e2e.py)
	bin/system-packages chromium nginx openssl redis-server
	$(BIN)/python bin/e2e.py

.PHONY: check-deploy
check-deploy: $(DEV_STAMP) ## Validate Docker, compose, Heroku, Kubernetes and Ansible files offline (bin/check-deploy)
	bin/check-deploy

# Debian packages of the container checks (harness/podman.py PACKAGES, and compose v1).
CONTAINER_PACKAGES := podman runc netavark aardvark-dns iptables debootstrap catatonit docker-compose

.PHONY: check-containers
check-containers: $(MAIN_STAMP) ## Build the image, run compose.yaml and the Kubernetes overlay in podman on stand-in images, check them through 127.0.0.1
	bin/system-packages $(CONTAINER_PACKAGES)
	$(BIN)/python bin/check-containers.py

.PHONY: check-provisioning
check-provisioning: $(DEV_STAMP) ## Provision fresh Debian hosts (podman, systemd, SSH) with deploy/ansible: one VM and a fleet under faults, at once
	bin/system-packages $(CONTAINER_PACKAGES) openssh-client
	bin/check-provisioning

.PHONY: bench
bench: $(DEV_STAMP) ## Benchmark on PostgreSQL: seed, wrk against gunicorn and nginx, report in bench/results/ (BENCH_* env; bench/api_bench.py --help)
	bin/system-packages nginx wrk
	$(BIN)/python bench/api_bench.py

BENCH_DATA_DB ?= conduit_bench_1m
.PHONY: bench-data bench-data-drop
bench-data: $(DEV_STAMP) ## Load 1M articles, 100k users, 5M favourites, 10k tags into PostgreSQL database $BENCH_DATA_DB with COPY (bench/load_dataset.py --help)
	$(BIN)/python bench/load_dataset.py --database $(BENCH_DATA_DB)

bench-data-drop: $(DEV_STAMP) ## Drop the database `make bench-data` made ($BENCH_DATA_DB)
	$(BIN)/python bench/load_dataset.py --database $(BENCH_DATA_DB) --drop
