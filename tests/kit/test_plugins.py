"""A source type from an installed package (entry point group `throughline.sources`): the config accepts it,
its raw assets appear in Dagster, the doctor runs its check, and a broken plugin is a clear error.

The package is faked the way pip leaves one: a module and a `globex_pager-1.0.dist-info/` with METADATA and
entry_points.txt, in a folder put on sys.path. Its type is not `acme_pager`, the name docs/ADDING_A_SOURCE.md
scaffolds into this repository: there it would be built in, and a plugin of that name refused.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from connectors import registry
from connectors.config import parse_config
from connectors.core.errors import ConfigError

PLUGIN = '''
from typing import Literal

from pydantic import SecretStr

from connectors.core.options import BaseUrl, HttpOptions, SourceConfig, StrictModel
from connectors.core.source import Finding, SourceType


class GlobexAuth(StrictModel):
    token: SecretStr


class GlobexPagerSource(SourceConfig):
    type: Literal["globex_pager"]
    base_url: BaseUrl
    auth: GlobexAuth
    options: HttpOptions = HttpOptions()


def extract(group, source, store):
    return []


def check(source):
    return [Finding("ok", f"{source.name}: credentials", "checked by the globex_pager plugin")]


SOURCE = SourceType(name="globex_pager", groups={"incidents": ("incidents", "log_entries")}, extract=extract,
                    check=check, config_model=GlobexPagerSource)
NOT_A_SOURCE = 42
'''


def install(tmp_path, monkeypatch, entry: str, module: str = PLUGIN, name: str = "globex_pager") -> None:
    (tmp_path / "globex_pager_plugin.py").write_text(module)
    info = tmp_path / "globex_pager-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: globex-pager\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[throughline.sources]\n{name} = {entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.source_types.cache_clear()


@pytest.fixture(autouse=True)
def forget_plugins():
    registry.source_types.cache_clear()
    yield
    registry.source_types.cache_clear()  # monkeypatch has taken the fake package off sys.path by now
    sys.modules.pop("globex_pager_plugin", None)


ENTRY = {"type": "globex_pager", "name": "pager", "base_url": "https://globex.example.com", "auth": {"token": "${T}"}}


def test_without_the_package_the_type_is_unknown_and_the_error_lists_the_known_ones():
    with pytest.raises(ConfigError) as failure:
        parse_config({"sources": [ENTRY]}, env={"T": "x"})
    text = str(failure.value)
    assert "source 'pager'" in text and "'globex_pager' is not a source type" in text
    assert "'jira'" in text and "'circleci'" in text and "throughline.sources" in text


def test_an_installed_plugin_is_configured_validated_built_and_checked(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "globex_pager_plugin:SOURCE")
    config = parse_config({"sources": [ENTRY]}, env={"T": "s3cret"})
    (source,) = config.sources
    assert (type(source).__name__, source.name, source.auth.token.get_secret_value()) == ("GlobexPagerSource", "pager",
                                                                                          "s3cret")
    assert config.sources_of("globex_pager") == [source]
    # its own model's rules apply, and errors name the source and field as for the built-in types
    with pytest.raises(ConfigError, match="source 'pager', field 'base_url': 'ftp://x' is not an http"):
        parse_config({"sources": [{**ENTRY, "base_url": "ftp://x"}]}, env={"T": "s3cret"})
    with pytest.raises(ConfigError, match="'nope' is not a source type; known types: .*'globex_pager'"):
        parse_config({"sources": [{**ENTRY, "type": "nope"}]}, env={"T": "s3cret"})

    from pipelines.raw_assets import build_raw_assets

    keys = {key.to_user_string() for assets in build_raw_assets() for key in assets.keys}
    assert {"raw/globex_pager__incidents", "raw/globex_pager__log_entries", "raw/circleci__jobs"} <= keys

    from operations import doctor

    monkeypatch.setattr(doctor, "load_config", lambda _file: config)
    monkeypatch.setattr(doctor, "warehouse_path", lambda: tmp_path / "absent.duckdb")
    findings = doctor.diagnose()
    assert ("ok", "pager: credentials", "checked by the globex_pager plugin") in [
        (f.level, f.subject, f.message) for f in findings]


@pytest.mark.parametrize("entry, module, name, message", [
    ("globex_pager_plugin:SOURCE", "import no_such_module\n", "globex_pager",
     "cannot be imported \\(ModuleNotFoundError"),
    ("globex_pager_plugin:NOT_A_SOURCE", PLUGIN, "globex_pager", "points at a int, not a SourceType"),
    ("globex_pager_plugin:SOURCE", PLUGIN, "pager", "loads source type 'globex_pager': name the entry point after it"),
    ("globex_pager_plugin:SOURCE", PLUGIN.replace('name="globex_pager"', 'name="jira"').replace(
        'Literal["globex_pager"]', 'Literal["jira"]'), "jira", "names source type 'jira', which is built in"),
    ("globex_pager_plugin:SOURCE", PLUGIN.replace(", config_model=GlobexPagerSource", ""), "globex_pager",
     "has no config_model"),
    ("globex_pager_plugin:SOURCE", PLUGIN.replace('type: Literal["globex_pager"]', 'type: str'), "globex_pager",
     'GlobexPagerSource needs the field `type: Literal\\["globex_pager"\\]`'),
])
def test_a_broken_plugin_is_one_clear_error_naming_its_package(tmp_path, monkeypatch, entry, module, name, message):
    install(tmp_path, monkeypatch, entry, textwrap.dedent(module), name)
    with pytest.raises(ConfigError, match=message) as failure:
        parse_config({"sources": []}, env={})
    assert "package globex-pager" in str(failure.value)
