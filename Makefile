# One command each: `make report` (install + full default report), `make test` (install + the fast test suite,
# about a minute), `make test-all` (install + every test, the end-to-end report included: what CI runs),
# `make lab` (install + JupyterLab on the notebooks), `make gpu-check` (on a CUDA machine: fast-kernel extras,
# a quick GPU report, the reference decode loop, a one-screen summary). The virtual environment is .venv/.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $(STAMP)

.PHONY: install report test test-all lab gpu-check
install: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/gentrend report

test: $(STAMP)
	$(VENV)/bin/pytest -m "not slow"

# the tests of the end-to-end report run beside the others (two processes: the report run is built once)
test-all: $(STAMP)
	@log=$$(mktemp); $(VENV)/bin/pytest -m e2e --durations=10 >$$log 2>&1 & e2e=$$!; \
	$(VENV)/bin/pytest -m "not e2e" --durations=10; rest=$$?; wait $$e2e; e2e_rc=$$?; \
	echo "=== tests of the end-to-end report run (pytest -m e2e)"; cat $$log; rm -f $$log; \
	test $$rest -eq 0 -a $$e2e_rc -eq 0

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

gpu-check: $(STAMP)
	PYTHON=$(VENV)/bin/python bash benchmarks/gpu_check.sh
