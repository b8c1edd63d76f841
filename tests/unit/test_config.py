import re
import textwrap

import pytest

from connectors.config import load_config, parse_config
from connectors.core.errors import ConfigError

ENV = {"JIRA_EMAIL": "me@acme.test", "JIRA_TOKEN": "s3cret-jira", "GH_TOKEN": "s3cret-gh"}


def jira(**over):
    entry = {
        "type": "jira",
        "name": "acme-jira",
        "base_url": "https://acme.atlassian.net/",
        "auth": {"email": "${JIRA_EMAIL}", "api_token": "${JIRA_TOKEN}"},
        "scope": {"projects": ["PAY"]},
    }
    entry.update(over)
    return entry


def github(**over):
    entry = {"type": "github", "name": "gh", "auth": {"token": "${GH_TOKEN}"}, "scope": {"org": "acme"}}
    entry.update(over)
    return entry


def test_valid_config_resolves_env_and_hides_secrets():
    config = parse_config({"sources": [jira(), github()]}, env=ENV)
    source = config.sources[0]
    assert source.base_url == "https://acme.atlassian.net"  # trailing slash dropped
    assert source.auth.api_token.get_secret_value() == "s3cret-jira"
    assert "s3cret" not in repr(config)
    assert config.sources_of("github")[0].base_url == "https://api.github.com"
    assert config.schedule.cron == "0 2 * * *"


def test_unknown_key_names_source_and_field():
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [jira(scope={"projects": ["PAY"], "projcts": ["X"]})]}, env=ENV)
    message = str(err.value)
    assert "source 'acme-jira', field 'scope.projcts': unknown key" in message


def test_missing_env_var_names_source_field_and_variable():
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [jira()]}, env={"JIRA_EMAIL": "me@acme.test"})
    assert "field 'sources.0.auth.api_token'" not in str(err.value)
    assert "source 'acme-jira', field 'auth.api_token': environment variable JIRA_TOKEN is not set" in str(err.value)


def test_bad_url_and_bad_repo_are_each_reported():
    bad = [jira(base_url="acme.atlassian.net"), github(scope={"repos": ["not-a-repo"]})]
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": bad}, env=ENV)
    message = str(err.value)
    assert "source 'acme-jira', field 'base_url': 'acme.atlassian.net' is not an http(s) URL" in message
    assert "source 'gh', field 'scope.repos': 'not-a-repo' is not owner/name" in message


def test_duplicate_names_and_unknown_type():
    with pytest.raises(ConfigError, match="two sources are named 'acme-jira'"):
        parse_config({"sources": [jira(), jira()]}, env=ENV)
    with pytest.raises(ConfigError, match="source 'x'"):
        parse_config({"sources": [{"type": "bitbucket", "name": "x"}]}, env=ENV)


def test_env_default_and_missing_file(tmp_path):
    path = tmp_path / "throughline.yml"
    path.write_text(textwrap.dedent("""
        sources:
          - type: github
            name: gh
            base_url: https://ghe.acme.test/api/v3
            auth: {token: "${GH_TOKEN:-fallback}"}
            scope: {repos: [acme/api]}
    """))
    config = load_config(path, env={})
    assert config.sources[0].auth.token.get_secret_value() == "fallback"
    with pytest.raises(ConfigError, match="no configuration at"):
        load_config(tmp_path / "missing.yml", env={})


