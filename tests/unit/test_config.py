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
