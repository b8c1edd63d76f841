# The two commands a newcomer needs: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Runs, schedules and the warehouse writer pool limit (dagster_home/dagster.yaml).
export DAGSTER_HOME := $(CURDIR)/dagster_home

.PHONY: install demo test dev validate bench bench-requests bench-ingest bench-build bench-dashboards doctor lock clean docs docs-generate \
	dashboards dashboards-install dashboards-serve browser new-source test-portability test-dashboards

# pip -qq prints errors only: a pip configuration's unreachable extra indexes would add a warning per package
# to a newcomer's first `make demo`. PYTHONWARNINGS reaches the build backend: no setuptools licence-format
# warnings either.
$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -qq -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install ## load the simulated organisation into ./warehouse and print the marts
	$(BIN)/throughline demo

# Three worker processes (pytest-xdist) on CI's two cores: the end-to-end tests wait on subprocesses, the
# simulator's held pages and npm, which a third worker fills (a fresh clone, one run each: 13:40 with two; 12:16
# with three, 1,380 CPU-s over 742 s, 93% of two cores). A test module stays on one worker, so its module-scoped
# warehouse is built once (tests/conftest.py). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 3
# The portability checks (the dbt project built on PostgreSQL and on a local Spark and compared row for row with
# DuckDB's build, a nightly on Dagster's PostgreSQL storage: 5-6.5 minutes, PostgreSQL servers and a JVM; the
# Spark build alone is longer than the rest) are `make test-portability`, which CI
# runs after `make test` (.ci/run), so that `make test` stays under 15 minutes on two cores. So is the dashboards'
# check in Chromium (`make test-dashboards`: Evidence's build of the site takes 2-3 minutes of both cores).
test: install ## every test but the portability and dashboard checks: unit, connectors against the simulator, contracts, end to end
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not portability and not dashboards"

test-portability: install ## dbt on PostgreSQL and Spark as on DuckDB, Dagster on PostgreSQL (needs postgresql, java)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m portability

test-dashboards: install dashboards-install ## `make dashboards` from a copy of the checkout, every page opened in Chromium (needs node, chromium: `make browser`)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -m dashboards

# Without a throughline.yml of your own it opens on the demo's config, the simulator running beside it
# (stopped with the UI), schedules stopped (operations/cli.py `dev`).
dev: install ## the Dagster UI with the asset graph, the nightly schedule and the checks
	$(BIN)/throughline dev

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

bench: install bench-requests bench-ingest bench-build bench-dashboards ## every benchmark (benchmarks/): RESULTS.md, and the headline figures in benchmarks/summary.json
	$(BIN)/python -m benchmarks.flow_marts

doctor: install ## check throughline.yml, reach every source with its credentials, check the warehouse
	$(BIN)/throughline doctor

# dbt reads the warehouse path only from THROUGHLINE_WAREHOUSE, which throughline.yml decides (connectors/config.py).
WAREHOUSE_PATH = $$($(BIN)/python -c 'from connectors.config import warehouse_path; print(warehouse_path())')
DOCS_PORT ?= 8080

docs-generate: install ## the dbt docs (every mart and column, lineage, exposures) into dbt_project/target, no server
	export THROUGHLINE_WAREHOUSE="$(WAREHOUSE_PATH)" && cd dbt_project && ../$(BIN)/dbt docs generate --profiles-dir .

docs: docs-generate ## generate the dbt docs and serve them on :8080 (DOCS_PORT=...)
	export THROUGHLINE_WAREHOUSE="$(WAREHOUSE_PATH)" && cd dbt_project && ../$(BIN)/dbt docs serve --profiles-dir . --port $(DOCS_PORT)

# Dashboards as code (dashboards/, Evidence on Node) read the published marts (docs/BI.md).
dashboards/node_modules/.installed: dashboards/package.json dashboards/package-lock.json
	cd dashboards && npm ci --no-audit --no-fund
	touch $@

dashboards-install: dashboards/node_modules/.installed

dashboards: install dashboards-install ## build the dashboards from the demo warehouse's published marts into dashboards/build
	test -f warehouse/marts.duckdb || $(BIN)/throughline demo
	dashboards/build.sh warehouse

PORT ?= 3000
dashboards-serve: ## serve the built dashboards on http://localhost:3000 (PORT=...)
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory dashboards/build

browser: ## the headless Chromium the dashboard test drives (Debian package; needs root)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

new-source: install ## start a source type: make new-source NAME=pagerduty (docs/ADDING_A_SOURCE.md)
	@test -n "$(NAME)" || (echo "usage: make new-source NAME=<type>, e.g. NAME=pagerduty"; exit 2)
	$(BIN)/python -m connectors.kit.scaffold $(NAME)

bench-requests: install ## P1: requests per connector vs the page-arithmetic minimum, full and no-change loads
	$(BIN)/python -m benchmarks.requests --scales 1 3

bench-ingest: install ## P2: records per second through the connectors vs downloading the same pages in a loop
	$(BIN)/python -m benchmarks.ingest --scale 3 --repeat 3

bench-build: install ## P3 + P4: full dbt run at 1M and 3M issues vs its SQL in DuckDB, then +1% incremental (summary.json)
	$(BIN)/python -m benchmarks.build --verify --issues 1000000
	$(BIN)/python -m benchmarks.build --issues 3000000

bench-dashboards: install ## P5: p50/p95 of every dashboard query on the demo organisation's published marts (summary.json)
	rm -rf benchmarks/out/dashboards
	$(BIN)/throughline demo --warehouse benchmarks/out/dashboards/throughline.duckdb --as-of 2026-11-30
	$(BIN)/python dashboards/scripts/bench_queries.py benchmarks/out/dashboards/marts.duckdb --repeat 3 \
		--results "demo organisation (DORA pages)"

lock: ## re-pin every dependency after changing pyproject.toml
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf warehouse dbt_project/target dbt_project/logs
