#!/usr/bin/env bash
# Build the dashboards (a static site in dashboards/build/) from the published marts.
#   dashboards/build.sh [PUBLISHED_DIR]     default: the repository's warehouse/, where `make demo` publishes
# Reads only PUBLISHED_DIR/marts.duckdb (operations/publish.py), never the working warehouse.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# A relative PUBLISHED_DIR means what it says where the command was typed (`make dashboards` passes
# `warehouse` from the repository root), so resolve it before moving into dashboards/.
published="$(realpath -m "${1:-$here/../warehouse}")"
cd "$here"
if [ ! -f "$published/marts.duckdb" ]; then
  echo "dashboards: $published/marts.duckdb does not exist; run 'make demo' (or the nightly job) first, or pass the folder that holds the published marts.duckdb" >&2
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
