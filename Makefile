# The two commands of the README:
#   make run   set up and run the platform on the embedded default (SQLite)
#   make test  set up and pass the tests (needs PostgreSQL; see README)
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
# Two workers on the 2-core CI machine (at most 4 elsewhere: each has its own scratch database).
PYTEST_ARGS ?= -n auto --maxprocesses 4
ARGS ?=

CHROMIUM := /usr/bin/chromium
CHECKOV_VERSION := 3.3.30

.PHONY: setup test-tools run test lint

$(UV):
	python3 -m pip install --quiet --user "uv>=0.5,<1" || python3 -m pip install --quiet "uv>=0.5,<1"

setup: $(UV)
	$(UV) sync --locked

run: setup
	$(UV) run gradewatch up $(ARGS)

lint: setup
	$(UV) run ruff check .
	$(UV) run lint-imports

# What the tests need besides the Python packages: Debian's Chromium for the browser tests, and
# checkov (in its own environment: it would pin the app's packaging and tabulate) for the
# static security scan of the deployment files.
test-tools: $(UV)
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium; \
	  else \
	    echo "The browser tests need Debian's Chromium at $(CHROMIUM): sudo apt-get install chromium" >&2; exit 1; \
	  fi; \
	fi
	$(UV) tool install --quiet "checkov==$(CHECKOV_VERSION)"

test: setup test-tools
	$(UV) run ruff check .
	CHECKOV_BIN="$$($(UV) tool dir --bin)/checkov" $(UV) run pytest $(PYTEST_ARGS)
