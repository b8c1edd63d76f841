"""Read the real recorded API objects in ../shared/fixtures/devlake (skip when they are absent)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "devlake"


def devlake_rows(system: str, name: str) -> list[dict]:
    """Rows of one recorded endpoint: {'data': object, 'url': page it came from, 'params': ...}."""
    path = FIXTURES / system / f"_raw_{system}_api_{name}.csv"
    if not path.exists():
        pytest.skip(f"recorded fixtures not found at {path} (they live in ../shared beside the checkout)")
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as fh:
        return [{**row, "data": json.loads(row["data"])} for row in csv.DictReader(fh)]
