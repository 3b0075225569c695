# Everything a newcomer needs: `make demo` and `make test` set up the virtualenv themselves.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
# the two tool virtualenvs install side by side on a fresh machine
MAKEFLAGS += --jobs=2

.PHONY: help setup browser demo local test lint typecheck template-check build-check unit functional e2e bench chaos fidelity build deploy clean

help:
	@echo "make demo    - run the connector on the local world (simulators + moto + local runtime), walkthrough end to end"
	@echo "make local   - start the local world in the foreground; writes .local/endpoints.json"
	@echo "make test    - lint, type check, template checks, build check and the whole test suite"
	@echo "make bench   - benchmark figures into bench/results.json"
	@echo "make fidelity - sync FIDELITY=N (1000) generated orders of every shape, print the mismatch table (docs/fidelity.md)"
	@echo "make build / deploy - sam build / sam deploy --guided"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# aws-sam-cli pins its own pydantic: it lives in its own tool virtualenv.
$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $(SAM_STAMP)

setup: $(STAMP) $(SAM_STAMP)

demo: $(STAMP)
	$(BIN)/python -m amsync_local.demo

local: $(STAMP)
	$(BIN)/python -m amsync_local.cli up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

template-check: $(STAMP) $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml

# sam build for arm64 without a container (sam downloads the aarch64 wheels of the layer's and the functions'
# requirements; python3.11 on PATH), into a folder of its own, then check that nothing built is for another
# architecture (tests/build_check.py: every ELF file's machine, every wheel's tag). `make test` does the same
# once, inside tests/functional/test_stack_and_sam.py (one sam build, not two).
BUILD_CHECK_DIR := .aws-sam/build-check
build-check: $(STAMP) $(SAM_STAMP)
	rm -rf $(BUILD_CHECK_DIR)
	$(SAM) build --template template.yaml --build-dir $(BUILD_CHECK_DIR) --cached --cache-dir .aws-sam/cache-check
	$(BIN)/python tests/build_check.py $(BUILD_CHECK_DIR) --arch arm64

# The console's browser test (tests/e2e/test_console_browser.py) drives Debian's chromium through Playwright's
# Python API (Playwright's own browser download does not work here): installed once, when /usr/bin/chromium is
# missing. Without a browser (no apt-get, no root) the test skips and says why.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the console's browser test"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium || { $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	    || { echo "could not install Debian's chromium: the console's browser test needs it"; exit 1; }; \
	fi

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml
	SAM_BIN=$(abspath $(SAM)) $(BIN)/pytest -q -p no:cacheprovider -n 4 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m bench.run

chaos: $(STAMP)
	$(BIN)/python -m amsync_local.chaos $(if $(ORDERS),--orders $(ORDERS),)

fidelity: $(STAMP)
	$(BIN)/python -m amsync_local.fidelity $(if $(FIDELITY),--orders $(FIDELITY),)

build: $(SAM_STAMP)
	$(SAM) build
	$(PYTHON) tests/build_check.py .aws-sam/build --arch arm64

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
