"""Each configuration mistake a user makes, through `throughline check-config` as the user runs it: exit code 1,
one line per mistake naming the source or field and the fix, every mistake at once, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

THROUGHLINE = Path(sys.executable).parent / "throughline"

JIRA = """\
  - type: jira
    name: acme-jira
    base_url: https://acme.atlassian.net
    auth: {{email: me@acme.test, api_token: "${{CM_TOKEN}}"}}
    scope: {{{scope}: [PAY]}}
    options: {{start_date: {start}}}
"""


def config_text(*, warehouse: str, scope: str = "projects", start: str = '"2024-01-01"', extra: str = "") -> str:
    return f"warehouse:\n  path: {warehouse}\n{extra}sources:\n" + JIRA.format(scope=scope, start=start)


def check_config(tmp_path: Path, text: str, **env: str) -> tuple[int, list[str]]:
    path = tmp_path / "throughline.yml"
    path.write_text(text)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("THROUGHLINE_") and k != "CM_TOKEN"}
    environment.update({"THROUGHLINE_CONFIG": str(path), **env})
    done = subprocess.run([str(THROUGHLINE), "check-config"], env=environment, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "File \"" not in output
    return done.returncode, output.splitlines()


def test_a_good_config_passes(tmp_path):
    code, lines = check_config(tmp_path, config_text(warehouse=str(tmp_path / "w" / "t.duckdb")), CM_TOKEN="x")
    assert (code, lines) == (0, ["ok: 1 source(s): acme-jira (jira)"])


def unwritable(tmp_path: Path) -> Path:
    """A directory this user cannot create files in (root ignores permission bits: /proc refuses new files)."""
    if os.geteuid() == 0:
        return Path("/proc/throughline-test")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def mistake_case(mistake: str, tmp_path: Path) -> tuple[str, str, dict[str, str]]:
    """(throughline.yml, the line the user must see, extra environment) of one mistake."""
    good = str(tmp_path / "w.duckdb")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    if mistake == "variable set but empty":
        return (config_text(warehouse=good), "source 'acme-jira', field 'auth.api_token': environment variable "
                "CM_TOKEN is set but empty; export its value before running", {"CM_TOKEN": ""})
    if mistake == "empty file":
        return "", (f"{tmp_path / 'throughline.yml'} is empty: add a `sources:` list (copy the blocks you need from "
                    "throughline.example.yml)"), {}
    if mistake == "no sources":
        return (f"warehouse:\n  path: {good}\nsources:\n", "field 'sources': no source is configured, so a run "
                "would read nothing; add at least one (see throughline.example.yml)", {})
    if mistake == "impossible start date":
        return (config_text(warehouse=good, start="2024-02-30"), "source 'acme-jira', field 'options.start_date': "
                "'2024-02-30' is not a date (day is out of range for month); write it as YYYY-MM-DD, e.g. "
                "2024-02-29", {})
    if mistake == "unknown freshness source":
        return (config_text(warehouse=good, extra="freshness:\n  sources: {acme-jra: 192}\n"),
                "field 'freshness.sources.acme-jra': no source is named 'acme-jra', so this limit applies to "
                "nothing; use one of the names under sources (acme-jira)", {})
    if mistake == "warehouse is a directory":
        return (config_text(warehouse=str(tmp_path)), f"field 'warehouse.path': {tmp_path} is a directory; give a "
                f"file inside it, e.g. {tmp_path / 'throughline.duckdb'}", {})
    if mistake == "warehouse under a file":
        return (config_text(warehouse=str(a_file / "w.duckdb")), f"field 'warehouse.path': {a_file / 'w.duckdb'} "
                f"cannot be created: {a_file} is a file, not a directory; choose another path", {})
    if mistake == "warehouse unwritable":
        target = unwritable(tmp_path) / "w.duckdb"
        return (config_text(warehouse=str(target)), f"field 'warehouse.path': {target} is not writable by this user "
                "(", {})
    assert mistake == "THROUGHLINE_WAREHOUSE a directory"
    return (config_text(warehouse=good), f"environment variable THROUGHLINE_WAREHOUSE: {tmp_path} is a directory; "
            "give a file inside it", {"THROUGHLINE_WAREHOUSE": str(tmp_path)})


@pytest.mark.parametrize("mistake", [
    "variable set but empty", "empty file", "no sources", "impossible start date", "unknown freshness source",
    "warehouse is a directory", "warehouse under a file", "warehouse unwritable", "THROUGHLINE_WAREHOUSE a directory",
])
def test_each_mistake_is_one_line_naming_field_and_fix(tmp_path, mistake):
    text, expected, env = mistake_case(mistake, tmp_path)
    code, lines = check_config(tmp_path, text, **{"CM_TOKEN": "x", **env})
    assert code == 1
    if mistake == "empty file":
        assert lines == [f"error: {expected}"]
    else:
        assert lines[0] == f"error: {tmp_path / 'throughline.yml'} is not valid:"
        assert len(lines) == 2 and lines[1].startswith(f"  {expected}"), lines


def test_every_mistake_of_a_file_is_reported_at_once(tmp_path):
    # A typo in `scope` is not hidden behind the missing variable; nor is anything else.
    (tmp_path / "a-file").write_text("not a folder")
    text = config_text(warehouse=str(tmp_path / "a-file" / "w.duckdb"), scope="projcts", start="2024-02-30",
                       extra="freshness:\n  sources: {acme-jra: 192}\n")
    code, lines = check_config(tmp_path, text)
    assert code == 1
    assert [line.strip() for line in lines[1:]] == [
        "source 'acme-jira', field 'auth.api_token': environment variable CM_TOKEN is not set; export it before "
        "running",
        "field 'freshness.sources.acme-jra': no source is named 'acme-jra', so this limit applies to nothing; use one "
        "of the names under sources (acme-jira)",
        "source 'acme-jira', field 'scope.projcts': unknown key; did you mean 'projects'? (see "
        "throughline.example.yml)",
        "source 'acme-jira', field 'options.start_date': '2024-02-30' is not a date (day is out of range for month); "
        "write it as YYYY-MM-DD, e.g. 2024-02-29",
        f"field 'warehouse.path': {tmp_path / 'a-file' / 'w.duckdb'} cannot be created: {tmp_path / 'a-file'} is a "
        "file, not a directory; choose another path",
    ]


def test_a_missing_ca_bundle_is_reported(tmp_path):
    text = config_text(warehouse=str(tmp_path / "w.duckdb")).replace(
        "options: {start_date:", f"options: {{ca_bundle: {tmp_path / 'corp-ca.pem'}, start_date:")
    code, lines = check_config(tmp_path, text, CM_TOKEN="x")
    assert code == 1 and [line.strip() for line in lines[1:]] == [
        f"source 'acme-jira', field 'options.ca_bundle': {tmp_path / 'corp-ca.pem'} is not a file; give the path of "
        "the CA's PEM file"]


def test_yaml_mistakes_are_one_line_too(tmp_path):
    code, lines = check_config(tmp_path, textwrap.dedent("""\
        sources:
          - type: jira
           name: bad-indent
    """))
    assert (code, lines) == (1, [f"error: {tmp_path / 'throughline.yml'}: not valid YAML at line 3, column 4: "
                                 "expected <block end>, but found '<block mapping start>'; check the indentation and "
                                 "quoting there"])  # `name` is one space short of `type`'s indentation
