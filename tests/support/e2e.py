"""What the end-to-end tests share: the tiny organisation's config and a private Dagster instance."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUICK = 'start_date: "2026-01-01", backoff_seconds: 0'


def tiny_config(url: str, *, jira_token: str = "${E2E_TOKEN}", github_token: str = "${E2E_TOKEN}",
                jira_options: str = QUICK, github_options: str = QUICK, head: str = "") -> str:
    """throughline.yml for tests.simulator.conftest.tiny_org(): Jira project FLOW and repo acme/checkout.

    Tokens are written as given: pass "${VAR}" to read one from the environment as users do. ``head`` is
    YAML put before `sources:` (alerts, freshness, ...).
    """
    return f"""{head}
sources:
  - type: jira
    name: tiny-jira
    base_url: {url}/jira
    auth: {{email: e2e@example.com, api_token: "{jira_token}"}}
    scope: {{projects: [FLOW]}}
    options: {{{jira_options}}}
  - type: github
    name: tiny-github
    base_url: {url}/github
    auth: {{token: "{github_token}"}}
    scope: {{repos: [acme/checkout]}}
    options: {{{github_options}}}
"""


def private_dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's instance settings (one-writer pool) that no other run shares."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home
