"""One load in its own process, for the tests that kill a load or start two at once.

    python -m tests.faults.loader <jira|github|circleci> <simulator url> <warehouse>
    python -m tests.faults.loader --dagster <asset step name>

The first reads one source straight through its connector; it exits 0 after the load, or 1 with
`error: <message>` on stderr for a ThroughlineError (as `throughline run` does). The second materializes
one raw asset through Dagster on the instance in $DAGSTER_HOME, the configuration in $THROUGHLINE_CONFIG
and the warehouse in $THROUGHLINE_WAREHOUSE; it exits 0 if the run succeeded. Secrets come from the
environment, as in production.
"""

from __future__ import annotations

import os
import sys

from connectors.core.errors import ThroughlineError
from tests.faults.targets import BY_NAME, SECRETS
from tests.support.raw_writes import ReportingStore


def materialize(step: str) -> int:
    import dagster as dg

    from pipelines.raw_assets import build_raw_assets
    from pipelines.resources import ThroughlineResource

    [asset] = [a for a in build_raw_assets() if a.node_def.name == step]
    result = dg.materialize([asset], instance=dg.DagsterInstance.get(), raise_on_error=False,
                            resources={"throughline": ThroughlineResource()})
    return 0 if result.success else 1


def main(argv: list[str]) -> int:
    missing = [var for var in SECRETS if var not in os.environ]
    if missing:
        print(f"error: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    if argv[0] == "--dagster":
        return materialize(argv[1])
    name, url, warehouse = argv
    try:
        with ReportingStore(warehouse) as store:  # (tests that kill it wait until its writes are committed)
            # A long timeout: the tests stall a page on purpose, and the load must wait there.
            BY_NAME[name].extract(url, store, os.environ, timeout_seconds=60)
    except ThroughlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
