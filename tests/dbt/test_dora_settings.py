"""How throughline.yml's Jira incident rules reach dbt (pure functions, no dbt run)."""

from __future__ import annotations

import pytest

from connectors.config import parse_config
from connectors.core.errors import ConfigError
from operations.dbt import dbt_vars


def jira(name: str, **options) -> dict:
    return {"type": "jira", "name": name, "base_url": "https://x.test", "auth": {"token": "t"},
            "scope": {"projects": ["OPS"]}, "options": options}


def test_default_incident_rules_pass_nothing():
    # the models' own defaults (issue type Incident, label incident) apply: `dbt build` stays bare
    assert dbt_vars(parse_config({"sources": [jira("a"), jira("b")]}, env={})) == {}


def test_incident_rules_of_all_jira_sources_are_merged():
    config = parse_config({"sources": [
        jira("a", incident_issue_types=["Incident", "Outage"], incident_fields={"root_cause_sha": "customfield_10100"}),
        jira("b", incident_labels=["sev1"], incident_cause_link="is caused by",
             incident_fields={"root_cause_sha": "customfield_20200", "service": "customfield_20201"}),
    ]}, env={})
    assert dbt_vars(config) == {
        "jira_incident_issue_types": ["incident", "outage"],
        "jira_incident_labels": ["incident", "sev1"],
        # one var for the run: the first source naming a role wins
        "jira_incident_fields": {"root_cause_sha": "customfield_10100", "service": "customfield_20201"},
        "jira_incident_cause_link_pattern": "caused by|is caused by",
    }


def test_incident_fields_are_loaded_by_the_connector():
    config = parse_config({"sources": [jira("a", extra_fields=["customfield_1"],
                                            incident_fields={"severity": "customfield_2", "service": "customfield_1"})]},
                          env={})
    assert config.sources[0].options.extra_fields == ["customfield_1", "customfield_2"]


def test_bad_incident_fields_name_the_source_and_the_fix():
    with pytest.raises(ConfigError, match=r"source 'a', field 'options.incident_fields.*root_cause"):
        parse_config({"sources": [jira("a", incident_fields={"rootcause": "customfield_1"})]}, env={})
    with pytest.raises(ConfigError, match=r"source 'a'.*'Root Cause' is not a field id; write it like customfield_"):
        parse_config({"sources": [jira("a", incident_fields={"root_cause_sha": "Root Cause"})]}, env={})
    with pytest.raises(ConfigError, match=r"source 'a', field 'options.incident_cause_link'.*regular expression"):
        parse_config({"sources": [jira("a", incident_cause_link="caused (by")]}, env={})
