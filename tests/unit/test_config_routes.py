"""The one route of a setting from throughline.yml to where it acts, and the registry as the only registration:
a source folder is found without an edit to connectors/registry.py or connectors/config.py."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import connectors
from connectors import registry
from connectors.config import (
    CONFIG_ENV_VAR, DEFAULT_WAREHOUSE, WAREHOUSE_ENV_VAR, WarehouseConfig, extraction_config, parse_config,
    raw_config_section, schedule_config, warehouse_path,
)
from connectors.core.errors import ConfigError
from connectors.github.config import GitHubScope
from connectors.jenkins.config import JenkinsScope
from connectors.partitions import Partition, partitions_of, per_scope, scope_list


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """Writes throughline.yml in a fresh working directory, with neither variable of the route set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(WAREHOUSE_ENV_VAR, raising=False)
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)

    def write(text: str) -> Path:
        path = tmp_path / "throughline.yml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def test_the_warehouse_default_is_one_constant():
    assert WarehouseConfig().path == DEFAULT_WAREHOUSE == "warehouse/throughline.duckdb"


def test_without_a_file_or_variable_the_warehouse_is_the_default_under_the_working_directory(config_file, tmp_path):
    assert warehouse_path() == tmp_path / "warehouse" / "throughline.duckdb"


def test_the_config_path_is_read_through_its_model_with_variables_resolved(config_file, tmp_path, monkeypatch):
    monkeypatch.setenv("WH_DIR", "data")
    config_file("warehouse:\n  path: ${WH_DIR}/w.duckdb\n")
    assert raw_config_section("warehouse") == {"path": "data/w.duckdb"}
    assert warehouse_path() == tmp_path / "data" / "w.duckdb"


def test_the_variable_wins_over_the_config(config_file, tmp_path, monkeypatch):
    config_file("warehouse:\n  path: data/w.duckdb\n")
    monkeypatch.setenv(WAREHOUSE_ENV_VAR, str(tmp_path / "elsewhere.duckdb"))
    assert warehouse_path() == tmp_path / "elsewhere.duckdb"


@pytest.mark.parametrize("text", [
    "warehouse:\n  path: ${NOT_SET_ANYWHERE}/w.duckdb\n",  # its variable missing: check-config says so
    "warehouse:\n  path: ''\n",                             # empty: refused by the model
    "warehouse:\n  path: [a\n",                             # not YAML: the run reports the line
])
def test_a_wrong_warehouse_section_leaves_the_default(config_file, tmp_path, text):
    config_file(text)
    assert warehouse_path() == tmp_path / DEFAULT_WAREHOUSE


def test_sections_read_early_come_through_their_models(config_file):
    config_file("""\
        schedule: {cron: "30 3 * * 1-5", timezone: Europe/Berlin}
        extraction: {mode: sharded}
        sources:
          - {type: jira, name: j, base_url: "https://x.test", auth: {token: "${UNSET_TOKEN}"}, scope: {projects: [A]}}
        """)
    # The sources' credentials are not needed this early, and not read.
    assert (schedule_config().cron, schedule_config().timezone) == ("30 3 * * 1-5", "Europe/Berlin")
    assert extraction_config().mode == "sharded"
    config_file("schedule: {timezone: Mars/Olympus}\n")
    assert schedule_config().timezone == "UTC"


def test_an_empty_warehouse_path_is_a_config_error():
    with pytest.raises(ConfigError, match="field 'warehouse.path': String should have at least 1 character"):
        parse_config({"warehouse": {"path": ""}, "sources": []}, env={})


SOURCE_MODULE = '''
from typing import Literal

from connectors.core.options import HttpOptions, SourceConfig
from connectors.core.source import SourceType


class ZzPagerSource(SourceConfig):
    type: Literal["{type}"]
    options: HttpOptions = HttpOptions()


SOURCE = SourceType(name="{type}", groups={{"incidents": ("incidents",)}}, extract=lambda g, s, st: [],
                    config_model=ZzPagerSource)
'''


@pytest.fixture
def source_folder(tmp_path, monkeypatch):
    """A connectors/<folder>/ of a new source, in a second folder of the `connectors` package."""
    monkeypatch.setattr(connectors, "__path__", [*connectors.__path__, str(tmp_path)])

    def write(folder: str, source_type: str) -> None:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text(SOURCE_MODULE.format(type=source_type))

    registry.built_in.cache_clear()
    registry.source_types.cache_clear()
    yield write
    registry.built_in.cache_clear()
    registry.source_types.cache_clear()
    for name in [m for m in sys.modules if m.startswith("connectors.zz_")]:
        del sys.modules[name]


def test_a_new_source_folder_is_registered_and_configurable_without_an_edit(source_folder):
    source_folder("zz_pager", "zz_pager")
    assert list(registry.source_types())[-1] == "zz_pager"
    config = parse_config({"sources": [{"type": "zz_pager", "name": "p"}]}, env={})
    assert (type(config.sources[0]).__name__, config.sources[0].options.page_size) == ("ZzPagerSource", 100)


def test_a_source_folder_must_be_named_after_its_type(source_folder):
    source_folder("zz_pagers", "zz_pager")
    with pytest.raises(ConfigError, match=r"connectors/zz_pagers/__init__.py: SOURCE names source type 'zz_pager'"):
        registry.source_types()


def test_the_in_repo_types_are_every_folder_but_the_shared_ones():
    # A superset after `make new-source`: the new folder is found too.
    assert {"circleci", "events", "github", "gitlab", "jenkins", "jira", "opsgenie", "outcomes",
            "pagerduty"} <= set(registry.built_in())
    assert not {"core", "kit"} & set(registry.built_in())


def test_globs_keep_an_item_one_of_whose_names_is_included_and_none_excluded():
    scope = GitHubScope(org="acme", include=["pay*", "acme/*"], exclude=["*-old"])
    assert [scope.wanted(n) for n in ("payments", "ledger", "payments-old")] == [True, False, False]
    assert scope.wanted("ledger", "acme/ledger") and not scope.wanted("ledger", "acme/ledger-old")
    jenkins = JenkinsScope(exclude=["acme/attic*"])
    assert jenkins.included("anything") and jenkins.excluded("acme/attic/job")


def test_partitions_follow_the_scope_models_and_the_source_types():
    types = registry.source_types()
    expected = {
        "circleci": ("projects", ("org",)), "events": None, "github": ("repos", ("org",)),
        "gitlab": ("projects", ("groups",)), "jenkins": None, "jira": ("projects", ()), "opsgenie": None,
        "outcomes": None, "pagerduty": None,
    }
    assert {name: scope_list(types[name]) for name in expected} == expected
    assert [per_scope(types["jira"], g) for g in ("issues", "statuses", "projects")] == [True, False, False]
    source = {"name": "gl", "scope": {"projects": ["a/b", "a/c", "a/b"]}}
    assert partitions_of("gitlab", "pipelines", source) == [Partition("gl", "a/b"), Partition("gl", "a/c")]
    assert partitions_of("gitlab", "pipelines", {**source, "scope": {"projects": ["a/b"], "groups": ["a"]}}) == [
        Partition("gl", None)]
