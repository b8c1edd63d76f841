"""Several dbt commands in one process, in turn, until one fails (tests/support/portability.py dbt_target_runs):

    python -m tests.support.dbt_runs '[["build", ...], ["run", ...]]'

The local Spark that dbt-spark's `session` method starts lives as long as its process, so the commands share one
JVM and Spark session instead of starting one each (tens of seconds on two busy cores). After each command's own
output comes a line `MARK <exit code>`, the code the dbt CLI would have exited with.
"""

from __future__ import annotations

import json
import sys

MARK = "@@dbt-run-exit"


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    for args in json.loads(argv[0]):
        result = dbtRunner().invoke(args)
        code = 0 if result.success else 2 if result.exception is not None else 1
        print(f"\n{MARK} {code}", flush=True)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
