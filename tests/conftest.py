"""Suite-wide hooks: how the tests are spread over processes (`make test` runs two, pytest-xdist)."""

import gc
import os

import pytest

from tests.support.e2e import shared_demo


def pytest_configure(config):
    # dbt's debug log file (every statement and event of every node, in target/ or the run's build folder) costs an
    # eighth of a dbt build's CPU, and the dbt builds are most of the suite's. Only the tests that read it ask for it
    # (test_nightly.py, test_unchanged_*.py); every other dbt here, in-process or a child of a nightly, writes none.
    os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")
    # Registered here too, so the marks below are known when pytest runs without xdist (`-p no:xdist`).
    config.addinivalue_line("markers", "xdist_group(name): tests of one group run in one worker process")
    config.addinivalue_line("markers", "slow(seconds): a test (or module) that takes about this long in CI; "
                                       "`make test` starts the slowest first")
    config.addinivalue_line("markers", "portability: the product on another engine (the dbt project built on "
                                       "PostgreSQL and Spark and compared with DuckDB's build; Dagster's storage on "
                                       "PostgreSQL): `make test-portability`, not `make test`")
    config.addinivalue_line("markers", "dashboards: the dashboards built by Evidence (Node) and opened in Chromium: "
                                       "`make test-dashboards`, not `make test`")
    if _distributed(config) and not hasattr(config, "workerinput"):
        # xdist would hand out the groups with the most tests first, so the single long tests (the Spark build,
        # eight minutes) started last and ran alone at the end; the order pytest_collection_modifyitems gives
        # below (slowest first) is kept instead.
        config.option.loadscopereorder = False
        # Importing the Dagster definitions writes dbt_project/target/manifest.json when it is missing or
        # stale (pipelines/dbt_assets.py). Do it once here, before the workers start, so that two of them
        # never write and read that file at the same time.
        import pipelines.dbt_assets  # noqa: F401


def _distributed(config) -> bool:
    return config.pluginmanager.hasplugin("xdist") and bool(config.getoption("numprocesses", None))


# tryfirst: xdist's worker turns the marks into `nodeid@group` in its own modifyitems hook, which would
# otherwise run before this one and find no marks.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # `--dist loadgroup` keeps a group on one worker. A test module is one group, so that its module-scoped
    # warehouse or simulator is built once; a module that borrows another module's fixtures (e.g.
    # test_demo_situations.py uses test_realization.py's nightly run, built once per process) joins
    # that module's group. A test that shares nothing built per module gets no group (xdist schedules it
    # alone), so that the long end-to-end runs of one module (test_interrupted.py's) spread over both workers
    # instead of making the run as long as that module.
    for item in items:
        if group := _group(item):
            item.add_marker(pytest.mark.xdist_group(group))
    if _distributed(config) or hasattr(config, "workerinput"):
        items[:] = _slowest_first(items)


def _slowest_first(items: list) -> list:
    """The items by unit of work (a group, or a test of none), the slowest unit first: longest processing time
    first keeps the workers busy to the end. A unit's time is its `slow` mark's (the longest among its
    tests; a module's mark is on each test), then the units with most tests, as xdist would order them."""
    units: dict[str, list] = {}
    for item in items:
        group = item.get_closest_marker("xdist_group")
        units.setdefault(group.args[0] if group else item.nodeid, []).append(item)

    def seconds(unit: list) -> float:
        return max((mark.args[0] for item in unit for mark in item.iter_markers("slow")), default=0)

    ordered = sorted(units.values(), key=lambda unit: (-seconds(unit), -len(unit)))  # stable: ties keep their order
    return [item for unit in ordered for item in unit]


def _group(item) -> str | None:
    """The module whose fixtures the test shares, or None when it shares none (xdist then schedules it alone)."""
    own = item.module.__name__
    fixtures = [fixture for defs in item._fixtureinfo.name2fixturedefs.values() for fixture in defs]
    lenders = {
        fixture.func.__module__
        for fixture in fixtures
        if fixture.func.__module__ != own and fixture.func.__module__.rpartition(".")[2].startswith("test_")
    }
    if not lenders and all(fixture.scope in ("function", "session") for fixture in fixtures):
        return None
    return min(lenders, default=own)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory):
    """The warehouse `throughline demo` built for this test run (tests/support/e2e.py, shared_demo): read only."""
    return shared_demo(tmp_path_factory)


def pytest_unconfigure(config):
    # generate_org() freezes the garbage collector's view of the big synthetic org (collections over
    # it cost seconds); frozen objects are never freed, and duckdb's bindings then report them as
    # leaks at exit, burying pytest's summary line. Thaw and collect before the interpreter ends.
    gc.unfreeze()
    gc.collect()
