"""`throughline doctor` against the simulator: one line per check, exit code 1 on any failure, no secrets."""

from __future__ import annotations

import pytest

from simulator import SimulatorServer, tiny_org
from operations.cli import main

SECRET = "doctor-secret-token-0042"


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(tiny_org(), jira_tokens={SECRET}, github_tokens={SECRET}) as server:
        yield server


def write_config(tmp_path, sim, projects="[FLOW]", repos="[acme/checkout]"):
    path = tmp_path / "throughline.yml"
    path.write_text(f"""
sources:
  - type: jira
    name: tiny-jira
    base_url: {sim.url}/jira
    auth: {{email: doctor@example.com, api_token: "${{DOCTOR_JIRA}}"}}
    scope: {{projects: {projects}}}
    options: {{max_retries: 0}}
  - type: github
    name: tiny-github
    base_url: {sim.url}/github
    auth: {{token: "${{DOCTOR_GITHUB}}"}}
    scope: {{repos: {repos}}}
    options: {{max_retries: 0}}
""")
    return path


def doctor(path, capsys) -> tuple[int, list[str]]:
    code = main(["doctor", str(path)])
    return code, [" ".join(line.split()) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_all_reachable_but_no_warehouse_yet_is_a_warning_not_a_failure(tmp_path, sim, capsys, monkeypatch):
    monkeypatch.setenv("DOCTOR_JIRA", SECRET)
    monkeypatch.setenv("DOCTOR_GITHUB", SECRET)
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "none.duckdb"))
    code, lines = doctor(write_config(tmp_path, sim), capsys)
    assert code == 0
    assert lines == [
        "OK config valid, 2 source(s)",
        "OK tiny-jira: credentials authenticated as Throughline Demo",
        "OK tiny-jira: project FLOW visible",
        "OK tiny-github: credential 1 of 1 rate limit: 5000 of 5000 requests left this hour",
        "OK tiny-github: acme/checkout pull requests, deployments, actions and issues readable",
        f"WARN warehouse {tmp_path / 'none.duckdb'} does not exist yet: the first `throughline run` creates it",
        "0 problem(s), 1 warning(s)",
    ]


def test_bad_token_and_unknown_scope_fail_with_what_to_do(tmp_path, sim, capsys, monkeypatch):
    monkeypatch.setenv("DOCTOR_JIRA", SECRET)
    monkeypatch.setenv("DOCTOR_GITHUB", "revoked-token-value-77")
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "none.duckdb"))
    code, lines = doctor(write_config(tmp_path, sim, projects="[FLOW, NOPE]"), capsys)
    assert code == 1
    assert ("FAIL tiny-jira: project NOPE not found or not visible to this account: check the key in "
            "scope.projects, or grant the account the Browse Projects permission") in lines
    (github,) = [line for line in lines if line.startswith("FAIL tiny-github")]
    assert "401" in github and "check the credentials of source 'tiny-github'" in github
    assert lines[-1] == "2 problem(s), 1 warning(s)"
    assert "revoked-token-value-77" not in "\n".join(lines)


def test_invalid_config_is_one_failure(tmp_path, capsys):
    path = tmp_path / "throughline.yml"
    path.write_text("sources:\n  - type: jira\n    name: x\n")
    code, lines = doctor(path, capsys)
    assert code == 1
    assert lines[0].startswith("FAIL config")
    assert "source 'x', field 'base_url': required but missing" in lines[0] + " ".join(lines[1:])


def test_jenkins_credentials_and_folders(tmp_path, capsys, monkeypatch):
    """The tiny org as Jenkins has one top-level item, the organization folder `acme`."""
    with SimulatorServer(tiny_org(), mount_options={"jenkins": {"users": {"bot": SECRET}}}) as server:
        path = tmp_path / "throughline.yml"
        path.write_text(f"""
sources:
  - type: jenkins
    name: ci
    base_url: {server.url}/jenkins
    auth: {{user: bot, api_token: "${{DOCTOR_JENKINS}}"}}
    scope: {{folders: [acme, legacy]}}
    options: {{max_retries: 0}}
""")
        monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "none.duckdb"))
        monkeypatch.setenv("DOCTOR_JENKINS", SECRET)
        code, lines = doctor(path, capsys)
        assert code == 1
        assert lines[1:4] == [
            "OK ci: credentials 1 top-level jobs visible",
            "OK ci: folder acme visible",
            "FAIL ci: folder legacy not found: check its full name in scope.folders (as in the job URL, without "
            "/job/), and Job/Read on it",
        ]
        monkeypatch.setenv("DOCTOR_JENKINS", "wrong-token-9")
        code, lines = doctor(path, capsys)
        assert code == 1 and lines[1].startswith("FAIL ci: credentials") and "Overall/Read" in lines[1]
        assert "wrong-token-9" not in "\n".join(lines)


