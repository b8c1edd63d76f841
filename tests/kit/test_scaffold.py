"""`make new-source NAME=...` into a temporary copy of the repository: the generated source registers, its
raw table is declared for dbt, and its generated tests pass as generated. The repository itself is not touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.kit import scaffold
from tests.dbt.warehouse import _raw_tables

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def copy(tmp_path):
    """What the scaffold writes into (connectors/, the dbt staging sources), copied without caches."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "connectors", root / "connectors", ignore=shutil.ignore_patterns("__pycache__"))
    staging = root / "dbt_project" / "models" / "staging"
    staging.mkdir(parents=True)
    shutil.copy(REPO / "dbt_project" / "models" / "staging" / "_raw__sources.yml", staging)
    return root


def test_a_scaffolded_source_passes_its_own_tests(copy):
    before = sorted(p.relative_to(REPO) for p in (REPO / "connectors").rglob("*.py"))
    written = scaffold.scaffold("acme_alerts", copy)
    assert {p.relative_to(copy).as_posix() for p in written} == {
        "connectors/acme_alerts/__init__.py",
        "connectors/registry.py",
        "dbt_project/models/staging/acme_alerts/_acme_alerts__sources.yml",
        "dbt_project/models/staging/acme_alerts/stg_acme_alerts__items.sql",
        "dbt_project/models/staging/acme_alerts/stg_acme_alerts__items.yml",
        "tests/connectors/test_acme_alerts_connector.py",
    }
    registry = (copy / "connectors" / "registry.py").read_text()
    assert "from connectors import acme_alerts\n" in registry and "        acme_alerts.SOURCE,\n" in registry
    assert "acme_alerts__items" in _raw_tables(copy / "dbt_project")
    assert "jira__issues" in _raw_tables(copy / "dbt_project")

    # The copy's `connectors` comes first on the path, ahead of the editable install of this repository.
    env = {**os.environ, "PYTHONPATH": str(copy)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/connectors/test_acme_alerts_connector.py"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "6 passed" in run.stdout

    assert sorted(p.relative_to(REPO) for p in (REPO / "connectors").rglob("*.py")) == before
    assert not (REPO / "connectors" / "acme_alerts").exists()


def test_it_refuses_to_overwrite_or_a_bad_name(copy):
    scaffold.scaffold("acme_alerts", copy)
    with pytest.raises(SystemExit, match="already registered"):
        scaffold.scaffold("acme_alerts", copy)
    (copy / "connectors" / "other").mkdir()
    with pytest.raises(SystemExit, match="not overwriting .*connectors/other"):
        scaffold.scaffold("other", copy)
    with pytest.raises(SystemExit, match="'Bad-Name' is not a source type name"):
        scaffold.scaffold("Bad-Name", copy)
