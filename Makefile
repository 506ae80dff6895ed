# Flask + Celery on Amazon SQS. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# uv, where the machine has none: `make .uv` puts it in a venv of its own in .tools/, which
# works with an externally managed Python too (PEP 668: Homebrew's, Debian's).
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)
UV := uv
RUN := $(UV) run --frozen
# The local stack's environment (a test points it at a file of its own, with free ports).
LOCAL_ENV ?= local.env
LOCAL_STACK := set -a && . $(abspath $(LOCAL_ENV)) && set +a && $(RUN) python -m devstack.procfile

# $(call system_install,<Debian packages>,<what needs them>): apt-get where the machine can
# (apt-get on PATH and root, as on CI); elsewhere stop with what to install by hand.
define system_install
if command -v apt-get >/dev/null && [[ $$(id -u) == 0 ]]; then \
	echo "installing Debian's $(1) ($(2))"; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
else \
	echo "missing: $(1), needed by $(2). Installing them here takes apt-get and root;" \
		"install them with your system's package manager instead" \
		"(on Debian, as root: apt-get install $(1))." >&2; \
	exit 1; \
fi
endef

.PHONY: help  ## Show this list
help:
	@grep -hE '^\.PHONY: [a-zA-Z0-9_-]+ +## ' $(MAKEFILE_LIST) | sed -E 's/^\.PHONY: ([a-zA-Z0-9_-]+) +## (.*)/  \1\t\2/' | expand -t 20

.PHONY: .uv
.uv:
	@command -v uv >/dev/null || { \
		echo "uv not found: installing uv $(UV_VERSION) into .tools/ (python3 -m venv, then pip)"; \
		python3 -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"; \
	} || { \
		echo "could not install uv with python3 -m venv: install uv $(UV_VERSION) yourself" \
			"(e.g. brew install uv, pipx install uv==$(UV_VERSION), or uv's standalone" \
			"installer), then run make again." >&2; \
		exit 1; }

# What `make run` needs and nothing else: uv, a Python 3.11 uv finds or fetches, the lock.
.PHONY: .python-deps
.python-deps: .uv
	$(UV) sync --frozen

# The CDK CLI pinned in package.json (infra tests, synth).
.PHONY: .node-deps
.node-deps:
	@if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund --silent; fi

# docker-compose only parses the compose file in the tests (no engine runs here).
.PHONY: .system-deps
.system-deps:
	@command -v docker-compose >/dev/null || { $(call system_install,docker-compose,the compose file's test); }

# Debian's Chromium and its driver for the status page's browser test (tests/browser/): the
# test drives the system browser and never downloads one.
.PHONY: .browser-deps
.browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(call system_install,chromium chromium-driver,the status page's browser test); }

.PHONY: install  ## Install everything `make test` needs (Python and Node deps, container tools, Chromium)
install: .python-deps .node-deps .system-deps .images-deps .browser-deps

.PHONY: run  ## Run the whole product locally: moto (SQS+DynamoDB), the worker and the web
run: .python-deps
	@mkdir -p .local
	@echo "Web on http://127.0.0.1:8000 once the queue is ready. Client dev's key (.local/api-key):"
	@echo "  export TASKQUEUE_API_KEY=$$($(RUN) python -m devstack.dev_client)"
	@echo "Then try:"
	@echo "  curl -s -X POST localhost:8000/tasks -H \"Authorization: Bearer \$$TASKQUEUE_API_KEY\" -H 'content-type: application/json' -d '{\"task\":\"long_task\",\"params\":{\"duration\":2}}'"
	@echo "  curl -s localhost:8000/tasks/<id> -H \"Authorization: Bearer \$$TASKQUEUE_API_KEY\""
	@echo "  curl -s localhost:8000/sqs/celery/2 -H \"Authorization: Bearer \$$TASKQUEUE_API_KEY\""
	@echo "Ctrl-C stops everything."
	$(LOCAL_STACK)

.PHONY: local-aws  ## Run only the local AWS endpoint (moto) with the queue, DLQ and table
local-aws: .python-deps
	$(LOCAL_STACK) aws

.PHONY: worker  ## Run only the Celery worker (needs `make local-aws` running)
worker: .python-deps
	@mkdir -p .local
	$(LOCAL_STACK) worker

.PHONY: web  ## Run only the web service under gunicorn (needs `make local-aws` running)
web: .python-deps
	$(LOCAL_STACK) web

# Two test processes (pytest-xdist): most tests wait on real processes, and CI has 2 cores.
# Each module runs whole in one of them (tests/conftest.py); TEST_PROCESSES=0 runs in one.
TEST_PROCESSES ?= 2

.PHONY: test  ## Run every test (what CI runs)
test: install
	$(RUN) pytest --numprocesses $(TEST_PROCESSES)

.PHONY: test-unit  ## Run the unit tests only
test-unit: .python-deps
	$(RUN) pytest tests/unit

.PHONY: test-e2e  ## Run the end-to-end tests (real moto server, worker, gunicorn)
test-e2e: .python-deps
	$(RUN) pytest tests/e2e

.PHONY: test-faults  ## Run the fault-injection tests alone (kill, stop, poison, outage, duplicates)
test-faults: .python-deps
	$(RUN) pytest -m faults

.PHONY: lint  ## Lint, check the import layers (import-linter) and type-check
lint: .python-deps
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) mypy shared/src services/web/src services/worker/src tools/cli/src tools/settings_reference.py devstack harness tests/images/dockerfile.py infra app.py rehearsal
	$(RUN) mypy -p tools.cost  # a package under tools/, which is no package: by its module name

.PHONY: docs  ## Write the settings reference (shared/README.md#settings) from the settings' declarations
docs: .python-deps
	$(RUN) python -m tools.settings_reference

-include infra.mk bench.mk images.mk rehearse.mk