def test_example_config_is_valid(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "throughline.example.yml"
    # Every ${VAR} the example names (one per source block), so a new source's block needs no edit here.
    env = {k: "x" for k in re.findall(r"\$\{(\w+)", example.read_text())}
    config = load_config(example, env=env)
    assert {"jira", "github", "gitlab"} <= {s.type for s in config.sources}


def test_start_date_must_be_a_real_day_and_unquoted_dates_stay_text(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [jira(options={"start_date": "2024-02-30"})]}, env=ENV)
    assert ("source 'acme-jira', field 'options.start_date': '2024-02-30' is not a date (day is out of range for "
            "month); write it as YYYY-MM-DD, e.g. 2024-02-29") in str(err.value)
    path = tmp_path / "throughline.yml"
    path.write_text("sources:\n  - {type: github, name: gh, auth: {token: x}, scope: {org: acme},\n"
                    "     options: {start_date: 2024-02-29}}\n")  # unquoted: YAML would make it a date object
    assert load_config(path, env={}).sources[0].options.start_date == "2024-02-29"


def test_a_variable_set_but_empty_is_reported_and_a_default_stands_in_for_it():
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [jira()]}, env={**ENV, "JIRA_TOKEN": ""})
    assert ("source 'acme-jira', field 'auth.api_token': environment variable JIRA_TOKEN is set but empty; export "
            "its value before running") in str(err.value)
    config = parse_config({"sources": [github(auth={"token": "${GH_TOKEN:-fallback}"})]}, env={"GH_TOKEN": ""})
    assert config.sources[0].auth.token.get_secret_value() == "fallback"  # as ${VAR:-x} does in the shell


def test_every_problem_is_reported_at_once_and_a_misspelt_key_says_what_was_meant():
    entries = [jira(scope={"projcts": ["PAY"]}), github()]
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": entries, "freshness": {"sources": {"acme-jra": 192}}}, env={"JIRA_EMAIL": "e"})
    assert str(err.value).splitlines()[1:] == [
        "  source 'acme-jira', field 'auth.api_token': environment variable JIRA_TOKEN is not set; export it "
        "before running",
        "  source 'gh', field 'auth.token': environment variable GH_TOKEN is not set; export it before running",
        "  field 'freshness.sources.acme-jra': no source is named 'acme-jra', so this limit applies to nothing; "
        "use one of the names under sources (acme-jira, gh)",
        "  source 'acme-jira', field 'scope.projcts': unknown key; did you mean 'projects'? (see "
        "throughline.example.yml)",
    ]  # no second line about the token the missing variable left empty, none about `projects` missing


def test_waits_and_deadlines_must_fit_together():
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [
            jira(options={"timeout_seconds": 60, "request_deadline_seconds": 30}),
            github(options={"max_rate_limit_wait_seconds": 3600}),
        ]}, env=ENV)
    message = str(err.value)
    assert ("source 'acme-jira', field 'options': request_deadline_seconds (30) is shorter than timeout_seconds "
            "(60)") in message
    assert ("source 'gh', field 'options': max_rate_limit_wait_seconds (3600) is longer than max_total_wait_seconds "
            "(1800)") in message
    options = parse_config({"sources": [jira(options={"ca_bundle": "~/ca.pem"})]}, env=ENV).sources[0].options
    assert options.ca_bundle.endswith("/ca.pem") and not options.ca_bundle.startswith("~")
    assert (options.max_total_wait_seconds, options.request_deadline_seconds) == (1800, None)


# ---------------------------------------------------------------- warehouse: DuckDB's memory, spill folder, threads


def test_duckdb_settings_default_to_3gb_a_spill_folder_beside_the_warehouse_and_duckdbs_threads():
    config = parse_config({"sources": [jira()]}, env=ENV)
    assert config.warehouse.memory_limit == "3GB"
    assert config.warehouse.duckdb_settings("/data/throughline.duckdb") == {
        "memory_limit": "3GB", "temp_directory": "/data/throughline.duckdb.tmp"}


def test_duckdb_settings_as_written(tmp_path):
    config = parse_config({"sources": [jira()], "warehouse": {
        "memory_limit": " 6GiB ", "temp_directory": str(tmp_path / "spill"), "threads": 3}}, env=ENV)
    assert config.warehouse.duckdb_settings("/data/throughline.duckdb") == {
        "memory_limit": "6GiB", "temp_directory": str(tmp_path / "spill"), "threads": "3"}
    share = parse_config({"sources": [jira()], "warehouse": {"memory_limit": "50%"}}, env=ENV)
    assert share.warehouse.memory_limit == "50%"


