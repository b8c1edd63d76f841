"""Change sets are owed until read: a compare that fails past its retries, or a run killed during one (or
before its deployments' change sets were registered), leaves them in the ledger, and the next run reads
them first. The rows then equal a clean single run's: none lost, none duplicated. A sha GitHub no longer
has is recorded as gone and an empty compare as read, so neither is asked again.

scenarios.tiny_org, repository acme/checkout, start_date 2026-01-01; production deployments 101 (c1),
103 (c3), 104 (c4), 105 (c5), staging 102 (c2). Commits, in order: c0 "Initial commit" (01-02), c1 (01-05),
c2 (01-06), c3 (01-07), c4 = merge of #1 (01-08), c5 = merge of #2 (01-12). Change sets:
  101, production's first: c1's history since 2026-01-01 = c0, c1      2 rows
  103: compare c1...c3 = c2, c3                                        2 rows
  104: compare c3...c4 = c4                                            1 row
  105: compare c4...c5 = c5                                            1 row    -> 6 rows in all
"""

from __future__ import annotations

import logging

import pytest
import requests

from connectors import github
from connectors.config import parse_config
from connectors.core.errors import RetriesExhaustedError
from connectors.core.raw import RawStore
from simulator import SimulatorServer, tiny_org

REPO = "acme/checkout"
COMPARE = f"/github/repos/{REPO}/compare/"
TOKEN = "good"


class Killed(BaseException):
    """Stands for kill -9: nothing in the connector catches it, so no code runs after it but rollbacks."""


def config(url: str):
    entry = {"type": "github", "name": "g", "base_url": f"{url}/github", "scope": {"repos": [REPO]},
             "auth": {"token": TOKEN},
             "options": {"backoff_seconds": 0, "max_retries": 1, "start_date": "2026-01-01"}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), github_tokens={TOKEN}) as server:
        yield server


def change_sets(store: RawStore) -> dict[str, str]:
    return dict(store.con.execute(
        "SELECT record_key, payload::VARCHAR FROM raw.github__compare_commits WHERE source_instance = 'g'").fetchall())


def row_count(store: RawStore) -> int:
    return store.con.execute("SELECT count(*) FROM raw.github__compare_commits").fetchall()[0][0]


def owed(store: RawStore) -> list[tuple[str, int]]:
    return [(o.parent_key, o.attempts) for o in store.owed("g", "compare_commits", REPO)]


@pytest.fixture
def clean(sim, tmp_path) -> dict[str, str]:
    """The change sets of one clean run, then the simulator's log and stats start afresh."""
    with RawStore(tmp_path / "clean.duckdb") as store:
        github.extract("deployments", config(sim.url), store)
        rows = change_sets(store)
    c = [commit["sha"] for commit in sim.org.repos[REPO].commits]
    assert sorted(rows) == sorted(["101:" + c[0], "101:" + c[1], "103:" + c[2], "103:" + c[3], "104:" + c[4],
                                   "105:" + c[5]])
    sim.reset_stats()
    return rows


def compares_asked(sim) -> list[str]:
    return [r.path[len(COMPARE):] for r in sim.requests if r.path.startswith(COMPARE)]


def test_a_compare_failing_past_its_retries_stays_owed_and_is_read_first_next_run(sim, clean, tmp_path):
    sim.faults.add(r"/compare/", "server_error", times=None, status=503)
    with RawStore(tmp_path / "w.duckdb") as store:
        with pytest.raises(RetriesExhaustedError) as failed:
            github.extract("deployments", config(sim.url), store)
        # Every compare was tried (3, each asked twice: max_retries 1) and the group failed after them; the
        # deployments and 101's history (the commits API, not the failing compare) landed.
        assert len(compares_asked(sim)) == 3 * 2
        assert "the change sets of 3 deployment(s) (103, 104, 105)" in str(failed.value)
        assert "the next run reads them first" in str(failed.value)
        assert (failed.value.result.records, failed.value.result.owed) == (2, 3)  # for the run report
        assert store.con.execute("SELECT count(*) FROM raw.github__deployments").fetchall() == [(5,)]
        assert sorted(change_sets(store)) == sorted(k for k in clean if k.startswith("101:"))
        # Owed once when registered, counted again when the read failed.
        assert owed(store) == [("103", 2), ("104", 2), ("105", 2)]

        sim.faults.clear()
        sim.reset_stats()
        github.extract("deployments", config(sim.url), store)
        # The owed compares come before the deployments list, oldest deployment first.
        paths = [r.path for r in sim.requests]
        c = [commit["sha"] for commit in sim.org.repos[REPO].commits]
        assert compares_asked(sim) == [f"{c[1]}...{c[3]}", f"{c[3]}...{c[4]}", f"{c[4]}...{c[5]}"]
        assert paths[:4] == [COMPARE + p for p in compares_asked(sim)] + [f"/github/repos/{REPO}/deployments"]
        assert change_sets(store) == clean and row_count(store) == len(clean) == 6
        assert owed(store) == []


