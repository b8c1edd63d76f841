"""The semantic layer (docs/BI.md): `mf validate-configs` accepts the semantic models and metrics against the demo
warehouse, and every headline metric queried through `mf query` at a grain and a dimension equals the same number
in its mart, or, at a grain no mart has (quarters), the number plain SQL computes from the row-level mart.

The demo's warehouse (the session's `demo_warehouse`) is copied first: MetricFlow connects through dbt-duckdb,
which opens the file for writing, and other tests hold the shared one open read-only.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from connectors.config import DBT_PROJECT_DIR, WAREHOUSE_ENV_VAR

BIN = Path(sys.executable).parent
BATCH = Path(__file__).parents[1] / "support" / "metricflow_batch.py"


@dataclass(frozen=True)
class Layer:
    project: Path  # the dbt project as links, with a target/ of its own for the semantic manifest
    warehouse: Path
    env: dict
    answers: dict = field(default_factory=dict)  # (metrics, group by) -> rows, of prefetch()

    def run(self, *args: str, stdin: str | None = None) -> str:
        run = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=self.project, env=self.env, input=stdin,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{' '.join(args)}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
        return run.stdout

    def prefetch(self, requests: list[tuple[list[str], list[str]]]) -> None:
        """The answers of `mf query` to every (metrics, group by) of `requests`, from one process
        (tests/support/metricflow_batch.py: the same engine, without a process and a project load per query)."""
        outs = [str(self.project / f"{index}.csv") for index in range(len(requests))]
        batch = [[metrics, group_by, out] for (metrics, group_by), out in zip(requests, outs)]
        self.run("python", str(BATCH), str(self.project), stdin=json.dumps(batch))
        for (metrics, group_by), out in zip(requests, outs):
            self.answers[(tuple(metrics), tuple(group_by))] = _read_answer(Path(out), metrics, group_by)

    def query(self, metrics: list[str], group_by: list[str]) -> dict[tuple, dict]:
        """{(period start, *dimension values): {metric: value}} of `mf query`; rows without a period
        (events that have no time, e.g. pull requests never deployed) are left out."""
        if (tuple(metrics), tuple(group_by)) not in self.answers:
            self.prefetch([(metrics, group_by)])
        return self.answers[(tuple(metrics), tuple(group_by))]

    def sql(self, sql: str, width: int) -> dict[tuple, tuple]:
        """{(period start, *dimensions): values} of `sql`, whose first `width` columns are the key."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            result = con.execute(sql).fetchall()
        return {(str(row[0]), *row[1:width]): row[width:] for row in result}


def _read_answer(out: Path, metrics: list[str], group_by: list[str]) -> dict[tuple, dict]:
    rows = {}
    with out.open(newline="") as file:
        for row in csv.DictReader(file):
            if not row[group_by[0]]:
                continue
            key = (row[group_by[0]][:10], *(row[name] for name in group_by[1:]))
            assert key not in rows, f"two rows for {key}"
            rows[key] = {name: float(row[name]) if row[name] != "" else None for name in metrics}
    return rows


# The queries of the tests below, beside CASES: (metrics, group by).
QUARTER_FLOW = (["flow_time_p85", "flow_time_p50", "flow_velocity", "flow_efficiency", "flow_distribution_feature",
                 "flow_distribution_defect"], ["metric_time__quarter", "work_item__value_stream"])
WEEKLY_DISTRIBUTION = ([f"flow_distribution_{kind}" for kind in ("feature", "defect", "risk", "debt")],
                       ["metric_time__week", "work_item__team", "work_item__value_stream"])


