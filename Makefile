# Keyframe: every developer task is one target. `make dev` and `make test` are the whole setup.
SHELL := /bin/bash
# the first Python >= 3.11 on PATH, newest name first; `make install PYTHON=/path/to/python` overrides it
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3.11 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# Python writes its bytecode caches (__pycache__, git-ignored) under make even where the environment
# says not to (PYTHONDONTWRITEBYTECODE=1, as on the CI machine): `make test` starts over a hundred Python
# processes (xdist workers, local stacks, Lambda environments, the CLI) that otherwise each compile the
# same sources again, and pytest rewrites the test modules in every worker. Measured in a fresh clone, two
# runs each: 337 and 326 s (552, 528 CPU-s) without the caches, 269 and 308 s (431, 500 CPU-s) with them.
export PYTHONDONTWRITEBYTECODE :=
PYTEST_WORKERS ?= 2
LINT_PATHS := layers functions infra tests app.py

# The commit hooks of .pre-commit-config.yaml, in a git checkout, unless KEYFRAME_NO_GIT_HOOK=1.
# Skipped in a linked worktree (`.git` is a file): git shares one hooks folder between all worktrees,
# and the hook would run through this worktree's .venv, which goes away with it.
define install_git_hook
if [ "$${KEYFRAME_NO_GIT_HOOK:-0}" != 1 ] && [ -d .git ] && command -v git >/dev/null 2>&1 \
	&& ! grep -qs pre-commit "$$(git rev-parse --git-path hooks/pre-commit)"; then \
	$(BIN)/pre-commit install --allow-missing-config >/dev/null \
	&& echo "installed the git commit hooks (.pre-commit-config.yaml; KEYFRAME_NO_GIT_HOOK=1 skips)" \
	|| echo "could not install the git commit hooks (core.hooksPath set?); run $(BIN)/pre-commit install" >&2; \
fi
endef

