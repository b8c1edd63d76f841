"""`throughline-dbt`: the dbt command line the nightly runs (pipelines/dbt_assets.py), dbt Core with one change:
a parse of the project holds for every warehouse of the same name, whatever folder it is in and whatever vars the
build is given.

dbt keeps its parse (target/partial_parse.msgpack) only while the profile's connection settings and the command's
`--vars` are the ones it was made with, and for DuckDB the settings include the warehouse's path and its session
settings (temp_directory beside the file, memory_limit, threads). None of them can change what a parse produces:
no model or macro reads the path or the session settings (tests/unit/test_dbt_main.py checks that), and no var
decides a model's dependencies or configuration (tests/dbt/test_parse_without_vars.py parses with every var
changed and compares); a var's value is read again when each model is compiled, at every run. The name that is
written into every relation, dbt's `database`, stays in the check, as do the profile and target names. Without
this, each warehouse in a new place (a copy for a backfill, a new checkout's demo, every test's own) and each
change of throughline.yml's rules parsed the whole project again: ~7 s of a small organisation's ~35 s nightly.
Run by hand, `dbt` keeps its own check; it parses again where this one did not (and the other way round).

And one more: a command that writes manifest.json when it ends does not also write it after parsing (below).
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


def leave_vars_out_of_parse_check() -> None:
    """Compute dbt's `vars_hash` (dbt-core 1.11's ManifestLoader.build_manifest_state_check: the command's
    `--vars`, the profile and target names and dbt's version) without the vars, for the parse it keeps and the
    one it compares with alike."""
    from dbt.contracts.files import FileHash
    from dbt.parser.manifest import ManifestLoader
    from dbt.version import __version__

    build = ManifestLoader.build_manifest_state_check
    if getattr(build, "vars_left_out", False):
        return

    def build_manifest_state_check(self):
        check = build(self)
        args = self.root_project.args
        check.vars_hash = FileHash.from_contents("\x00".join(
            ["", getattr(args, "profile", "") or "", getattr(args, "target", "") or "", __version__]))
        return check

    build_manifest_state_check.vars_left_out = True
    ManifestLoader.build_manifest_state_check = build_manifest_state_check


# The commands whose task writes manifest.json again when it ends (dbt-core 1.11's GraphRunnableTask.run, after
# the nodes' results, failures included): `parse`, `compile`, `docs generate`, `run-operation` and `ls` are not.
MANIFEST_WRITTEN_AT_END = frozenset({"run", "build", "test", "seed", "snapshot"})


def write_manifest_once() -> None:
    """dbt writes target/manifest.json as soon as it has parsed and again when the command ends, whatever the
    command: ~0.9 s each for this project (an 8 MB file), the parse's copy only to be replaced once the nodes
    have run. For MANIFEST_WRITTEN_AT_END, the parse no longer writes it (dbt-core 1.11's requires.manifest:
    parse_manifest's `write`); the parse kept for the next run (partial_parse.msgpack) is written as before. Only
    a command that stops before its nodes' results (an interrupt, an internal error) leaves no manifest.json,
    which the run folders' readers do not need: the definitions load their own (pipelines/dbt_assets.py)."""
    import click
    from dbt.cli import requires

    parse = requires.parse_manifest
    if getattr(parse, "written_once", False):
        return

    def parse_manifest(runtime_config, write_perf_info, write, write_json, active_integrations):
        context = click.get_current_context(silent=True)
        if context is not None and context.command.name in MANIFEST_WRITTEN_AT_END:
            write = False
        return parse(runtime_config, write_perf_info, write, write_json, active_integrations)

    parse_manifest.written_once = True
    requires.parse_manifest = parse_manifest


def main() -> None:
    leave_session_settings_out_of_parse_check()
    leave_vars_out_of_parse_check()
    write_manifest_once()
    from dbt.cli.main import cli

    cli()


if __name__ == "__main__":
    main()
