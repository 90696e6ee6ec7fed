# Digit Dreams. `make site` and `make test` are the two commands; both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: site test lint serve bench clean setup setup-test

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

setup-test: setup $(VENV)/.installed-test

site: setup
	$(PY) build.py build $(ARGS)

test: setup-test lint
	$(PY) -m pytest $(ARGS)

lint: setup-test
	$(VENV)/bin/ruff check .

serve:
	@echo "Serving site/ on http://127.0.0.1:8000/ (the site does not work from file://)"
	$(PYTHON) -m http.server 8000 --bind 127.0.0.1 --directory site

bench: setup-test
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf site site.tmp-* site.old-* models .pytest_cache
