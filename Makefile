# The two commands a newcomer needs: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Runs, schedules and the warehouse writer pool limit (dagster_home/dagster.yaml).
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install demo test dev validate bench doctor lock clean docs dashboards dashboards-install dashboards-serve browser

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

bench: install ## benchmarks (benchmarks/): results and the machine go to benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.flow_marts

doctor: install ## check throughline.yml, reach every source with its credentials, check the warehouse
	$(BIN)/throughline doctor

docs: install ## generate the dbt docs (every mart and column, lineage, exposures) and serve them on :8080
	cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir . && ../$(BIN)/dbt docs serve --profiles-dir . --port 8080

# Dashboards as code (dashboards/, Evidence on Node) read the published marts (docs/BI.md).
dashboards/node_modules/.installed: dashboards/package.json dashboards/package-lock.json
	cd dashboards && npm ci --no-audit --no-fund
	touch $@

dashboards-install: dashboards/node_modules/.installed

dashboards: install dashboards-install ## build the dashboards from the demo warehouse's published marts into dashboards/build
	test -f warehouse/marts.duckdb || $(BIN)/throughline demo
	dashboards/build.sh warehouse

dashboards-serve: ## serve the built dashboards on http://localhost:3000
	$(BIN)/python -m http.server 3000 --bind 127.0.0.1 --directory dashboards/build

browser: ## the headless Chromium the dashboard test drives (Debian package; needs root)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# <anchor: more targets above this line>

lock: ## re-pin every dependency after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs
