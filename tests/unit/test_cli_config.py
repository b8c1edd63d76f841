"""`throughline check-config` on the minimal starting config of the README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "throughline.minimal.yml"
VARIABLES = {"JIRA_EMAIL": "me@acme.com", "JIRA_API_TOKEN": "t0ken", "GITHUB_TOKEN": "ghp_x"}


def check_config(**variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in VARIABLES and k not in ("THROUGHLINE_CONFIG", "THROUGHLINE_WAREHOUSE")}
    return subprocess.run([sys.executable, "-m", "operations.cli", "check-config", str(MINIMAL)],
                          cwd=ROOT, env={**env, **variables}, capture_output=True, text=True, timeout=120)


def test_the_minimal_config_with_its_three_variables_is_ok():
    run = check_config(**VARIABLES)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "ok: 2 source(s): acme-jira (jira), acme-github (github)\n"


def test_the_minimal_config_names_exactly_the_variables_not_set():
    run = check_config(JIRA_EMAIL="me@acme.com")
    assert run.returncode == 1
    missing = [line for line in run.stderr.splitlines() if "is not set" in line]
    assert missing == [
        "  source 'acme-jira', field 'auth.api_token': environment variable JIRA_API_TOKEN is not set; "
        "export it before running",
        "  source 'acme-github', field 'auth.token': environment variable GITHUB_TOKEN is not set; "
        "export it before running",
    ]