@pytest.mark.parametrize(("section", "message"), [
    ({"memory_limit": "lots"}, "'lots' is not a DuckDB memory size"),
    ({"memory_limit": "3 gigs"}, "'3 gigs' is not a DuckDB memory size"),
    ({"memory_limit": "0GB"}, "'0GB' is not a DuckDB memory size"),
    ({"memory_limit": "150%"}, "'150%' is more than all of the RAM"),
    ({"threads": 0}, "greater than or equal to 1"),
    ({"temp_directory": ""}, "at least 1 character"),
])
def test_duckdb_settings_refused_with_the_field_named(section, message):
    with pytest.raises(ConfigError) as caught:
        parse_config({"sources": [jira()], "warehouse": section}, env=ENV)
    assert message in str(caught.value)
    assert f"warehouse.{next(iter(section))}" in str(caught.value)


def test_dbt_receives_the_duckdb_settings_through_its_profile():
    """operations/dbt.py's variables, rendered by dbt's own profile renderer into the duckdb target's
    config_options (given at connect: dbt-duckdb would SET `settings:` on every cursor, and DuckDB refuses to
    switch temp_directory once a query has spilled)."""
    import yaml
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    from connectors.config import DBT_PROJECT_DIR
    from operations.dbt import dbt_env

    config = parse_config({"sources": [jira()], "warehouse": {"memory_limit": "2GiB", "threads": 1}}, env=ENV)
    env = dbt_env(config, "/data/throughline.duckdb")
    assert env == {"THROUGHLINE_DUCKDB_MEMORY_LIMIT": "2GiB",
                   "THROUGHLINE_DUCKDB_TEMP_DIRECTORY": "/data/throughline.duckdb.tmp",
                   "THROUGHLINE_DUCKDB_THREADS": "1"}
    local = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["throughline"]["outputs"]["local"]
    set_invocation_context({"THROUGHLINE_WAREHOUSE": "/data/throughline.duckdb", **env})
    rendered = ProfileRenderer({}).render_data(local)
    assert rendered["settings"] == {"TimeZone": "UTC"}
    assert rendered["config_options"] == {
        "memory_limit": "2GiB", "temp_directory": "/data/throughline.duckdb.tmp", "threads": "1"}
    set_invocation_context({"THROUGHLINE_WAREHOUSE": "/data/throughline.duckdb"})  # dbt run by hand
    assert ProfileRenderer({}).render_data(local)["config_options"] == {
        "memory_limit": "3GB", "temp_directory": "/data/throughline.duckdb.tmp", "threads": "2"}


def test_open_warehouse_applies_the_settings(tmp_path):
    from connectors.core.raw import open_warehouse

    path = tmp_path / "w.duckdb"
    con = open_warehouse(path, settings={"memory_limit": "1GiB", "temp_directory": str(tmp_path / "spill"),
                                         "threads": "1"})
    assert con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
                       "current_setting('threads')").fetchall() == [("1.0 GiB", str(tmp_path / "spill"), 1)]
    con.close()


def test_forecasts_as_of_pins_the_forecast_date_for_dbt():
    from operations.dbt import dbt_vars

    assert "forecast_as_of" not in dbt_vars(parse_config({"sources": [jira()]}, env=ENV))
    pinned = parse_config({"sources": [jira()], "forecasts": {"as_of": "2026-10-24"}}, env=ENV)
    assert dbt_vars(pinned)["forecast_as_of"] == "2026-10-24"
    with pytest.raises(ConfigError) as caught:
        parse_config({"sources": [jira()], "forecasts": {"as_of": "2026-13-01"}}, env=ENV)
    assert "forecasts.as_of" in str(caught.value)
