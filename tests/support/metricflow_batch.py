"""Several `mf query`s in one process: `python tests/support/metricflow_batch.py PROJECT < requests.json`.

Each `mf query` is a process that imports MetricFlow and dbt, loads the project and connects (~8 s of a test's
time each) before its query runs in well under a second. This runs the same engine `mf query` builds
(dbt_metricflow's CLIConfiguration, whose docstring allows sharing one between queries) for a list of
requests `[[metrics, group_by, csv_path], ...]` on stdin, and writes each result as `mf query --csv` does: the
header, then the rows (the header alone when the result is empty, where `mf query` writes no file).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main() -> None:
    from dbt_metricflow.cli.cli_configuration import CLIConfiguration
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    project = Path(sys.argv[1])
    config = CLIConfiguration()
    config.setup(dbt_profiles_path=project, dbt_project_path=project, configure_file_logging=False)
    for metrics, group_by, out in json.load(sys.stdin):
        result = config.mf.query(mf_request=MetricFlowQueryRequest.create(metric_names=metrics,
                                                                          group_by_names=group_by))
        table = result.result_df
        with open(out, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(table.column_names)
            for row in table.rows:
                writer.writerow(row)


if __name__ == "__main__":
    main()
