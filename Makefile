# Flask + Celery on Amazon SQS. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# Where `pip install uv` puts the uv command, in case that is not on PATH yet.
export PATH := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$(PATH)
UV := uv
RUN := $(UV) run --frozen
# The local stack's environment (a test points it at a file of its own, with free ports).
LOCAL_ENV ?= local.env
LOCAL_STACK := set -a && . $(abspath $(LOCAL_ENV)) && set +a && $(RUN) python -m devstack.procfile

.PHONY: help  ## Show this list
help:
	@grep -hE '^\.PHONY: [a-zA-Z0-9_-]+ +## ' $(MAKEFILE_LIST) | sed -E 's/^\.PHONY: ([a-zA-Z0-9_-]+) +## (.*)/  \1\t\2/' | expand -t 20

.PHONY: .uv
.uv:
	@command -v uv >/dev/null || python3 -m pip install --quiet "uv==$(UV_VERSION)"

# docker-compose only parses the compose file in the tests (no engine runs here).
.PHONY: .system-deps
.system-deps:
	@command -v docker-compose >/dev/null || { \
		echo "installing Debian's docker-compose (needs root)"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }

.PHONY: install  ## Install the locked Python dependencies, the pinned CDK CLI and docker-compose
install: .uv .system-deps .images-deps
	uv sync --frozen
	@if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund --silent; fi

.PHONY: run  ## Run the whole product locally: moto (SQS+DynamoDB), the worker and the web
run: install
	@mkdir -p .local
	@echo "Web on http://127.0.0.1:8000 once the queue is ready. Try:"
	@echo "  curl -s -X POST localhost:8000/tasks -H 'content-type: application/json' -d '{\"task\":\"long_task\",\"params\":{\"duration\":2}}'"
	@echo "  curl -s localhost:8000/tasks/<id>"
	@echo "  curl -s localhost:8000/sqs/celery/2"
	@echo "Ctrl-C stops everything."
	$(LOCAL_STACK)

.PHONY: local-aws  ## Run only the local AWS endpoint (moto) with the queue, DLQ and table
local-aws: install
	$(LOCAL_STACK) aws

.PHONY: worker  ## Run only the Celery worker (needs `make local-aws` running)
worker: install
	@mkdir -p .local
	$(LOCAL_STACK) worker

.PHONY: web  ## Run only the web service under gunicorn (needs `make local-aws` running)
web: install
	$(LOCAL_STACK) web

.PHONY: test  ## Run every test (what CI runs)
test: install
	$(RUN) pytest

.PHONY: test-unit  ## Run the unit tests only
test-unit: install
	$(RUN) pytest tests/unit

.PHONY: test-e2e  ## Run the end-to-end tests (real moto server, worker, gunicorn)
test-e2e: install
	$(RUN) pytest tests/e2e

.PHONY: test-faults  ## Run the fault-injection tests alone (kill, stop, poison, outage, duplicates)
test-faults: install
	$(RUN) pytest -m faults

.PHONY: lint  ## Lint and type-check
lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy shared/src services/web/src services/worker/src tools/cli/src devstack harness tests/images/dockerfile.py infra app.py

-include infra.mk bench.mk images.mk