.PHONY: install system-tools bootstrap media-base-digest destroy dev dev-reset test test-slow test-all test-fast test-unit test-integration test-infra test-e2e lint format synth deploy bench load openapi demo clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { test -n "$(PYTHON)" || { echo "Keyframe needs Python 3.11 or newer on PATH (or make PYTHON=/path/to/python3.x)" >&2; exit 1; }; \
		$(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

# the TypeScript client check (tests/integration/core/test_typescript_client.py): pinned npm packages
TS_CONTRACT := tests/contract/typescript
$(TS_CONTRACT)/node_modules/.package-lock.json: $(TS_CONTRACT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then cd $(TS_CONTRACT) && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the TypeScript client check will be skipped (install Node 20+ and npm)"; fi

# the JavaScript tools the tests use (tests/js: @asyncapi/parser, hls.js), through the same function the
# tests call (tests/js/npm.py), so that `make test` does not spend its first minute installing them
JS_TOOLS := tests/js
$(JS_TOOLS)/node_modules/.package-lock.json: $(JS_TOOLS)/package-lock.json $(STAMP)
	@if command -v npm >/dev/null 2>&1; then $(BIN)/python -c "from tests.js import npm; npm.node_modules()"; \
	else echo "npm not found: the AsyncAPI parser check and the browser test will fail (install Node 20+ and npm)"; fi

install: $(STAMP) $(TS_CONTRACT)/node_modules/.package-lock.json $(JS_TOOLS)/node_modules/.package-lock.json ## create .venv, install Keyframe with its dev dependencies, the git commit hooks and the npm packages the tests use (tests/js, the TypeScript client check)
	@$(install_git_hook)

# The programs some features run that no Python wheel brings: Chromium (the browser test), Blender
# and Synfig (scene renders). Without them those tests skip, naming the package, and everything else
# works. As root with apt-get (Debian/Ubuntu; CI's .ci/run) this installs what is missing; elsewhere it
# prints the command to run.
SYSTEM_TOOLS := chromium blender synfig
system-tools: ## install Chromium, Blender and Synfig with apt-get (root), or say how
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then echo "system tools present: $(SYSTEM_TOOLS)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing with apt-get:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "missing:$$missing; install them with: sudo apt-get install -y --no-install-recommends$$missing" >&2; fi

dev: install ## start the whole backend offline (emulator :4566, HTTP :3000, WebSocket :3001)
	$(BIN)/python -m keyframe.local

dev-reset: install ## delete the local stack's saved data (.keyframe/data): the next `make dev` starts empty
	$(BIN)/python -m keyframe.local.persistence reset

# Scheduling (`--dist loadgroup --no-loadscope-reorder`): work goes out in the order of the paths, so
# the long chains start first on separate workers (the e2e group with its local stack, the restart
# group, the infrastructure group with its CDK synth), the integration modules fill in, and the many
# short unit tests even out the end. A module sharing a module-scoped fixture stays on one worker
# (tests/conftest.py).
TEST_PATHS := tests/e2e tests/infrastructure tests/integration tests/unit
test: install ## the tests: unit, integration (moto), infrastructure (CDK synth), end-to-end (local stack); not the slow tier
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder -m "not slow" $(TEST_PATHS)

# The slow tier (marker `slow`, pyproject.toml): the Blender and Synfig scene renders, the browser test
# in Chromium, schemathesis, the Locust Monday morning, the stack restarts, the CDK app synthesized in
# a subprocess, the hundreds of concurrent requests, and the long end-to-end scenarios whose parts the
# integration tests also cover (`make demo`, automatic renders, a render retried three times, a webhook
# receiver down then replayed, a studio's day of usage, a real upload into analytics, concurrent creates),
# generated bad bodies to every write route, the real layer bundling and the TypeScript checker's own
# two tests, and end-to-end checks whose parts an integration test also checks (the renders' 429,
# concurrent uploads, bad files, a render's webhook, a mention, the outbox stream): 63 tests (35 of them
# the bad bodies, one per route).
# `make test` leaves them out to stay under 5 minutes on 2 cores; CI (.ci/run) runs both.
test-slow: install ## the slow tier: long scenarios and heavy tools (CI runs it after `make test`)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder -m slow $(TEST_PATHS)

test-all: test test-slow ## `make test` then `make test-slow`: every test, as CI runs them

# The inner loop: the unit tests and the integration modules that cost least per test (module-scoped
# moto worlds, no FFmpeg, no threads racing), chosen from `pytest --durations=0`; under 60 s on 2 cores.
FAST_INTEGRATION := \
	tests/integration/test_cross_studio_matrix.py \
	tests/integration/catalog/test_access.py \
	tests/integration/catalog/test_listing.py \
	tests/integration/catalog/test_validation.py \
	tests/integration/core/test_event_publisher.py \
	tests/integration/core/test_strict_bodies.py \
	tests/integration/identity/test_auth.py \
	tests/integration/identity/test_bad_input.py \
	tests/integration/live/test_tickets_and_connections.py \
	tests/integration/local/test_http_server.py \
	tests/integration/local/test_websocket_gateway.py

test-fast: install ## the inner loop: unit tests and the fastest integration tests (under a minute)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q tests/unit $(FAST_INTEGRATION)

test-unit: install
	$(BIN)/pytest tests/unit
test-integration: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/integration
test-infra: install
	$(BIN)/pytest tests/infrastructure
test-e2e: install
	$(BIN)/pytest tests/e2e

lint: install ## ruff, mypy, the import contracts (lint-imports, pyproject.toml) and hadolint on the media Dockerfile; CI runs it before the tests
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/hadolint functions/media_container/Dockerfile

format: install
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

synth: install ## write the CloudFormation template to cdk.out (no AWS account needed)
	$(BIN)/python app.py

# The CDK CLI, pinned: released after aws-cdk-lib in pyproject.toml, so it reads its cloud assembly.
CDK_VERSION ?= 2.1149.0
CDK := npx --yes aws-cdk@$(CDK_VERSION)
CDK_APP := --app "$(BIN)/python app.py" -c stage=$(or $(STAGE),dev) -c suffix=$(SUFFIX) $(CONTEXT)

bootstrap: install ## once per AWS account and region: cdk bootstrap
	$(CDK) bootstrap $(CDK_APP)

deploy: install ## deploy to the AWS account in your environment: make deploy STAGE=dev SUFFIX=yourname [CONTEXT="-c key=value"]
	$(CDK) deploy $(CDK_APP) --all

# The media image's base: its FROM line gets the tag's multi-platform digest (needs Docker; see README Deploy)
media-base-digest: install ## pin the media image's base to its digest: docker buildx imagetools inspect, written on the Dockerfile's FROM line
	$(BIN)/python -m infra.batch_image

destroy: install ## delete a stack (prod keeps its data; see README Teardown): make destroy STAGE=dev SUFFIX=yourname
	$(CDK) destroy $(CDK_APP) --all

bench: install ## benchmarks: print ratios against a baseline measured in the same run
	ONLY=$(ONLY) $(BIN)/python -m tests.performance

# the Monday-morning load (tests/load, Locust): against the running `make dev`, or a stage with HOST=URL;
# LOAD_ARGS passes more options (python -m tests.load --help)
load: install ## a studio's Monday morning under Locust (200 users, 60 s): RPS, p50/p95/p99 per endpoint, errors, 429s, events lost
	$(BIN)/python -m tests.load $(if $(HOST),--host $(HOST),) $(LOAD_ARGS)

openapi: install ## regenerate the committed OpenAPI and AsyncAPI documents and the README sections generated from code
	$(BIN)/python -m keyframe.http.openapi && $(BIN)/python -m keyframe.live.asyncapi && $(BIN)/python -m keyframe.readme

demo: install ## a studio's day against a running `make dev`
	$(BIN)/python -m keyframe.cli.demo $(if $(FILE),--file $(FILE),)

clean:
	rm -rf cdk.out .pytest_cache .ruff_cache .mypy_cache
