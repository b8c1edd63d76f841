#!/usr/bin/env bash
# Build the dashboards (a static site in dashboards/build/) from the published marts.
#   dashboards/build.sh [PUBLISHED_DIR]     default: ../warehouse, where `make demo` publishes
# Reads only PUBLISHED_DIR/marts.duckdb (pipelines/publish.py), never the working warehouse.
set -euo pipefail
cd "$(dirname "$0")"
published="$(realpath "${1:-../warehouse}")"
if [ ! -f "$published/marts.duckdb" ]; then
  echo "dashboards: $published/marts.duckdb does not exist; run 'make demo' or the nightly job, which publish the marts" >&2
  exit 1
fi
if [ ! -x node_modules/.bin/evidence ]; then
  echo "dashboards: node_modules missing; run 'make dashboards' (npm ci in dashboards/)" >&2
  exit 1
fi
ln -sfn "$published/marts.duckdb" sources/throughline/marts.duckdb
# Evidence's usage statistics would only add a timeout where the internet is out of reach.
export SEND_ANONYMOUS_USAGE_STATS=no
npx evidence sources --strict
# build:strict fails on any query error or empty chart instead of publishing a broken page.
npx evidence build:strict
