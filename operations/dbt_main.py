"""`throughline-dbt`: the dbt command line the nightly runs (pipelines/dbt_assets.py), dbt Core with one change:
a parse of the project holds for every warehouse of the same name, whatever folder it is in.

dbt keeps its parse (target/partial_parse.msgpack) only while the profile's connection settings are the ones it
was made with, and for DuckDB those include the warehouse's path and its session settings (temp_directory
beside the file, memory_limit, threads). None of them can change what a parse produces: no model or macro reads
them while parsing (tests/unit/test_dbt_main.py checks that), and the name that is written into every relation,
dbt's `database`, stays in the check. Without this, each warehouse in a new place (a copy for a backfill, a new
checkout's demo, every test's own) parsed the whole project again: ~7 s of a small organisation's ~35 s nightly.
Run by hand, `dbt` keeps its own check; it parses again where this one did not (and the other way round).
"""

from __future__ import annotations

# Connection settings of dbt-duckdb's profile that name the warehouse file or tune the DuckDB session.
SESSION_ONLY_KEYS = frozenset({"path", "config_options"})


def leave_session_settings_out_of_parse_check() -> None:
    """Take SESSION_ONLY_KEYS out of the connection settings dbt compares before it reuses a parse (dbt-core
    1.11's ManifestLoader.build_manifest_state_check, its only reader besides `dbt debug`'s listing)."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    keys = DuckDBCredentials._connection_keys
    if getattr(keys, "session_only_left_out", False):
        return

    def _connection_keys(self) -> tuple[str, ...]:
        return tuple(key for key in keys(self) if key not in SESSION_ONLY_KEYS)

    _connection_keys.session_only_left_out = True
    DuckDBCredentials._connection_keys = _connection_keys


def main() -> None:
    leave_session_settings_out_of_parse_check()
    from dbt.cli.main import cli

    cli()


if __name__ == "__main__":
    main()
