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
