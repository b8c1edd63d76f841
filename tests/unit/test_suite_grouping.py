"""`make test`'s two workers keep a module's tests together (tests/conftest.py), so that a module-scoped
warehouse is built once. pytest 9.2 with xdist 3.8 silently stopped grouping (pytest-dev/pytest-xdist#1386):
nothing failed, each such module just paid its setup on both workers."""

import os
from pathlib import Path

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
import os
import pytest

@pytest.fixture(scope="module")
def built():
    with open("builds.txt", "a") as out:
        out.write("{name} %d\\n" % os.getpid())

@pytest.mark.parametrize("i", range(12))
def test_uses_the_module_fixture(built, i):
    pass
'''


def test_each_module_fixture_is_built_on_one_worker_only(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems  # noqa: F401\n")
    for name in ("test_first", "test_second", "test_third"):
        pytester.makepyfile(**{name: MODULE.format(name=name)})

    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=36)
    builds = sorted(line.split()[0] for line in (pytester.path / "builds.txt").read_text().splitlines())
    # One build per module: 36 tests handed out one by one would build each module on both workers.
    assert builds == ["test_first", "test_second", "test_third"]



SLOW = '''
import pytest

@pytest.mark.slow({seconds})
def test_notes_when_it_ran():
    with open("order.txt", "a") as out:
        out.write("{name}\\n")
'''


def test_the_slowest_tests_start_first(pytester, monkeypatch):
    """The long tests are handed out first (longest processing time first), not, as xdist would, the groups with
    the most tests: a long test started last would run alone at the end of the run."""
    monkeypatch.setenv("PYTHONPATH", f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    pytester.makeconftest("from tests.conftest import pytest_collection_modifyitems, pytest_configure  # noqa: F401\n")
    # Collected in this order: a group of twelve tests (MODULE's fixture), then two single tests.
    pytester.makepyfile(test_a_group=MODULE.format(name="test_a_group"))
    pytester.makepyfile(test_b_slow=SLOW.format(seconds=60, name="test_b_slow"))
    pytester.makepyfile(test_c_slowest=SLOW.format(seconds=300, name="test_c_slowest"))

    # One worker: the units run one after the other, in the order they are handed out.
    result = pytester.runpytest_subprocess("-n", "1", "--dist", "loadgroup", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=14)
    assert (pytester.path / "order.txt").read_text().split() == ["test_c_slowest", "test_b_slow"]
    # the group ran after both
    assert (pytester.path / "builds.txt").stat().st_mtime >= (pytester.path / "order.txt").stat().st_mtime
