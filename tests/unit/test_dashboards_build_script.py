"""dashboards/build.sh reads the published folder the way the caller named it.

`make dashboards` runs `dashboards/build.sh warehouse` from the repository root; the script then works inside
dashboards/. A relative folder must be resolved where it was typed, not after that move (it used to look for
dashboards/warehouse and tell the user to run `make demo`, which they had just done).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "dashboards" / "build.sh"


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("realpath") is None, reason="needs bash and realpath")
def test_a_relative_published_folder_is_resolved_where_the_command_was_typed(tmp_path):
    (tmp_path / "published").mkdir()
    result = subprocess.run(["bash", str(SCRIPT), "published"], cwd=tmp_path, capture_output=True, text=True)
    # No marts.duckdb there: the message names the folder under the caller's directory, not under dashboards/.
    assert result.returncode == 1
    assert f"{tmp_path}/published/marts.duckdb does not exist" in result.stderr


def test_without_an_argument_it_reads_the_repository_warehouse(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    expected = SCRIPT.parent.parent / "warehouse" / "marts.duckdb"
    if expected.exists():
        pytest.skip("a demo warehouse is published in this checkout; the default path is then not an error")
    assert f"{expected} does not exist" in result.stderr
