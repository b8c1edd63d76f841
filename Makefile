# The two commands a newcomer needs: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Runs, schedules and the warehouse writer pool limit (dagster_home/dagster.yaml).
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install demo test dev validate lock clean

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install ## load the simulated organisation into ./warehouse and print the marts
	$(BIN)/throughline demo

test: install ## every test: unit, connectors against the simulator, contracts, end to end
	$(BIN)/python -m pytest

dev: install ## the Dagster UI with the asset graph, the nightly schedule and the checks
	$(BIN)/dagster dev -w workspace.yaml

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

lock: ## re-pin every dependency after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs
