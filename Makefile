# The two commands: `make run` (the demo, end to end) and `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
export DBT_PROFILES_DIR := $(CURDIR)/profiles

.PHONY: install run test lint build sync api docs redis-stop clean

# Reinstall only when requirements.txt changes.
$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (found: $$($(PYTHON) --version 2>&1)); set PYTHON=python3.x"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(INSTALLED)

## run: install, start Redis, dbt build, sync, and serve the API on http://$(HOST):$(PORT)
run: $(INSTALLED)
	$(BIN)/python scripts/run_demo.py --host $(HOST) --port $(PORT)

## test: the whole suite from nothing (lint, then pytest with real dbt, Redis and HTTP)
test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

build: $(INSTALLED)
	$(BIN)/dbt build

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
	rm -rf target logs .redis data/features/*.parquet data/training/*.parquet
