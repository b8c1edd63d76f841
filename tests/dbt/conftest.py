"""Fixture of the dbt end-to-end tests: one `dbt build` into a temporary warehouse per test module.

dbt parses the project on every invocation (seconds), so each test module builds once in a module-scoped
fixture and its tests only query the result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from .warehouse import Batch, load_raw, run_dbt


@pytest.fixture(scope="module")
def build_warehouse(tmp_path_factory) -> Callable[..., Path]:
    """Return a function that loads raw batches into a new warehouse and runs `dbt build` on it, with the further
    dbt arguments given (a selection, warehouse.WITHOUT_UNIT_TESTS)."""

    def build(batches: Iterable[Batch], *arguments: str) -> Path:
        work_dir = tmp_path_factory.mktemp("dbt")
        warehouse = work_dir / "throughline.duckdb"
        load_raw(warehouse, batches)
        run_dbt(["build", *arguments], warehouse, work_dir)
        return warehouse

    return build