def test_events_folders_and_tables(tmp_path, capsys, monkeypatch):
    (tmp_path / "deploys").mkdir()
    (tmp_path / "deploys" / "argo.csv").write_text("service,environment,status,finished_at\n")
    (tmp_path / "deploys" / "notes.txt").write_text("not an export")
    path = tmp_path / "throughline.yml"
    path.write_text(f"""
sources:
  - type: events
    name: drops
    deployments: {{path: {tmp_path / 'deploys'}}}
    incidents: {{table: {tmp_path / 'missing.parquet'}}}
""")
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "none.duckdb"))
    code, lines = doctor(path, capsys)
    assert code == 1
    assert lines[1:3] == [
        "OK drops: deployments 1 file(s) to read",
        f"FAIL drops: incidents {tmp_path / 'missing.parquet'} does not exist: fix `table` in throughline.yml",
    ]


def test_gitlab_and_circleci(tmp_path, capsys, monkeypatch):
    """The tiny org as GitLab holds acme/checkout-infra; as CircleCI, project gh/acme/checkout."""
    options = {"gitlab": {"tokens": {SECRET}}, "circleci": {"tokens": {SECRET}}}
    with SimulatorServer(tiny_org(), mount_options=options) as server:
        path = tmp_path / "throughline.yml"
        path.write_text(f"""
sources:
  - type: gitlab
    name: gl
    base_url: {server.url}/gitlab
    auth: {{token: "${{DOCTOR_TOKEN}}"}}
    scope: {{projects: [acme/checkout-infra, acme/gone]}}
    options: {{max_retries: 0}}
  - type: circleci
    name: cc
    base_url: {server.url}/circleci
    auth: {{token: "${{DOCTOR_TOKEN}}"}}
    scope: {{projects: [gh/acme/checkout]}}
    options: {{max_retries: 0}}
""")
        monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "none.duckdb"))
        monkeypatch.setenv("DOCTOR_TOKEN", SECRET)
        code, lines = doctor(path, capsys)
        assert code == 1
        assert lines[1] == "OK gl: credentials authenticated as throughline-bot; rate limit: 1999 of 2000 left"  # after this first request
        assert lines[2] == "OK gl: project acme/checkout-infra visible"
        assert lines[3].startswith("FAIL gl: project acme/gone ") and "at least Reporter" in lines[3]
        assert lines[4:6] == ["OK cc: credentials authenticated as throughline-bot",
                              "OK cc: gh/acme/checkout pipelines readable"]


def test_warehouse_and_the_published_copy(tmp_path, capsys, monkeypatch):
    from connectors.core.raw import RawStore
    from operations.publish import publish_marts

    warehouse = tmp_path / "warehouse" / "throughline.duckdb"
    with RawStore(warehouse) as store:
        store.con.execute("CREATE SCHEMA marts; CREATE TABLE marts.work_items AS SELECT 1 AS work_item_id")
    path = tmp_path / "throughline.yml"
    path.write_text("sources: []\n")
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(warehouse))
    monkeypatch.delenv("THROUGHLINE_PUBLISHED_DIR", raising=False)
    code, lines = doctor(path, capsys)
    assert code == 1
    assert lines[1:3] == [
        f"OK warehouse {warehouse} opens",
        f"FAIL published marts {warehouse.parent / 'marts.duckdb'} does not exist: BI tools have nothing to read "
        "until a nightly run (`throughline run`) finishes its build and publishes",
    ]
    publish_marts(warehouse, warehouse.parent)
    code, lines = doctor(path, capsys)
    assert code == 0
    assert lines[2].startswith(f"OK published marts {warehouse.parent / 'marts.duckdb'}: 1 marts, published 0.0 h ago")
