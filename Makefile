# HealthLedger: `make run` starts the whole stack, `make test` runs every test. Both install what is
# missing first; installs are skipped when their inputs have not changed (stamp files in .stamps/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
STAMPS := .stamps
SOLC_VERSION := 0.8.37
SOLCX_DIR := $(HOME)/.solcx

export PATH := $(CURDIR)/bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# Ape keeps its data in the project unless told otherwise; keep it out of $HOME for reproducibility.
export APE_DATA_FOLDER ?= $(CURDIR)/.cache/ape

.PHONY: help install test test-contracts test-backend bench run compile clean

help:
	@echo "make run    install what is missing, start the whole stack, print the URL (API_INSTANCES=3: three API processes on one port)"
	@echo "make test   install what is missing, run every test"
	@echo "make bench  gas table and service benchmarks (records, doctor-authored flow, integrity, hardening, chain state, upload speed, FHIR export and import, load on 1 and 3 instances)"

install: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/solc $(STAMPS)/ipfs $(STAMPS)/frontend $(STAMPS)/chromium

$(STAMPS):
	mkdir -p $(STAMPS)

# Python: a project virtualenv with exact versions (requirements.lock is a constraints file).
$(STAMPS)/python: requirements.txt requirements.lock backend/pyproject.toml | $(STAMPS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e backend
	touch $@

# Node toolchain: solcjs, Anvil (the real binary ships in @foundry-rs/anvil-linux-amd64), OpenZeppelin.
$(STAMPS)/node: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# js-ipfs (the embedded IPFS node for tests and `make run`) lives in its own folder and lockfile.
$(STAMPS)/ipfs: tools/ipfs/package.json tools/ipfs/package-lock.json | $(STAMPS)
	npm ci --prefix tools/ipfs --no-audit --no-fund --loglevel=error
	touch $@

# The web app's toolchain (Vite, TypeScript, vitest, playwright-core) and its build.
$(STAMPS)/frontend: frontend/package.json frontend/package-lock.json | $(STAMPS)
	npm ci --prefix frontend --no-audit --no-fund --loglevel=error
	touch $@

FRONTEND_SOURCES := $(shell find frontend/src frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)
frontend/dist/index.html: $(STAMPS)/frontend $(FRONTEND_SOURCES)
	npm --prefix frontend run build --silent

# Browser tests drive Debian's Chromium through playwright-core (never a downloaded browser).
$(STAMPS)/chromium: | $(STAMPS)
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	touch $@

# py-solc-x looks for ~/.solcx/solc-v<version>; point it at our solcjs shim (a symlink, so the shim
# finds node_modules next to its real path). Checked every run: it lives outside the project.
$(STAMPS)/solc: bin/solc $(STAMPS)/node | $(STAMPS)
	mkdir -p $(SOLCX_DIR)
	ln -sfn $(CURDIR)/bin/solc $(SOLCX_DIR)/solc-v$(SOLC_VERSION)
	touch $@

# The API's OpenAPI document and the web app's client generated from it, both committed. Run after
# changing a route or a model. `make test` fails while either is stale: a backend test
# (tests/backend/unit/test_openapi_document.py) for the document, `npm test`'s check:api for the client.
.PHONY: openapi
openapi: $(STAMPS)/python $(STAMPS)/frontend
	python -m healthledger.openapi_export frontend/openapi.json
	npm --prefix frontend run gen:api --silent

.PHONY: check-solc
check-solc:
	@test "$$(readlink $(SOLCX_DIR)/solc-v$(SOLC_VERSION))" = "$(CURDIR)/bin/solc" || rm -f $(STAMPS)/solc

compile: check-solc install
	ape compile

# Browser test files run two at a time, each against its own stack (separate ports and data): most
# of a file's time is waiting on the chain and the page, so two overlap well on 2 cores (7.4 -> 4.2 min).
BROWSER_TEST_FILES_AT_ONCE ?= 2

test: check-solc install frontend/dist/index.html
	ape test tests/contracts
	python -m pytest -p no:ape_test tests/backend tests/deploy
	npm --prefix frontend test --silent
	node --test --test-concurrency=$(BROWSER_TEST_FILES_AT_ONCE) tests/browser/*.test.mjs

BENCHMARKS := gas_bench bench_records bench_doctor_flow bench_integrity bench_hardening bench_chain_state \
	bench_upload_speed bench_fhir_export bench_fhir_import bench_load

# Every benchmark runs even when an earlier one misses a target (each exits 1 then, 2 when it could
# not run); the summary names those that did not pass, and `make bench` then fails.
bench: check-solc install
	@failed=""; for b in $(BENCHMARKS); do \
		python scripts/$$b.py || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks that missed a target or could not run:$$failed"; exit 1; fi; \
	echo "every benchmark met its targets"

API_INSTANCES ?= 1

run: check-solc install frontend/dist/index.html
	API_INSTANCES=$(API_INSTANCES) python scripts/run_stack.py

clean:
	rm -rf $(STAMPS) .build .cache
