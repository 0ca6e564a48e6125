# One command each: `make report` (install + full default report), `make test` (install + test suite),
# `make lab` (install + JupyterLab on the notebooks). The virtual environment is .venv/.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $(STAMP)

.PHONY: install report test lab
install: $(STAMP)

report: $(STAMP)
	$(VENV)/bin/gentrend report

test: $(STAMP)
	$(VENV)/bin/pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/
