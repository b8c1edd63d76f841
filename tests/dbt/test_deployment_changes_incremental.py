"""int_deployment_changes incremental by deployment: three nights of test_change_truth's histories, each night's
incremental build equal to a full rebuild of the same raw layer, and the deployments it rebuilt worked out by hand.

GitHub source `gh`, repositories acme/shop-web (W) and acme/shop-api (A), as in test_change_truth (its docstring
lists every deployment, compare set and pull request). Read over three nights:

  night 1  W1 4001 (success w0, compare [w0, wa]), W2 4002 (FAILURE w1; its compare set not read yet),
           W4 4004 (success w2, [w1, w2]: w1 first held here); A0 5000, A1 5001 (FAILURE); pull requests
           #2 (merge w1), #3 (merge w2), #4 (merge a1) and #7 (merge m7, never deployed; its one commit read as
           wa, so W1's wa is matched to #7 as a pull request commit)
  night 2  W2's compare set [w1], read late: w1 entered the chain at W2, so W4 (unchanged itself) lists it as
           compared in W2. A2 5002 ([a1, p5a, a2]). Pull requests #1 (merge w0: W1's w0, built the night
           before, is now its merge commit), #5 (its commits read as [p5x], which no deployment holds), #6
           (merge a2)
  night 3  W3 4003, read late: it started before W4 (02-03 11:00), so W4 moves from position 3 to 4; a rollback
           to w0 (empty compare set, lists nothing). W5 4005 (rollback to w0), W6 4006 ([w1, w2, w3]). #5's and
           #7's commits read again, replacing the earlier ones: #5 [p5a] (A2's p5a becomes #5's commit), #7
           [p7a] (W1's wa is no one's any more)

The deployments each incremental night rebuilds (int_deployment_changes_to_rebuild), by the rules of
macros/deployment_change_increments.sql:
  night 2  gh:4002, gh:4004   W's chain from position 2 on (W2's compare set changed; nothing of W4's did)
           gh:5002            A's chain from position 3 (A2 new)
           gh:4001            lists w0, the merge commit of #1 (new); #5 and #6 match no built row
  night 3  gh:4003 .. 4006    W's chain from position 3 on (W3 new there, W4 moved, W5 and W6 new)
           gh:5002            lists p5a, now one of #5's commits
           gh:4001            lists wa, matched to #7 as built (#7 changed)

Also read late: A1's failure status (night 2; in progress on night 1) and a comment on #3 before its merge, read
alone (night 3: #3's first response, which int_github__change_requests finds by its read marks). After night 3,
rows left stale by hand in the models incremental by comparison (deployment_changes, pull_request_cycle_times)
and in int_github__change_requests, which the next run must make good.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawStore

from .test_change_truth import DBT_VARS, DEPLOYMENTS, GH, PULLS, WEB, pull_request_records
from .test_dora_marts import deployment_records, sha
from .warehouse import WITHOUT_UNIT_TESTS, load_raw, only, query, run_dbt

PR7 = (607, WEB, "fay", "02-01T10:00", "02-01T12:00", "m7", [("wa", "02-01T09:00")], [], [])
NIGHTS = [
    ([4001, 4002, 4004, 5000, 5001], {2: PULLS[2], 3: PULLS[3], 4: PULLS[4], 7: PR7}),
    ([5002], {1: PULLS[1], 5: PULLS[5][:6] + ([("p5x", "02-04T08:00")],) + PULLS[5][7:], 6: PULLS[6]}),
    ([4003, 4005, 4006], {5: PULLS[5], 7: PR7[:6] + ([("p7a", "02-01T09:00")],) + PR7[7:]}),
]
LATE_COMPARE_SET = 4002  # read on the second night
LATE_STATUS = "50012"  # A1's failure, read on the second night: the first night it was in progress
LATE_COMMENT = ("02-03T12:30", "bob")  # on #3 (merged 02-03 13:00; its review came after the merge)
NAMES = {sha(n): n for n in ("w0", "wa", "w1", "w2", "w3", "a0", "a1", "a2", "p5a")}
SELECT = only("deployment_changes", "deployments", "pull_request_cycle_times", "int_deployment_change_inputs")
COMPARED = ["intermediate.int_deployment_changes", "marts.deployment_changes", "marts.deployments",
            "intermediate.int_github__change_requests", "intermediate.int_change_requests",
            "marts.pull_request_cycle_times"]


def night_batches(night: int):
    idents, pulls = NIGHTS[night]
    batches = deployment_records(GH, {ident: DEPLOYMENTS[ident] for ident in idents})
    late = deployment_records(GH, {LATE_COMPARE_SET: DEPLOYMENTS[LATE_COMPARE_SET]})[2][2]  # its compare commits
    late_status = [r for r in deployment_records(GH, {5001: DEPLOYMENTS[5001]})[1][2] if r.record_key == LATE_STATUS]
    if night == 0:
        batches = [(table, instance, [r for r in records if r not in late and r.record_key != LATE_STATUS])
                   for table, instance, records in batches]
    if night == 1:
        batches += [("github__compare_commits", GH, late), ("github__deployment_statuses", GH, late_status)]
    if night == 2:  # a comment on #3 read alone, before its merge: its first response
        batches.append(pull_request_records({3: PULLS[3][:8] + ([LATE_COMMENT],)})[3])
    return [*batches, *pull_request_records(pulls)]


def differences(path: Path, refreshed: Path) -> dict[str, int]:
    """Per compared relation, its rows in one warehouse and not in the other (EXCEPT ALL both ways)."""
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute(f"ATTACH '{refreshed}' AS refreshed (READ_ONLY)")
        return {relation: con.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT * FROM {relation} EXCEPT ALL SELECT * FROM refreshed.{relation}))
                 + (SELECT count(*) FROM (SELECT * FROM refreshed.{relation} EXCEPT ALL SELECT * FROM {relation}))
        """).fetchall()[0][0] for relation in COMPARED}


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Per night after the first: (rebuilt deployment keys, the differences from a full rebuild, and per row of
    int_deployment_changes, (deployment, commit name) -> its pull request key, and -> where it was compared in)."""
    work = tmp_path_factory.mktemp("deployment-changes-incremental")
    path = work / "throughline.duckdb"
    load_raw(path, night_batches(0))
    run_dbt(["build", *SELECT, *WITHOUT_UNIT_TESTS, "--vars", json.dumps(DBT_VARS)], path, work)
    # the later nights without the data tests (a fifth of the module's time): each night is compared with a full
    # rebuild row by row, both ways, which a duplicate or a missing row fails too
    build = ["run", *SELECT, "--vars", json.dumps(DBT_VARS)]
    results = []
    for night in (1, 2):
        with RawStore(path) as store:
            # a pull request's commits are read whole and replace the ones read before (staging_rows' by_parent)
            store.write(night_batches(night), replace_children=[
                ("github__pull_request_commits", GH, [str(PULLS.get(n, PR7)[0]) for n in NIGHTS[night][1]])])
        run_dbt(build, path, work)
        refreshed = work / f"refresh{night}" / path.name  # same file name: the compiled SQL names the catalog
        refreshed.parent.mkdir()
        shutil.copy(path, refreshed)
        run_dbt(["run", *SELECT, "--full-refresh", "--vars", json.dumps(DBT_VARS)], refreshed, refreshed.parent)
        rebuilt = sorted(key for (key,) in query(
            path, "SELECT deployment_key FROM intermediate.int_deployment_changes_to_rebuild"))
        rows = query(path, """SELECT deployment_key, commit_sha, pull_request_key, compared_in_deployment_key
                              FROM intermediate.int_deployment_changes""")
        results.append((rebuilt, differences(path, refreshed), {(k, NAMES[c]): pr for k, c, pr, _ in rows},
                        {(k, NAMES[c]): compared for k, c, _, compared in rows}))
    first_response = query(path, """SELECT strftime(first_response_at, '%m-%dT%H:%M')
                                    FROM marts.pull_request_cycle_times WHERE pull_request_key = 'gh:603'""")
    # A0's mart rows as a night that built int_deployment_changes but not the mart would have left them, before
    # A0's success was read, and W1 listing a commit it no longer lists: no row of int_deployment_changes
    # changes, so only the mart's own comparison sees them
    with duckdb.connect(str(path)) as con:
        con.execute("""UPDATE marts.deployment_changes SET deployment_status = 'in_progress',
                       deployment_finished_at = NULL, is_first_production_deployment = false
                       WHERE deployment_key = 'gh:5000'""")
        con.execute("""INSERT INTO marts.deployment_changes SELECT * REPLACE ('gone' AS commit_sha)
                       FROM marts.deployment_changes WHERE deployment_key = 'gh:4001' LIMIT 1""")
        # and a pull request's row as an older build left it, beside one of a pull request gone since
        con.execute("UPDATE marts.pull_request_cycle_times SET title = 'older' WHERE pull_request_key = 'gh:601'")
        con.execute("""INSERT INTO marts.pull_request_cycle_times SELECT * REPLACE ('gh:699' AS pull_request_key)
                       FROM marts.pull_request_cycle_times WHERE pull_request_key = 'gh:601'""")
        # a change request of a pull request no longer read (#7 never deployed: no deployment on the row)
        con.execute("""INSERT INTO intermediate.int_github__change_requests SELECT * REPLACE
                       ('gh:698' AS change_request_key) FROM intermediate.int_github__change_requests
                       WHERE change_request_key = 'gh:607'""")
    run_dbt(build, path, work)
    results.append((None, differences(path, refreshed), first_response, None))
    return results



def test_each_night_equals_a_full_rebuild(nights):
    assert [found for _, found, _, _ in nights[:2]] == [{relation: 0 for relation in COMPARED}] * 2


def test_mart_rows_that_differ_from_their_inputs_are_written_again(nights):
    """The marts compare their rows with their inputs on every run, not with what the models before them rebuilt,
    and int_github__change_requests drops the pull requests no longer read: a night that left them out, or built
    them from an older version, is made good by the next run."""
    assert nights[2][1] == {relation: 0 for relation in COMPARED}


def test_a_comment_read_alone_rebuilds_its_pull_request(nights):
    assert nights[2][2] == [(LATE_COMMENT[0],)]


def test_a_compare_set_read_late_rebuilds_its_chain_from_there_and_a_new_pull_request_the_rows_it_matches(nights):
    rebuilt, _, matched, compared_in = nights[0]
    assert rebuilt == ["gh:4001", "gh:4002", "gh:4004", "gh:5002"]
    assert compared_in[("gh:4004", "w1")] == "gh:4002"
    assert matched[("gh:4002", "w1")] == "gh:602"
    assert matched[("gh:4001", "w0")] == "gh:601"   # #1's merge commit, read a night after W1 was built
    assert matched[("gh:4001", "wa")] == "gh:607"
    assert matched[("gh:5002", "p5a")] is None      # #5's commits were read as [p5x]


def test_a_late_deployment_and_pull_request_commits_read_again_rebuild_what_they_touch(nights):
    rebuilt, _, matched, _ = nights[1]
    assert rebuilt == ["gh:4001", "gh:4003", "gh:4004", "gh:4005", "gh:4006", "gh:5002"]
    assert matched[("gh:4001", "wa")] is None       # #7's commit is p7a now
    assert matched[("gh:5002", "p5a")] == "gh:605"
    # test_change_truth's change sets, built over three nights
    assert sorted(c for (k, c) in matched if k == "gh:4006") == ["w3"]
    assert not [c for (k, c) in matched if k in ("gh:4003", "gh:4005")]
    assert sorted(c for (k, c) in matched if k == "gh:4004") == ["w1", "w2"]
