"""Staging tables incremental by read (macros/staging_increments.sql), on GitHub's pull requests and their
commits: a nightly parses only the raw rows it has not parsed (matched on key and read time), however old their
read time, a pull request's commits replaced by the connector (a force-push) leave no old commit behind, and a
change of the model's SQL parses every row again.

Source `gh`, repository acme/web. Reads (extracted_at, as the raw store wrote them, then moved back in time):
  load 1, 30 days ago:  PR 3 "three" with commit c9
  load 1, 10 days ago:  PR 1 "one" with commits c1, c2
  build 1               -> the tables hold PRs 1 and 3, commits c1, c2, c9
  raw edited in place:  PR 3's and PR 1's titles become "three, edited" and "one, edited", read times kept
  load 2, now:          PR 1's commits replaced by [c3] (force-push); PR 2 "two" with commit c4; one more
                        commit c10 of PR 3 stored beside c9 (nothing replaced); PR 4 "four" with commit c5, its
                        read moved back 20 days (a shard merged late: older than the newest read parsed before
                        less the 72 h lookback, so a window from that read would never parse it)
  build 2               -> PR 1 re-parsed ("one, edited", commits {c3}); PRs 2 and 4 new; PR 3 not parsed again
                           (still "three"); its commits are c9 and c10: the table's key is the pull request,
                           so every commit of a pull request with one read in the window is parsed again
  a row's staging_version set to another value, build 3 -> every row parsed again: PR 3 "three, edited"
"""

from __future__ import annotations

import duckdb
import pytest

from connectors.core.raw import RawRecord, RawStore

from .warehouse import load_raw, query, run_dbt

SELECT = ["--select", "stg_github__pull_requests", "stg_github__pull_request_commits"]


def pull_request(number: int, title: str) -> RawRecord:
    return RawRecord(str(100 + number), {
        "id": 100 + number, "number": number, "state": "closed", "title": title, "user": {"login": "ada"},
        "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-02T09:00:00Z",
        "closed_at": "2026-11-02T09:00:00Z", "merged_at": "2026-11-02T09:00:00Z", "merge_commit_sha": f"m{number}",
        "head": {"sha": f"h{number}", "ref": f"feature-{number}"}, "base": {"ref": "main"}, "draft": False,
    }, scope="acme/web")


def commit(number: int, sha: str) -> RawRecord:
    return RawRecord(f"{100 + number}:{sha}", {
        "sha": sha, "author": {"login": "ada"}, "parents": [{"sha": "p"}],
        "commit": {"author": {"name": "Ada", "date": "2026-11-01T08:00:00Z"},
                   "committer": {"date": "2026-11-01T08:00:00Z"}, "message": f"{sha} work\n\nbody"},
    }, parent_key=str(100 + number), scope="acme/web")


def pull_requests(warehouse) -> dict[str, str]:
    return dict(query(warehouse, "select pull_request_number, title from staging.stg_github__pull_requests"))


def commits(warehouse) -> list[tuple[str, str]]:
    return sorted(query(warehouse, "select pull_request_id, commit_sha from staging.stg_github__pull_request_commits"))


def move_back(warehouse, keys: list[str], days: int) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for table, column in (("github__pull_requests", "record_key"), ("github__pull_request_commits", "parent_key")):
            con.execute(f"update raw.{table} set extracted_at = extracted_at - interval {days} day "
                        f"where {column} in (select unnest(?::varchar[]))", [keys])


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("staging_increments")
    warehouse = work / "throughline.duckdb"
    load_raw(warehouse, [("github__pull_requests", "gh", [pull_request(3, "three")]),
                         ("github__pull_request_commits", "gh", [commit(3, "c9")])])
    move_back(warehouse, ["103"], 30)
    load_raw(warehouse, [("github__pull_requests", "gh", [pull_request(1, "one")]),
                         ("github__pull_request_commits", "gh", [commit(1, "c1"), commit(1, "c2")])])
    move_back(warehouse, ["101"], 10)
    run_dbt(["run", *SELECT], warehouse, work)
    first = pull_requests(warehouse), commits(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("""update raw.github__pull_requests
                       set payload = json_merge_patch(payload, json_object('title', json_extract_string(payload, 'title') || ', edited'))""")
    with RawStore(warehouse) as store:
        store.write([("github__pull_requests", "gh", [pull_request(1, "one, edited"), pull_request(2, "two")]),
                     ("github__pull_request_commits", "gh", [commit(1, "c3"), commit(2, "c4")])],
                    replace_children=[("github__pull_request_commits", "gh", ["101", "102"])])
        store.write([("github__pull_request_commits", "gh", [commit(3, "c10")])])  # one more, nothing replaced
        store.write([("github__pull_requests", "gh", [pull_request(4, "four")]),
                     ("github__pull_request_commits", "gh", [commit(4, "c5")])])
    move_back(warehouse, ["104"], 20)
    run_dbt(["run", *SELECT], warehouse, work)
    second = pull_requests(warehouse), commits(warehouse)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update staging.stg_github__pull_requests set staging_version = 'an older model' "
                    "where pull_request_number = 2")
    run_dbt(["run", *SELECT], warehouse, work)
    return first, second, (pull_requests(warehouse), commits(warehouse))


def test_the_first_build_parses_every_row(builds):
    (prs, shas), _, _ = builds
    assert prs == {1: "one", 3: "three"}
    assert shas == [("101", "c1"), ("101", "c2"), ("103", "c9")]


def test_a_nightly_parses_the_window_and_replaced_children_leave_nothing_behind(builds):
    _, (prs, shas), _ = builds
    # PR 3 was read 30 days ago, before the window (from the oldest read not parsed, PR 4's 20 days ago): its
    # row is not parsed again (the in-place edit of its raw payload, which no connector makes, stays invisible)
    assert prs == {1: "one, edited", 2: "two", 3: "three", 4: "four"}
    assert shas == [("101", "c3"), ("102", "c4"), ("103", "c10"), ("103", "c9"), ("104", "c5")]


def test_a_row_of_another_model_version_makes_the_next_run_parse_everything(builds):
    _, _, (prs, shas) = builds
    assert prs == {1: "one, edited", 2: "two", 3: "three, edited", 4: "four"}
    assert shas == [("101", "c3"), ("102", "c4"), ("103", "c10"), ("103", "c9"), ("104", "c5")]
