# Rollout Desk — `make run` and `make test` set everything up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages: Graphviz for process maps, a CJK font and Pango for PDFs, Chromium for browser tests.
DEBIAN_PACKAGES := graphviz fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 chromium
# The HTTP throughput benchmark drives the app with wrk; only `make bench` needs it.
BENCH_PACKAGES := wrk
HOST ?= 127.0.0.1
PORT ?= 5000
# bpmn.io's viewer, for the browser test that opens our BPMN export (tests/processmaps/test_bpmn_js.py).
# Installed when npm is present; the tests then run with RUN_BPMN_JS=1, so a missing viewer fails them.
BPMN_JS_VERSION := 18.31.1
BPMN_JS_DIR := .cache/bpmn-js
NPM := $(shell command -v npm 2>/dev/null)
ifneq ($(NPM),)
export RUN_BPMN_JS := 1
endif

.PHONY: install system-deps bpmn-js run test bench soak translations clean

install: system-deps $(STAMP) translations bpmn-js

system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

bpmn-js:
	@if [ -z "$(NPM)" ]; then \
	  echo "npm not found: bpmn-js is not installed and its browser test is skipped"; \
	elif ! grep -qs '"version": "$(BPMN_JS_VERSION)"' $(BPMN_JS_DIR)/node_modules/bpmn-js/package.json; then \
	  npm install --prefix $(BPMN_JS_DIR) --omit=dev --no-save --no-audit --no-fund --loglevel=error \
	    bpmn-js@$(BPMN_JS_VERSION) \
	  || echo "npm could not install bpmn-js $(BPMN_JS_VERSION) (is the npm registry reachable?): test_bpmn_js.py will fail"; \
	fi

translations: $(STAMP)
	@$(BIN)/rollout translations compile

run: install
	$(BIN)/rollout init
	@echo "Rollout Desk is at http://$(HOST):$(PORT)/  (stop with Ctrl-C)"
	$(BIN)/gunicorn --workers 2 --bind $(HOST):$(PORT) --access-logfile - 'rollout:create_app()'

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	@$(MAKE) --no-print-directory system-deps EXTRA_PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python -m bench.run

soak: install
	SOAK=1 $(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS) tests/reliability

clean:
	rm -rf $(VENV) instance
