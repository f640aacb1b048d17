# Draftguard — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
WORKERS ?= 2

.PHONY: run test model venv dev-venv browser-deps test-js test-py bench clean mutation

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

test-py: dev-venv
	$(PY) -m pytest

test: browser-deps test-js test-py

bench: dev-venv model
	$(PY) -m bench

# Mutation testing (docs/testing.md), not part of `make test`: mutmut mutates the detectors,
# textnorm, the decision, the registry and the token check (setup.cfg) and runs the fast tests
# that reach each mutant, on a model trained once here instead of once per mutant.
MUTATION_MODELS := .mutation-models

$(MUTATION_MODELS)/registry.json: server/classifier.py server/textnorm.py $(wildcard train/*.py) \
		$(shell find train/data -type f) | dev-venv
	rm -rf $(MUTATION_MODELS)
	nice -n 10 $(PY) -m train --models-dir $(MUTATION_MODELS) --policy server/policy/default_pack.json --quiet

mutation: dev-venv $(MUTATION_MODELS)/registry.json
	rm -rf mutants
	DRAFTGUARD_TEST_MODELS=$(CURDIR)/$(MUTATION_MODELS) nice -n 10 $(VENV)/bin/mutmut run
	$(PY) tests/mutation_score.py

clean:
	rm -rf $(VENV) tests/browser/node_modules tests/browser/fixtures/vendor mutants $(MUTATION_MODELS)
