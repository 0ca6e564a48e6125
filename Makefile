# One command each: `make report` (install + full default report), `make test` (install + the fast test suite,
# about a minute), `make test-all` (install + every test, the end-to-end report included: what CI runs),
# `make lab` (install + JupyterLab on the notebooks; `make lab ARGS="--port 8899 --no-browser"` passes options),
# `make gpu-check` (on a CUDA machine: fast-kernel extras, a quick GPU report, the reference decode loop, a
# one-screen summary). The virtual environment is .venv/.
#
# Which torch build: `make install TORCH=cpu` installs torch from PyTorch's CPU wheel index (no CUDA libraries),
# `make install TORCH=cu126` (any cuXYZ PyTorch publishes for this version) that CUDA build, before the rest of
# requirements.txt (which then finds torch there). The choice is remembered in .venv/.torch: later `make report`
# or `make test` keep it, and a different TORCH= reinstalls torch. Without one, requirements.txt's `torch==`
# resolves from your package indexes (on PyPI for Linux x86_64: the CUDA build).
PYTHON ?= python3
VENV := .venv
TORCH ?= $(shell cat $(VENV)/.torch 2>/dev/null)
TORCH_INDEX ?= https://download.pytorch.org/whl/$(TORCH)
TORCH_VERSION := $(shell sed -n 's/^torch==//p' requirements.txt)
STAMP := $(VENV)/.installed$(if $(TORCH),-$(TORCH))
ARGS ?=

ifneq ($(filter-out cpu cu%,$(TORCH)),)
$(error TORCH=$(TORCH): use TORCH=cpu, TORCH=cuXYZ (e.g. cu126, a CUDA build PyTorch publishes), or no TORCH)
endif

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
ifneq ($(TORCH),)
	$(VENV)/bin/pip install --quiet --no-deps --index-url $(TORCH_INDEX) torch==$(TORCH_VERSION)+$(TORCH)
endif
	$(VENV)/bin/pip install --quiet -r requirements.txt
	echo "$(TORCH)" > $(VENV)/.torch
	touch $(STAMP)

.PHONY: install report lint test test-all lab gpu-check
install: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/gentrend report

# lint first (seconds): ruff's rules and format, configured in pyproject.toml
lint: $(STAMP)
	$(VENV)/bin/ruff check lib tests benchmarks notebooks
	$(VENV)/bin/ruff format --check lib tests benchmarks notebooks

test: lint
	$(VENV)/bin/pytest -m "not slow"

# the tests of the full report runs (and the `long` ones) beside the others: two processes of about the same
# length, each report run built once
test-all: lint
	@log=$$(mktemp); $(VENV)/bin/pytest -m "e2e or long" --durations=10 >$$log 2>&1 & e2e=$$!; \
	$(VENV)/bin/pytest -m "not e2e and not long" --durations=10; rest=$$?; wait $$e2e; e2e_rc=$$?; \
	echo "=== tests of the end-to-end report run and the long ones (pytest -m 'e2e or long')"; cat $$log; rm -f $$log; \
	test $$rest -eq 0 -a $$e2e_rc -eq 0

# JupyterLab refuses to run as root without --allow-root: added (and said) when you are root
lab: $(STAMP)
	@if [ "$$(id -u)" -eq 0 ]; then echo "make lab: running as root, so JupyterLab gets --allow-root"; root=--allow-root; fi; \
	exec $(VENV)/bin/jupyter lab $$root $(ARGS) notebooks/

gpu-check: $(STAMP)
	PYTHON=$(VENV)/bin/python bash benchmarks/gpu_check.sh
