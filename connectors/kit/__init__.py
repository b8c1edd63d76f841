"""The source kit: what a new source type (in this repository or in its own package) needs to be tested
like ours. docs/ADDING_A_SOURCE.md walks through it; `python -m connectors.kit.scaffold NAME` starts one.

    from connectors.kit import (ApiServer, OffsetPages, TokenPages, LinkPages, OnePage, source_config,
                                assert_each_record_once, assert_cursor, assert_rerun_idempotent)

Nothing here imports pytest: fixtures are three lines in the test module that uses them. The names load on
first use, so the simulator importing connectors.kit.http does not import the raw store (duckdb) with them.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "ApiServer": "server", "LinkPages": "server", "OffsetPages": "server", "OnePage": "server", "TokenPages": "server",
    "assert_cursor": "assertions", "assert_each_record_once": "assertions", "assert_rerun_idempotent": "assertions",
    "raw_keys": "assertions", "snapshot": "assertions", "source_config": "assertions",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"connectors.kit.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'connectors.kit' has no attribute {name!r}")