def test_a_run_killed_during_a_compare_is_completed_by_the_next(sim, clean, tmp_path):
    class DiesAtSecondCompare(requests.Session):
        compares = 0

        def get(self, url, **kw):
            if "/compare/" in url:
                DiesAtSecondCompare.compares += 1
                if DiesAtSecondCompare.compares == 2:
                    raise Killed
            return super().get(url, **kw)

    path = tmp_path / "w.duckdb"
    with RawStore(path) as store, pytest.raises(Killed):
        github.extract("deployments", config(sim.url), store, session=DiesAtSecondCompare())
    with RawStore(path) as store:  # a new process
        # Killed at 104's compare: 101 and 103 were committed, each with its settlement; 104 and 105 are owed.
        assert sorted({k.split(":")[0] for k in change_sets(store)}) == ["101", "103"]
        assert owed(store) == [("104", 1), ("105", 1)]
        sim.reset_stats()
        github.extract("deployments", config(sim.url), store)
        assert len(compares_asked(sim)) == 2
        assert change_sets(store) == clean and row_count(store) == 6 and owed(store) == []


def test_deployments_stored_by_a_run_killed_before_their_change_sets_were_registered(sim, clean, tmp_path,
                                                                                      monkeypatch):
    def killed(*args, **kwargs):
        raise Killed

    path = tmp_path / "w.duckdb"
    with monkeypatch.context() as patch:
        patch.setattr(github, "_previous_deployments", killed)
        with RawStore(path) as store, pytest.raises(Killed):
            github.extract("deployments", config(sim.url), store)
    with RawStore(path) as store:
        # The deployments (and their cursor) landed; the ledger knows nothing of their change sets yet.
        assert store.con.execute("SELECT count(*) FROM raw.github__deployments").fetchall() == [(5,)]
        assert owed(store) == [] and change_sets(store) == {}
        # The rerun lists nothing new (the cursor moved past them), yet finds them in the raw table.
        [deployments, compare] = github.extract("deployments", config(sim.url), store)
        assert compare.records == 6 and change_sets(store) == clean and owed(store) == []


def test_a_vanished_sha_is_recorded_gone_and_not_asked_again(sim, clean, tmp_path, caplog):
    gone_sha = "dead" * 10  # force-pushed away: the repository no longer has it
    c5 = sim.org.repos[REPO].commits[5]["sha"]
    sim.org.github_add_deployment(REPO, "production", "2026-01-14T11:00Z", sha=gone_sha, deployment_id=106)
    with RawStore(tmp_path / "w.duckdb") as store:
        with caplog.at_level(logging.WARNING, logger="connectors.github"):
            [_, result] = github.extract("deployments", config(sim.url), store)
        assert compares_asked(sim)[-1] == f"{c5}...{gone_sha}"
        [warning] = [r.getMessage() for r in caplog.records if "no longer has" in r.getMessage()]
        assert f"deployment 106 compares {c5[:12]}...{gone_sha[:12]}" in warning
        assert "recorded as gone and not asked again" in warning
        assert result.gone == 1 and result.records == 6
        [gone] = store.gone_objects("g", "compare_commits", REPO)
        assert gone.parent_key == "106" and "404" in gone.reason
        assert change_sets(store) == clean and owed(store) == []

        sim.reset_stats()
        github.extract("deployments", config(sim.url), store)
        assert compares_asked(sim) == []


def test_an_empty_compare_is_read_once(sim, clean, tmp_path):
    # A rollback to c4 after 105 (c5): compare c5...c4 is "behind", 0 commits.
    c4 = sim.org.repos[REPO].commits[4]["sha"]
    sim.org.github_add_deployment(REPO, "production", "2026-01-14T11:00Z", sha=c4, deployment_id=106)
    with RawStore(tmp_path / "w.duckdb") as store:
        github.extract("deployments", config(sim.url), store)
        assert len(compares_asked(sim)) == 4  # 103, 104, 105 and the rollback's
        assert change_sets(store) == clean and owed(store) == [] and store.gone_objects("g") == []
        for _ in range(2):
            sim.reset_stats()
            github.extract("deployments", config(sim.url), store)
            assert compares_asked(sim) == []


def test_the_simulator_serves_these_reads_as_github_does(sim):
    c = [commit["sha"] for commit in sim.org.repos[REPO].commits]
    dates = [commit["commit"]["committer"]["date"] for commit in sim.org.repos[REPO].commits]
    base = f"{sim.url}/github/repos/{REPO}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # A sha's history, newest first, within since and until (both inclusive): c3's from c1 to c2 is c2, c1.
    history = requests.get(f"{base}/commits", params={"sha": c[3], "since": dates[1], "until": dates[2]},
                           headers=auth, timeout=5).json()
    assert [commit["sha"] for commit in history] == [c[2], c[1]]
    # A compare back in history is `behind` and lists nothing; one naming a missing sha says only Not Found.
    behind = requests.get(f"{base}/compare/{c[5]}...{c[4]}", headers=auth, timeout=5).json()
    assert (behind["status"], behind["behind_by"], behind["commits"]) == ("behind", 1, [])
    missing = requests.get(f"{base}/compare/{c[5]}...{'dead' * 10}", headers=auth, timeout=5)
    assert (missing.status_code, missing.json()["message"]) == (404, "Not Found")
    # A compare failing for good: every attempt answers 503.
    sim.faults.add(r"/compare/", "server_error", times=None, status=503)
    assert [requests.get(f"{base}/compare/{c[1]}...{c[3]}", headers=auth, timeout=5).status_code
            for _ in range(3)] == [503, 503, 503]
