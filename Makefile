# Draftguard — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
WORKERS ?= 2

.PHONY: run test model venv dev-venv browser-deps test-js lint-extension test-py bench clean

# Stamp files tie the venv to the exact requirements it was built from.
$(VENV)/.runtime-stamp: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-stamp: requirements-dev.txt $(VENV)/.runtime-stamp
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime-stamp
dev-venv: $(VENV)/.dev-stamp

# Train the default model only when the registry has no active model.
model: venv
	$(PY) -m train --if-missing

run: model
	$(VENV)/bin/gunicorn --bind $(HOST):$(PORT) --workers $(WORKERS) --access-logfile - \
		--logger-class server.logs.GunicornLogger \
		--access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms' 'server:create_app()'

# The real browser (Debian's chromium) and the fixture pages' editors (npm).
browser-deps: dev-venv
	bash tests/browser/setup.sh

test-js:
	@if [ -d extension/tests ]; then node --test extension/tests/; fi

# Mozilla's linter on the extension folder (web-ext, pinned in tests/browser/package.json):
# zero errors required. The warnings it still prints are explained in extension/README.md.
lint-extension: browser-deps
	tests/browser/node_modules/.bin/web-ext lint --source-dir extension --no-config-discovery --no-input

test-py: dev-venv
	$(PY) -m pytest

test: browser-deps test-js lint-extension test-py

bench: dev-venv model
	$(PY) -m bench

clean:
	rm -rf $(VENV) tests/browser/node_modules tests/browser/fixtures/vendor
