# One entry point for everything. `make demo` and `make test` set themselves up.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup java postgres chromium demo test lint fmt bench bench-10m docs clean

setup: $(STAMP) java postgres chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

## the Spark engine (tests/parity) needs a Java runtime: Debian's, installed only when missing
java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "no java on PATH: installing openjdk-17-jre-headless (for PySpark)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless; }

## the operational-store tests start a real PostgreSQL server: Debian's, installed only when missing
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  echo "no PostgreSQL server binaries: installing postgresql (for tests/ops, tests/activation)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; }

## the console tests (tests/web) drive Debian's chromium with Playwright: installed only when missing
## (with a small CJK font, so that screenshots show the Chinese text)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "no chromium on PATH: installing Debian's chromium (for the console tests)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei; }

## generate a realistic brand into ./demo, import it, resolve identities, print a summary
demo: setup
	$(BIN)/siyu demo --dir demo

## the whole test suite (what .ci/run runs)
test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks

fmt: setup
	$(BIN)/ruff check --fix src tests benchmarks

## benchmarks at 1 million consumers (figures go to docs/benchmarks.md)
bench: setup
	$(BIN)/python benchmarks/run.py --consumers 1000000

## the same at 10 million consumers (about half an hour on 2 cores)
bench-10m: setup
	$(BIN)/python benchmarks/run.py --consumers 10000000

## regenerate the generated docs (data model, settings, command reference)
docs: setup
	$(BIN)/siyu schema --markdown > docs/data-model.md
	$(BIN)/siyu settings --markdown > docs/settings.md
	$(BIN)/siyu cli-reference > docs/cli.md

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
