"""The source kit: what a new source type (in this repository or in its own package) needs to be tested
like ours. docs/ADDING_A_SOURCE.md walks through it; `python -m connectors.kit.scaffold NAME` starts one.

    from connectors.kit import (ApiServer, OffsetPages, TokenPages, LinkPages, OnePage, source_config,
                                assert_each_record_once, assert_cursor, assert_rerun_idempotent)

Nothing here imports pytest: fixtures are three lines in the test module that uses them.
"""

from connectors.kit.assertions import (
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
    raw_keys,
    snapshot,
    source_config,
)
from connectors.kit.server import ApiServer, LinkPages, OffsetPages, OnePage, TokenPages

__all__ = [
    "ApiServer",
    "LinkPages",
    "OffsetPages",
    "OnePage",
    "TokenPages",
    "assert_cursor",
    "assert_each_record_once",
    "assert_rerun_idempotent",
    "raw_keys",
    "snapshot",
    "source_config",
]
