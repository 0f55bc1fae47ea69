# genjobs: `make help` lists the targets. Needs only python3, pip, make and git; `make setup`
# installs uv (user site) and everything else from uv.lock.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# pip --user puts uv in the user base's bin (~/.local/bin on Linux, elsewhere on macOS).
USER_BIN := $(shell python3 -c 'import site; print(site.USER_BASE)' 2>/dev/null)/bin
export PATH := $(USER_BIN):$(HOME)/.local/bin:$(PATH)
# uv.lock is the source of truth: `uv run` must not rewrite it (run `uv lock` after editing deps).
export UV_FROZEN := 1
export SAM_CLI_TELEMETRY := 0

ARGS ?=
PYTHON_SOURCES := .
ASL_FILES := $(wildcard statemachine/*.asl.json)
LAYER_REQUIREMENTS := layers/dependencies/requirements.txt

.PHONY: help setup demo test test-e2e test-stacks test-offline fuzz openapi schemas lint ruff fmt typecheck cfn-lint statelint validate build layer-requirements \
	start token bench bench-quick soak clean

help: ## List the targets
	@echo "Usage: make <target> [ARGS=...]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-20s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

setup: ## Install uv if missing, the locked virtualenv (.venv) and Chromium for the browser tests
	@command -v uv >/dev/null || { \
		echo "Installing uv with pip (user site)"; \
		python3 -m pip install --user --quiet uv \
		|| python3 -m pip install --user --quiet --break-system-packages uv \
		|| python3 -m pip install --quiet uv; \
	}
	@command -v uv >/dev/null || { echo "uv is installed but not on PATH ($(USER_BIN))" >&2; exit 1; }
	uv sync --frozen
	@scripts/install-chromium.sh

demo: setup ## Run the whole product locally and show a job from plan to push (README's first command)
	uv run genjobs-local demo $(ARGS)

test: setup lint ## Lint, then every test incl. end to end (README's second command)
	@# Three lanes at once, each one's output printed whole when it ends: the end-to-end tests
	@# (two workers, a stack each), the runtime's own tests then fair dispatch (stacks with other
	@# settings), and the tests without a stack, at a lower CPU priority: they compute, while the
	@# stacks mostly wait on schedules whose bounds are wall seconds. A process holds one stack.
	@$(MAKE) --no-print-directory -k -j3 --output-sync=target test-e2e test-stacks test-offline

# The lanes of `make test`, each runnable alone (ARGS reaches pytest).
E2E_WORKERS ?= 2
test-e2e: setup ## The end-to-end tests, each worker on a stack of its own (E2E_WORKERS, by file)
	uv run pytest tests/e2e --ignore=tests/e2e/dispatch -n $(E2E_WORKERS) --dist loadfile $(ARGS)

test-stacks: setup ## The embedded runtime's own tests, then fair dispatch end to end (small plans and limits)
	@rc=0; \
	uv run pytest tests/local $(ARGS) || rc=1; \
	uv run pytest tests/e2e/dispatch $(ARGS) || rc=1; \
	exit $$rc

test-offline: setup ## Every test that needs no embedded stack (unit, integration, contract, providers, cli, bench, tooling)
	nice -n 10 uv run pytest tests --ignore=tests/e2e --ignore=tests/local -n 2 $(ARGS)

# `make -k lint` reports every linter's findings instead of stopping at the first.
lint: ruff typecheck cfn-lint validate statelint ## All linters: ruff, mypy, cfn-lint, sam validate --lint, statelint

ruff: setup ## ruff format --check and ruff check
	uv run ruff format --check $(PYTHON_SOURCES)
	uv run ruff check $(PYTHON_SOURCES)

fmt: setup ## Format and autofix the Python code
	uv run ruff format $(PYTHON_SOURCES)
	uv run ruff check --fix $(PYTHON_SOURCES)

typecheck: setup ## mypy (files and options in pyproject.toml)
	uv run mypy

cfn-lint: setup ## cfn-lint with the serverless rules (options in .cfnlintrc)
	uv run cfn-lint template.yaml

statelint: setup ## statelint on the state machine definitions
	uv run python scripts/statelint_asl.py $(ASL_FILES)

validate: setup ## sam validate --lint (offline; reads .cfnlintrc)
	uv run sam validate --lint

build: setup ## sam build (arm64, python3.13), then check every .so is aarch64
	scripts/sam-build.sh $(ARGS)

fuzz: setup ## Fuzz the API with thousands of generated requests (schemathesis; FUZZ_EXAMPLES per operation)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} uv run pytest tests/e2e/test_api_fuzz.py

soak: setup ## Load test at full size: 200 concurrent mixed jobs with cancels and failures (LOAD_JOBS)
	LOAD_JOBS=$${LOAD_JOBS:-200} LOAD_BOUND_SECONDS=$${LOAD_BOUND_SECONDS:-600} uv run pytest tests/e2e/test_load.py $(ARGS)

openapi: setup ## Regenerate docs/openapi.json from the code (a contract test fails when it drifts)
	uv run python scripts/openapi.py

schemas: setup ## Regenerate docs/schemas/*.json from the message models (a contract test fails when they drift)
	uv run python scripts/message_schemas.py

layer-requirements: setup ## Regenerate the layer's requirements.txt from uv.lock
	scripts/layer-requirements.sh > $(LAYER_REQUIREMENTS)
	@echo "wrote $(LAYER_REQUIREMENTS)"

start: setup ## Start the local stack (HTTP API, workflow, queues) and keep it running
	uv run genjobs-local start $(ARGS)

token: setup ## Print a JWT for the local stack (ARGS passed to genjobs-local token)
	uv run genjobs-local token $(ARGS)

bench: setup ## Benchmarks on the local stack (not part of test): writes docs/bench.md and docs/bench.json
	uv run python -m bench $(ARGS)

bench-quick: setup ## Short smoke run of the benchmarks (small jobs; same report files)
	uv run python -m bench --quick $(ARGS)

clean: ## Remove build output and tool caches (keeps .venv and local stack data)
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache .hypothesis dist
	find layers/dependencies -mindepth 1 ! -name requirements.txt -exec rm -rf {} +
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
