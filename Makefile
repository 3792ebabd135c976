# The two set-up commands are `make run` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e test-browser lint protos check-protos bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `npm install`, not `npm ci`: buf's lock lists only the platform packages the registry
# serves here, which `npm ci` rejects; versions are pinned exactly in package.json.
# The node packages: buf (lint) and oidc-provider, the OpenID provider the login tests run.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.bin/buf: $(NODE_STAMP)

## make run: install into .venv and start the whole stack on embedded PostgreSQL and NATS.
run: $(STAMP)
	$(VENV)/bin/upskill dev

## make test: the whole suite (unit, integration, e2e, browser) on servers the tests start.
test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/e2e

test-browser: $(STAMP)
	$(PY) -m pytest tests/browser

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP) node_modules/.bin/buf
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	node_modules/.bin/buf lint

## make protos: regenerate the committed Python stubs in gen/ from protos/.
protos: $(STAMP)
	$(PY) tools/gen_protos.py

## check-protos: fail when the committed stubs differ from what `make protos` makes.
check-protos: protos
	git diff --exit-code --stat -- gen || (echo "gen/ is stale: run 'make protos' and commit" >&2; exit 1)
	test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; echo "gen/ has untracked stubs: run 'make protos' and commit" >&2; exit 1)

clean:
	rm -rf $(VENV) .data node_modules
