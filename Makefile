# The commands the README names. `make run` and `make test` set up everything
# they need on a fresh Debian/Ubuntu machine (system packages when run as root).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: run test stop clean deps system-deps lint format bench

run: system-deps $(STAMP)
	scripts/run.sh

test: system-deps-test $(STAMP)
	scripts/test.sh $(ARGS)

system-deps:
	scripts/system-deps.sh

system-deps-test:
	scripts/system-deps.sh --browser

deps: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# The performance benchmark (README, Performance): SCALE issues (default 100000).
bench: system-deps $(STAMP)
	scripts/bench.sh $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Stop servers a `make run` or `make test` left behind (e.g. after a kill -9).
stop:
	-scripts/devstack.sh down
	-DATA_DIR=.data/test PG_PORT=54339 REDIS_PORT=63809 scripts/devstack.sh down
	-DATA_DIR=.data/bench PG_PORT=54349 REDIS_PORT=63819 scripts/devstack.sh down

clean: stop
	rm -rf "$$(scripts/devstack.sh pgdir)" "$$(DATA_DIR=.data/test scripts/devstack.sh pgdir)" \
		"$$(DATA_DIR=.data/bench scripts/devstack.sh pgdir)"
	rm -rf .data $(VENV) htmlcov .coverage