@pytest.fixture(scope="module")
def layer(demo_warehouse, tmp_path_factory) -> Layer:
    work = tmp_path_factory.mktemp("metrics_layer")
    warehouse = work / "throughline.duckdb"
    shutil.copyfile(demo_warehouse, warehouse)
    # mf reads the semantic manifest only from <project>/target/; a project of links keeps the checkout's
    # dbt_project/target/ (Dagster's manifest) out of it.
    project = work / "project"
    project.mkdir()
    for entry in DBT_PROJECT_DIR.iterdir():
        if entry.name not in ("target", "logs"):
            (project / entry.name).symlink_to(entry)
    env = {**os.environ, WAREHOUSE_ENV_VAR: str(warehouse)}
    built = Layer(project, warehouse, env)
    built.run("dbt", "parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project))
    built.prefetch([QUARTER_FLOW, WEEKLY_DISTRIBUTION, *((metrics, group_by) for metrics, group_by, _ in CASES.values())])
    return built


def assert_same(layer_rows: dict[tuple, dict], mart_rows: dict[tuple, tuple], metrics: list[str]):
    """The layer's rows are the mart's rows, key for key, and each metric equals the mart's column."""
    assert mart_rows, "nothing to compare: the mart has no rows"
    assert set(layer_rows) == set(mart_rows), (
        f"only in the layer: {sorted(set(layer_rows) - set(mart_rows))[:5]}, "
        f"only in the mart: {sorted(set(mart_rows) - set(layer_rows))[:5]}")
    for key, values in mart_rows.items():
        for metric, expected in zip(metrics, values):
            got = layer_rows[key][metric]
            assert (got is None) == (expected is None), f"{metric} at {key}: layer {got}, mart {expected}"
            if expected is not None:
                assert got == pytest.approx(float(expected), rel=1e-9, abs=1e-9), f"{metric} at {key}"


def test_validate_configs_accepts_the_semantic_models_against_the_warehouse(layer):
    out = layer.run("mf", "validate-configs")
    # One line per step: the manifest's semantics, then semantic models, dimensions, entities, measures and
    # metrics queried against the warehouse.
    assert out.count("(ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 0)") == 6, out[-3000:]


def test_flow_time_p85_per_value_stream_per_quarter_equals_sql_over_work_items(layer):
    metrics, group_by = QUARTER_FLOW
    got = layer.query(metrics, group_by)
    expected = layer.sql("""
        SELECT date_trunc('quarter', completed_at)::date, value_stream,
               quantile_cont(flow_time_hours, 0.85), quantile_cont(flow_time_hours, 0.5), count(*),
               sum(active_time_hours) / sum(flow_time_hours),
               count(*) FILTER (WHERE flow_item_type = 'feature') / count(*),
               count(*) FILTER (WHERE flow_item_type = 'defect') / count(*)
        FROM marts.work_items WHERE is_done AND is_flow_item GROUP BY ALL
    """, 2)
    assert_same(got, expected, metrics)
    assert len({key[0] for key in got}) >= 2  # more than one quarter, more than one value stream
    assert len({key[1] for key in got}) >= 2


# (metrics, group by, the mart's rows as SQL: the group-by columns, then the metrics). Only the mart's rows where
# something happened: the marts have a row for every period of a group, zeros included; the layer has the
# periods with events. A percentile's rows are those where it is defined on both sides.
CASES = {
    "flow per team per month": (
        ["flow_velocity", "flow_time_p50", "flow_time_p85", "flow_efficiency"],
        ["metric_time__month", "work_item__team", "work_item__value_stream"],
        """SELECT month_start, team, value_stream, flow_velocity, flow_time_p50_hours, flow_time_p85_hours,
                  flow_efficiency
           FROM marts.flow_metrics_monthly WHERE grouping_level = 'team' AND flow_velocity > 0"""),
    "flow load per value stream per month": (
        ["flow_load", "flow_load_end"],
        ["metric_time__month", "flow_load_daily__value_stream"],
        """SELECT month_start, value_stream, flow_load_avg, flow_load_end
           FROM marts.flow_metrics_monthly WHERE grouping_level = 'value_stream' AND flow_load_avg > 0"""),
    "deployment frequency per service per week": (
        ["deployment_frequency", "deployment_days"],
        ["metric_time__week", "deployment__service"],
        """SELECT period_start, service, deployments, deployment_days
           FROM marts.dora_metrics_weekly WHERE grouping_level = 'service' AND deployments > 0"""),
    "change fail and rework rate per team per month": (
        ["deployment_attempts", "change_fail_rate", "rework_rate", "change_failures"],
        ["metric_time__month", "deployment__team"],
        """SELECT period_start, team, deployment_attempts, change_failure_rate, rework_rate, change_failures
           FROM marts.dora_metrics_monthly WHERE grouping_level = 'team' AND deployment_attempts > 0"""),
    "recovery time per team per month": (
        ["failed_deployment_recovery_time_p50"],
        ["metric_time__month", "deployment__team"],
        """SELECT period_start, team, recovery_time_p50_hours
           FROM marts.dora_metrics_monthly WHERE grouping_level = 'team' AND recovery_time_p50_hours IS NOT NULL"""),
    "change lead time per team per month": (
        ["change_lead_time_p50", "change_lead_time_p85"],
        ["metric_time__month", "change_request__team"],
        """SELECT period_start, team, lead_time_p50_hours, lead_time_p85_hours
           FROM marts.dora_metrics_monthly WHERE grouping_level = 'team' AND lead_time_changes > 0"""),
    "change lead time per team per quarter (no mart: SQL over pull requests)": (
        ["change_lead_time_p50", "change_lead_time_p85"],
        ["metric_time__quarter", "change_request__team"],
        """SELECT date_trunc('quarter', first_deployed_at)::date, team,
                  quantile_cont(lead_time_hours, 0.5), quantile_cont(lead_time_hours, 0.85)
           FROM marts.pull_request_cycle_times WHERE lead_time_hours IS NOT NULL GROUP BY ALL"""),
    "incidents per team per month": (
        ["incidents", "unattributed_incidents"],
        ["metric_time__month", "incident__team"],
        """SELECT period_start, team, incidents, unattributed_incidents
           FROM marts.dora_metrics_monthly WHERE grouping_level = 'team' AND incidents > 0"""),
    "time to market per value stream per month": (
        ["epics_shipped", "time_to_market_p50"],
        ["metric_time__month", "epic__value_stream"],
        """SELECT month_start, value_stream, epics_shipped, time_to_market_p50_hours
           FROM marts.value_stream_scorecard WHERE epics_shipped > 0"""),
    "KPI movement per value stream per month": (
        ["kpi_links_measured", "kpi_towards_target_share"],
        ["metric_time__month", "kpi_movement__value_stream"],
        """SELECT month_start, value_stream, kpi_links_measured, kpi_towards_target_share
           FROM marts.value_stream_scorecard WHERE kpi_links_measured > 0"""),
}


@pytest.mark.parametrize("case", list(CASES))
def test_metric_through_the_layer_equals_its_mart(layer, case):
    metrics, group_by, sql = CASES[case]
    got = layer.query(metrics, group_by)
    # the first metric decides whether the layer's row is one the mart has (a count above 0, a percentile defined)
    got = {key: values for key, values in got.items() if values[metrics[0]]}
    assert_same(got, layer.sql(sql, len(group_by)), metrics)


def test_flow_distribution_per_team_per_week_equals_flow_metrics_weekly(layer):
    got = layer.query(*WEEKLY_DISTRIBUTION)
    shares = layer.sql("""
        SELECT week_start, team, value_stream, flow_item_type, flow_distribution_completed
        FROM marts.flow_metrics_weekly WHERE grouping_level = 'team_type' AND flow_distribution_completed IS NOT NULL
    """, 4)
    assert shares and any(share[0] not in (0, 1) for share in shares.values())  # mixed weeks, not only 0 / 1
    for (week, team, value_stream, kind), (share,) in shares.items():
        assert got[(week, team, value_stream)][f"flow_distribution_{kind}"] == pytest.approx(share), (week, team, kind)




def test_every_headline_metric_is_checked_against_its_mart():
    # The list (docs/BI.md's table): each is queried above and compared with its mart.
    headline = {"flow_velocity", "flow_time_p50", "flow_time_p85", "flow_efficiency", "flow_load",
                "flow_distribution_feature", "flow_distribution_defect", "flow_distribution_risk",
                "flow_distribution_debt", "deployment_frequency", "change_lead_time_p50", "change_lead_time_p85",
                "change_fail_rate", "failed_deployment_recovery_time_p50", "rework_rate", "time_to_market_p50",
                "kpi_towards_target_share"}
    checked = {metric for metrics, _, _ in CASES.values() for metric in metrics}
    checked |= {f"flow_distribution_{kind}" for kind in ("feature", "defect", "risk", "debt")}
    assert headline - checked == set()
