"""A source type from an installed package (entry point group `throughline.sources`): the config accepts it,
its raw assets appear in Dagster, the doctor runs its check, and a broken plugin is a clear error.

The package is faked the way pip leaves one: a module and an `acme_pager-1.0.dist-info/` with METADATA and
entry_points.txt, in a folder put on sys.path.
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

from connectors.config import BaseUrl, HttpOptions
from connectors.core.source import Finding, SourceConfig, SourceType, StrictModel


class AcmeAuth(StrictModel):
    token: SecretStr


class AcmePagerSource(SourceConfig):
    type: Literal["acme_pager"]
    base_url: BaseUrl
    auth: AcmeAuth
    options: HttpOptions = HttpOptions()


def extract(group, source, store):
    return []


def check(source):
    return [Finding("ok", f"{source.name}: credentials", "checked by the acme_pager plugin")]


SOURCE = SourceType(name="acme_pager", groups={"incidents": ("incidents", "log_entries")}, extract=extract,
                    check=check, config_model=AcmePagerSource)
NOT_A_SOURCE = 42
'''


def install(tmp_path, monkeypatch, entry: str, module: str = PLUGIN, name: str = "acme_pager") -> None:
    (tmp_path / "acme_pager_plugin.py").write_text(module)
    info = tmp_path / "acme_pager-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pager\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[throughline.sources]\n{name} = {entry}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.source_types.cache_clear()


@pytest.fixture(autouse=True)
def forget_plugins():
    registry.source_types.cache_clear()
    yield
    registry.source_types.cache_clear()  # monkeypatch has taken the fake package off sys.path by now
    sys.modules.pop("acme_pager_plugin", None)


ENTRY = {"type": "acme_pager", "name": "pager", "base_url": "https://acme.example.com", "auth": {"token": "${T}"}}


def test_without_the_package_the_type_is_unknown_and_the_error_lists_the_known_ones():
    with pytest.raises(ConfigError) as failure:
        parse_config({"sources": [ENTRY]}, env={"T": "x"})
    text = str(failure.value)
    assert "source 'pager'" in text and "'acme_pager' is not a source type" in text
    assert "'jira'" in text and "'circleci'" in text and "throughline.sources" in text


def test_an_installed_plugin_is_configured_validated_built_and_checked(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "acme_pager_plugin:SOURCE")
    config = parse_config({"sources": [ENTRY]}, env={"T": "s3cret"})
    (source,) = config.sources
    assert (type(source).__name__, source.name, source.auth.token.get_secret_value()) == ("AcmePagerSource", "pager",
                                                                                          "s3cret")
    assert config.sources_of("acme_pager") == [source]
    # its own model's rules apply, and errors name the source and field as for the built-in types
    with pytest.raises(ConfigError, match="source 'pager', field 'base_url': 'ftp://x' is not an http"):
        parse_config({"sources": [{**ENTRY, "base_url": "ftp://x"}]}, env={"T": "s3cret"})
    with pytest.raises(ConfigError, match="'nope' is not a source type; known types: .*'acme_pager'"):
        parse_config({"sources": [{**ENTRY, "type": "nope"}]}, env={"T": "s3cret"})

    from pipelines.raw_assets import build_raw_assets

    keys = {key.to_user_string() for assets in build_raw_assets() for key in assets.keys}
    assert {"raw/acme_pager__incidents", "raw/acme_pager__log_entries", "raw/circleci__jobs"} <= keys

    from operations import doctor

    monkeypatch.setattr(doctor, "load_config", lambda _file: config)
    monkeypatch.setattr(doctor, "warehouse_path", lambda: tmp_path / "absent.duckdb")
    findings = doctor.diagnose()
    assert ("ok", "pager: credentials", "checked by the acme_pager plugin") in [
        (f.level, f.subject, f.message) for f in findings]


@pytest.mark.parametrize("entry, module, name, message", [
    ("acme_pager_plugin:SOURCE", "import no_such_module\n", "acme_pager",
     "cannot be imported \\(ModuleNotFoundError"),
    ("acme_pager_plugin:NOT_A_SOURCE", PLUGIN, "acme_pager", "points at a int, not a SourceType"),
    ("acme_pager_plugin:SOURCE", PLUGIN, "pager", "loads source type 'acme_pager': name the entry point after it"),
    ("acme_pager_plugin:SOURCE", PLUGIN.replace('name="acme_pager"', 'name="jira"').replace(
        'Literal["acme_pager"]', 'Literal["jira"]'), "jira", "names source type 'jira', which is built in"),
    ("acme_pager_plugin:SOURCE", PLUGIN.replace(", config_model=AcmePagerSource", ""), "acme_pager",
     "has no config_model"),
    ("acme_pager_plugin:SOURCE", PLUGIN.replace('type: Literal["acme_pager"]', 'type: str'), "acme_pager",
     'AcmePagerSource needs the field `type: Literal\\["acme_pager"\\]`'),
])
def test_a_broken_plugin_is_one_clear_error_naming_its_package(tmp_path, monkeypatch, entry, module, name, message):
    install(tmp_path, monkeypatch, entry, textwrap.dedent(module), name)
    with pytest.raises(ConfigError, match=message) as failure:
        parse_config({"sources": []}, env={})
    assert "package acme-pager" in str(failure.value)
