"""One parse of the project holds for every value of its vars.

dbt reads a var where it compiles each model, at every run. What a parse records besides (each model's refs and
sources, its configuration, the data tests, the docs) must not depend on one: then a parse made for one build
serves the next whatever its vars (throughline-dbt leaves the vars out of dbt's check before it reuses a parse,
operations/dbt_main.py, and the nightly keeps its parses by warehouse name alone, operations/dbt.py parse_key),
and the in-process builds of these tests share one parse (warehouse.py invoke_dbt). Checked by parsing with every
var of the project set to another valid value and comparing with the parse of the defaults.
"""

from __future__ import annotations

import re

from connectors.config import DBT_PROJECT_DIR

from .warehouse import parse

# Every var the project reads, each set to a valid value other than its default (dbt_project.yml, macros/dora.sql).
VARIED = {
    "deployment_rules": {"github-main": {
        "job_pattern": "ship", "branches": ["main", "release/*"], "environment_pattern": "live",
        "default_environment": "Live", "production_environments": ["live"], "rollback_pattern": "undo",
        "hotfix_pattern": "patch", "services": {"payments/*": "payments"}}},
    "deployment_rule_defaults": {
        "job_pattern": "deploy", "branches": ["main"], "environment_pattern": "prod",
        "default_environment": "prod", "production_environments": ["prod"], "services": {"web-*": "web"},
        "rollback_pattern": "rollback", "hotfix_pattern": "hotfix"},
    "jira_story_points_field": "customfield_10028",
    "jira_incident_fields": {"service": "customfield_1", "severity": "customfield_2",
                             "caused_by_deployment": "customfield_3", "root_cause_sha": "customfield_4"},
    "jira_incident_issue_types": ["Outage"],
    "jira_incident_labels": ["sev1"],
    "jira_incident_cause_link_pattern": "is caused by",
    "github_incident_labels": ["outage"],
    "realization_epic_issue_types": ["Feature"],
    "realization_initiative_issue_types": ["Theme"],
    "azure_devops_epic_work_item_types": ["Epic"],
    "azure_devops_initiative_work_item_types": ["Theme"],
    "realization_kpi_window_days": 14,
    "flow_item_hierarchy_levels": [0, -1],
    "incremental_lookback_hours": 6,
    "forecast_as_of": "2026-10-24",
    "forecast_window_weeks": 8,
    "forecast_trials": 200,
    "forecast_seed": "another",
    "forecast_horizon_weeks": 52,
    "forecast_unsplit_epic_items": 3,
    "deployment_duplicate_window_minutes": 10,
    "incident_attribution_window_hours": 12,
    "remediation_window_hours": 48,
    "rework_deployment_kinds": ["rollback"],
}

READS = re.compile(r"""\bvar\(\s*['"](\w+)['"]""")


def test_every_var_the_project_reads_is_varied():
    """A var added to the project must be added above, or this check would not cover it."""
    read = {name for folder in ("models", "macros", "tests", "seeds")
            for path in (DBT_PROJECT_DIR / folder).rglob("*") if path.suffix in (".sql", ".yml", ".yaml")
            for name in READS.findall(path.read_text())}
    read |= set(READS.findall((DBT_PROJECT_DIR / "dbt_project.yml").read_text()))
    dora = (DBT_PROJECT_DIR / "macros" / "dora.sql").read_text()
    defaults = dora[dora.index("set defaults = {"):dora.index("} -%}")]
    read |= set(re.findall(r"'(\w+)':", defaults))  # dora_setting(name) reads var(name)
    assert "rework_deployment_kinds" in read and "forecast_as_of" in read
    assert sorted(read - set(VARIED)) == []


def _recorded(manifest) -> dict[str, dict]:
    """What the parse recorded of every node, source, macro, test and semantic object. Without the time it was
    made, and without the macros a node called (dbt looks a macro up by name when it compiles; the list only
    decides which models a change to a macro's file parses again, and stg_jira__issues calls jira_field_paths
    only for the incident fields a var names)."""
    recorded = {}
    for section in ("nodes", "sources", "macros", "unit_tests", "semantic_models", "metrics", "saved_queries",
                    "exposures", "docs"):
        for unique_id, node in getattr(manifest, section).items():
            values = node.to_dict()
            values.pop("created_at", None)
            if isinstance(values.get("depends_on"), dict):
                values["depends_on"] = {k: v for k, v in values["depends_on"].items() if k != "macros"}
            recorded[unique_id] = values
    return recorded


def test_a_parse_is_the_same_whatever_the_vars(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    defaults = _recorded(parse(warehouse, tmp_path / "defaults", {}))
    varied = _recorded(parse(warehouse, tmp_path / "varied", VARIED))
    assert len(defaults) > 1000 and sorted(defaults) == sorted(varied)
    differences = {unique_id: sorted(k for k in values if values[k] != varied[unique_id].get(k))
                   for unique_id, values in defaults.items() if values != varied[unique_id]}
    assert differences == {}
