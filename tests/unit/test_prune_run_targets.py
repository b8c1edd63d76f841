"""operations/dbt.py prune_run_targets: the build folders dagster-dbt leaves per run are kept to the newest few;
keep_partial_parse: a build's parsed project is where the next run looks for it."""

from __future__ import annotations

import os
import time

from operations.dbt import keep_partial_parse, prune_run_targets


def test_keeps_the_newest_and_the_recent_and_removes_the_rest(tmp_path):
    now = time.time()
    # seven finished runs, a day apart (run 0 the newest), one still being written (mtime now), other folders
    ages = {f"dbt_models-run{n}-abc{n}": 86_400 * (n + 1) for n in range(7)}
    ages["dbt_models-live-def"] = 0
    for name, age in ages.items():
        (tmp_path / name / "run").mkdir(parents=True)
        (tmp_path / name / "run_results.json").write_text("{}")
        os.utime(tmp_path / name, (now - age, now - age))
    (tmp_path / "compiled").mkdir()
    (tmp_path / "other_op-run9-xyz").mkdir()
    os.utime(tmp_path / "other_op-run9-xyz", (now - 10**6, now - 10**6))

    removed = prune_run_targets(tmp_path, "dbt_models", keep=5, min_age_seconds=3600)

    # newest five by mtime: live, run0..run3; run4..run6 go; other ops' folders and dbt's own stay
    assert sorted(path.name for path in removed) == ["dbt_models-run4-abc4", "dbt_models-run5-abc5",
                                                     "dbt_models-run6-abc6"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["compiled", "other_op-run9-xyz", "dbt_models-live-def"] + [f"dbt_models-run{n}-abc{n}" for n in range(4)])


def test_a_folder_younger_than_the_minimum_age_stays_even_beyond_the_newest(tmp_path):
    now = time.time()
    for n, age in enumerate([10, 20, 30]):  # seconds old: all still possibly in use by another process
        (tmp_path / f"dbt_models-r{n}-u{n}").mkdir()
        os.utime(tmp_path / f"dbt_models-r{n}-u{n}", (now - age, now - age))
    assert prune_run_targets(tmp_path, "dbt_models", keep=1, min_age_seconds=3600) == []
    assert len(list(tmp_path.iterdir())) == 3


def test_a_builds_parsed_project_replaces_the_one_the_next_run_starts_from(tmp_path):
    target = tmp_path / "target"
    run = target / "dbt_models-run1-abc"
    run.mkdir(parents=True)
    (target / "partial_parse.msgpack").write_bytes(b"parsed at load, no vars")
    assert not keep_partial_parse(run, target)  # a build that stopped before parsing: the old file stays
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed at load, no vars"

    (run / "partial_parse.msgpack").write_bytes(b"parsed by the nightly, its vars")
    assert keep_partial_parse(run, target)
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed by the nightly, its vars"
    assert sorted(path.name for path in target.iterdir()) == ["dbt_models-run1-abc", "partial_parse.msgpack"]


def test_each_warehouse_name_starts_from_the_parse_of_its_own_last_build(tmp_path):
    """Two warehouses of two names built in turn from one checkout: each build starts from the parse of the last
    build of its name and command, not from the other's; a warehouse of the same name in another folder, or built
    with other vars, shares it (throughline-dbt leaves the path and the vars out of dbt's check)."""
    from operations.dbt import KEPT_PARSES, kept_parse, parse_key, start_from_kept_parse

    target = tmp_path / "target"
    build = ["build", "--exclude-resource-type", "unit_test"]
    demo = parse_key(tmp_path / "demo" / "throughline.duckdb", build)
    own = parse_key(tmp_path / "own" / "warehouse.duckdb", build)
    assert demo == parse_key(tmp_path / "elsewhere" / "throughline.duckdb", build)
    with_vars = ["build", "--vars", '{"forecast_as_of": "2026-01-05"}', "--exclude-resource-type", "unit_test"]
    assert parse_key(tmp_path / "demo" / "throughline.duckdb", with_vars) == demo
    with_unit_tests = parse_key(tmp_path / "demo" / "throughline.duckdb", ["build"])
    assert len({demo, own, with_unit_tests}) == 3
    first = target / "dbt_models-run1-abc"
    assert not start_from_kept_parse(first, target, demo)  # never built: dagster-dbt's own copy applies
    assert list(first.iterdir()) == []
    # never built, but the definitions' parse exists (target/dagster/, pipelines/dbt_assets.py): it starts there
    definitions = target / "dagster"
    definitions.mkdir(parents=True)
    (definitions / "partial_parse.msgpack").write_bytes(b"parsed as the definitions loaded")
    assert start_from_kept_parse(first, target, demo, fallback=definitions)
    assert (first / "partial_parse.msgpack").read_bytes() == b"parsed as the definitions loaded"
    for run, key, name in (("run1-abc", demo, "demo"), ("run2-def", own, "own")):
        folder = target / f"dbt_models-{run}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "partial_parse.msgpack").write_bytes(f"parsed for {name}".encode())
        assert keep_partial_parse(folder, target, key)
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed for own"  # the last build's, for dbt by hand
    third = target / "dbt_models-run3-ghi"
    assert start_from_kept_parse(third, target, demo, fallback=definitions)
    assert (third / "partial_parse.msgpack").read_bytes() == b"parsed for demo"
    # a key never built, once some build left its parse in target/: dagster-dbt copies that one (the checkout's
    # last build's), not the definitions'
    fourth = target / "dbt_models-run5-mno"
    assert not start_from_kept_parse(fourth, target, with_unit_tests, fallback=definitions)
    assert list(fourth.iterdir()) == []
    fifth = target / "dbt_models-run6-pqr"
    assert not start_from_kept_parse(fifth, target, with_unit_tests)  # no definitions' parse: dagster-dbt's copy
    assert list(fifth.iterdir()) == []

    # ten more keys: the newest KEPT_PARSES (8) are kept, older ones only once they are an hour old
    run = target / "dbt_models-run4-jkl"
    run.mkdir()
    (run / "partial_parse.msgpack").write_bytes(b"parsed")
    now = time.time()
    keys = [parse_key(tmp_path / f"w{number}.duckdb", build) for number in range(10)]
    for number, key in enumerate(keys):
        keep_partial_parse(run, target, key)
        os.utime(kept_parse(target, key), (now - 600 + number, now - 600 + number))
    for key in (demo, own):
        os.utime(kept_parse(target, key), (now - 1000, now - 1000))
    assert len(list((target / "parsed").iterdir())) == 12
    keep_partial_parse(run, target, keys[9], min_age_seconds=0)
    kept = {path.name for path in (target / "parsed").iterdir()}
    assert len(kept) == KEPT_PARSES == 8
    assert {kept_parse(target, key).name for key in keys[2:]} == kept
