# Draftguard — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
WORKERS ?= 2

.PHONY: run test model venv dev-venv browser-deps services test-js lint-extension test-py bench clean mutation

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

# Fetch the models the database records (a host joining others serves their active model);
# train the default one only when there is none.
model: venv
	$(VENV)/bin/flask --app server models sync
	$(PY) -m train --if-missing

# Everything else about serving (gevent workers, read timeouts, log format) is in server/serving.py.
run: model
	$(VENV)/bin/gunicorn -c python:server.serving --bind $(HOST):$(PORT) --workers $(WORKERS) 'server:create_app()'

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
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

# The real servers some tests start for themselves (Redis, PostgreSQL), from Debian's packages.
services:
	bash tests/services/setup.sh

test: browser-deps services test-js lint-extension test-py

bench: dev-venv model
	$(PY) -m bench

# Mutation testing (docs/testing.md), not part of `make test`: mutmut mutates the detectors,
# textnorm, the decision, the registry and the token check (setup.cfg) and runs the fast tests
# that reach each mutant, on a model trained once here instead of once per mutant.
MUTATION_MODELS := .mutation-models
# The shipped pack, named so that an admin's edited pack in the data folder plays no part.
DEFAULT_PACK := engine/policy/default_pack.json

$(MUTATION_MODELS)/registry.json: engine/classifier.py engine/textnorm.py $(DEFAULT_PACK) $(wildcard train/*.py) \
		$(shell find train/data -type f) | dev-venv
	rm -rf $(MUTATION_MODELS)
	nice -n 10 $(PY) -m train --models-dir $(MUTATION_MODELS) --policy $(DEFAULT_PACK) --quiet

mutation: dev-venv $(MUTATION_MODELS)/registry.json
	rm -rf mutants
	DRAFTGUARD_TEST_MODELS=$(CURDIR)/$(MUTATION_MODELS) nice -n 10 $(VENV)/bin/mutmut run
	$(PY) tests/mutation_score.py

clean:
	rm -rf $(VENV) tests/browser/node_modules tests/browser/fixtures/vendor mutants $(MUTATION_MODELS)
