"""`make new-source NAME=...` into a temporary copy of the repository: it only adds files, the registry finds
the new source without an edit, its raw table is declared for dbt, its generated tests pass as generated, and
its staging builds before the source was ever read. The repository itself is not touched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord, RawStore
from connectors.kit import scaffold
from tests.dbt.warehouse import _raw_tables

REPO = Path(__file__).resolve().parents[2]
STAGING = Path("dbt_project") / "models" / "staging"


@pytest.fixture
def copy(tmp_path):
    """What the scaffold writes into (connectors/, the dbt staging sources), copied without caches."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "connectors", root / "connectors", ignore=shutil.ignore_patterns("__pycache__"))
    for declared in (REPO / STAGING).rglob("_*sources.yml"):
        target = root / declared.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(declared, target)
    return root


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def in_copy(copy: Path, *args: str) -> subprocess.CompletedProcess:
    # The copy's `connectors` comes first on the path, ahead of the editable install of this repository.
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True, timeout=300)


def test_a_scaffolded_source_only_adds_files_and_passes_its_own_tests(copy):
    before_repo = digests(REPO / "connectors")
    before = digests(copy)
    written = scaffold.scaffold("acme_alerts", copy)
    new = {
        "connectors/acme_alerts/__init__.py",
        "connectors/acme_alerts/config.py",
        "dbt_project/models/staging/acme_alerts/_acme_alerts__sources.yml",
        "dbt_project/models/staging/acme_alerts/stg_acme_alerts__items.sql",
        "dbt_project/models/staging/acme_alerts/stg_acme_alerts__items.yml",
        "tests/connectors/test_acme_alerts_connector.py",
        "docs/sources/acme_alerts.md",
    }
    assert {p.relative_to(copy).as_posix() for p in written} == new
    after = digests(copy)
    assert set(after) - set(before) == new and {p: after[p] for p in before} == before  # no existing file edited
    assert "acme_alerts__items" in _raw_tables(copy / "dbt_project")
    assert "jira__issues" in _raw_tables(copy / "dbt_project")

    found = in_copy(copy, "-c", "from connectors.registry import source_types; "
                                "t = source_types()['acme_alerts']; print(t.config_model.__name__, dict(t.groups))")
    assert found.stdout.strip() == "AcmeAlertsSource {'items': ('items',)}", found.stdout[-3000:] + found.stderr[-3000:]
    run = in_copy(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/connectors/test_acme_alerts_connector.py")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "6 passed" in run.stdout

    assert digests(REPO / "connectors") == before_repo
    assert not (REPO / "connectors" / "acme_alerts").exists()


def test_it_refuses_to_overwrite_a_taken_name_or_a_bad_name(copy):
    scaffold.scaffold("acme_alerts", copy)
    with pytest.raises(SystemExit, match="not overwriting .*connectors/acme_alerts"):
        scaffold.scaffold("acme_alerts", copy)
    (copy / "connectors" / "other").mkdir()
    with pytest.raises(SystemExit, match="not overwriting .*connectors/other"):
        scaffold.scaffold("other", copy)
    # a package connectors/registry/ would shadow the module connectors/registry.py
    with pytest.raises(SystemExit, match="not overwriting .*connectors/registry.py"):
        scaffold.scaffold("registry", copy)
    with pytest.raises(SystemExit, match="not overwriting .*staging/ops"):
        scaffold.scaffold("ops", copy)
    with pytest.raises(SystemExit, match="'Bad-Name' is not a source type name"):
        scaffold.scaffold("Bad-Name", copy)
    assert not (copy / "connectors" / "registry").exists() and not (copy / "connectors" / "ops").exists()


def test_the_new_staging_builds_before_the_source_was_ever_read(tmp_path):
    """`dbt build` (by hand, or the nightly's before the new source's extraction ever ran) over a warehouse
    without the new raw table: dbt creates it empty, with the raw store's key, so the connector writes into
    it later as into its own."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "dbt_project", root / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__"))
    scaffold.scaffold("acme_alerts", root)
    warehouse = tmp_path / "warehouse.duckdb"
    dbt = Path(sys.executable).with_name("dbt")
    run = subprocess.run([str(dbt), "build", "--profiles-dir", ".", "--select", "staging.acme_alerts"],
                         cwd=root / "dbt_project", env={**os.environ, "THROUGHLINE_WAREHOUSE": str(warehouse)},
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "OK created sql view model staging.stg_acme_alerts__items" in run.stdout

    with RawStore(warehouse) as store:  # twice the same record: an upsert on the primary key, one row
        for title in ("first", "second"):
            store.write([("acme_alerts__items", "acme_alerts-main",
                          [RawRecord("7", {"id": 7, "title": title, "updated_at": "2026-01-01T00:00:00Z"})])])
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select item_id, title from staging.stg_acme_alerts__items").fetchall() == [("7", "second")]
    finally:
        con.close()
