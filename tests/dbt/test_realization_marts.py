"""Realization marts on a hand-built history: raw Jira, GitHub and outcomes rows -> `dbt build` -> marts, every
value worked out by hand.

All times UTC, 2026. Weeks start Monday (02-02, 02-09, 02-16, 02-23). The Jira rows are "as of" 03-10 12:00.
Teams (seeds written into a copy of the dbt project): project PAY -> Payments (value stream Money), project
WEB -> Web (value stream Online). Every item goes To Do -> In Progress -> Done (or Won't Do), so its active
time is its flow time.

Jira `jira` (key, type, created, started, done/canceled, story points, hierarchy, labels/fields):
  PAY-1     Initiative  01-05 09:00  never started, To Do
  PAY-10    Epic        01-12 09:00  In Progress 02-02 09:00          parent PAY-1
  PAY-11    Epic        01-19 09:00  02-03 09:00, Done 02-20 09:00     no parent, issue link "relates to" PAY-1
  PAY-100   Story       01-20 09:00  02-02 12:00, Done 02-05 12:00 (72 h)   5 SP   parent PAY-10 (an epic)
  PAY-101   Bug         01-26 09:00  02-09 09:00, Done 02-10 09:00 (24 h)          Epic Link field = PAY-10
  PAY-1001  Sub-task    02-09 10:00  02-09 10:00, Done 02-09 22:00 (12 h)          parent PAY-101: epic PAY-10
  PAY-102   Story       01-21 09:00  Won't Do 02-03 09:00                    3 SP   parent PAY-10
  PAY-110   Story       01-19 10:00  02-03 09:00, Done 02-06 09:00 (72 h)   8 SP   parent PAY-11, label security (risk)
  PAY-111   Story       01-19 10:00  02-10 09:00, Done 02-12 09:00 (48 h)   2 SP   parent PAY-11, field 10050 = Q1-trust
  PAY-200   Bug         02-01 09:00  02-16 09:00, Done 02-17 09:00 (24 h)          no epic
  WEB-1     Story       02-01 09:00  02-02 09:00, Done 02-04 09:00 (48 h)   1 SP   label checkout-conversion
  WEB-2     Story       02-01 09:00  02-16 09:00, Done 02-18 09:00 (48 h)   2 SP   Epic Link MKT-5 (not loaded)
  WEB-3     Story       02-01 09:00  Won't Do 02-17 09:00                    3 SP   Epic Link MKT-5

GitHub `gh`, repo acme/pay, production deployments (compare commits as the connector reads them):
  5001 01-30 10:00-10:30 success (first, no compare)
  5002 02-05 14:00-14:30 FAILURE  [m1 = merge of PR #1 "PAY-100 wallet API", branch feature/pay-100]
  5003 02-06 10:00-10:30 success  [c3]: ships c3 and the failed deployment's m1 -> PAY-100 ships here
  5004 02-10 12:00-12:20 success  [m2 = merge of PR #2 "Velocity rules", branch pay-110-velocity (lower case);
                                   "PAY-1001 fix button" (direct push); "Prepare PAY-1110 rollout" (names no
                                   issue of ours: PAY-1110 is not PAY-111)]
  5010 staging 02-07 success [m2]: not production, ships nothing.
So: PAY-100 first ships 02-06 10:30 (5003, pull request); PAY-110 02-10 12:20 (5004, pull request, by branch);
PAY-1001 02-10 12:20 (5004, commit); nothing else ships.

Epics: PAY-10 = {PAY-100, PAY-101, PAY-1001, PAY-102}; PAY-11 = {PAY-110, PAY-111}; MKT-5 = {WEB-2, WEB-3}.
Initiative PAY-1 = {PAY-10 (parent), PAY-11 (link)}.

Outcomes `okrs`:
  KR1 (objective O1) wallet_share 20 -> 30 %, 02-02 .. 03-01, value stream Money; links epic:PAY-10, issue:PAY-111
  KR2 (objective O2) fraud_loss 1.0 -> 0.5, 02-02 .. 03-01, value stream Money;
      links field:customfield_10050=q1-TRUST (case-insensitive), label:security
  KR3 (objective O1) no KPI, 3 -> 4, due 02-22, no start, value stream Online; links label:checkout-conversion,
      issue:WEB-2; check-ins 02-04 3.2, 02-11 3.5, 02-20 3.9
  KPI wallet_share, value stream Money, weekly: 01-09 20, 01-16 21, 01-23 20, 01-30 21, 02-06 24, 02-13 25,
      02-20 26, 02-27 27, 03-06 28. Decoys that must not be read: value stream Online (99), segment mobile
      (50), product app (70).
  KPI fraud_loss, no value stream (the whole KPI; KR2's value stream Money has no series of its own):
      01-20 1.0, 02-03 0.9, 02-17 0.7, 03-03 0.6.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord
from connectors.config import DBT_PROJECT_DIR

from .test_dora_marts import deployment_records, sha, ts
from .warehouse import invoke_dbt, load_raw, query, query_dicts

JIRA, GH, OKRS = "jira", "gh", "okrs"
REPO = "acme/pay"
AS_OF = datetime(2026, 3, 10, 12, 0)
EPIC_LINK_FIELD, GOAL_FIELD = "customfield_10014", "customfield_10050"
MARTS = ["epics", "initiatives", "outcome_links", "okr_progress", "investment_distribution"]
OUR_FOLDERS = ["path:models/intermediate/realization", "path:models/marts/realization"]

STATUSES = {"1": ("To Do", "new"), "3": ("In Progress", "indeterminate"), "10003": ("Done", "done"),
            "10004": ("Won't Do", "done")}
STATUS_ID = {name: sid for sid, (name, _) in STATUSES.items()}

# key -> (id, type, created, [(at, status)], story points, parent (key, type, level), epic link, labels, goal)
ISSUES = {
    "PAY-1": ("1", "Initiative", "01-05T09:00", [], None, None, None, [], None),
    "PAY-10": ("10", "Epic", "01-12T09:00", [("02-02T09:00", "In Progress")], None,
               ("PAY-1", "Initiative", 2), None, [], None),
    "PAY-11": ("11", "Epic", "01-19T09:00", [("02-03T09:00", "In Progress"), ("02-20T09:00", "Done")], None,
               None, None, [], None),
    "PAY-100": ("100", "Story", "01-20T09:00", [("02-02T12:00", "In Progress"), ("02-05T12:00", "Done")], 5.0,
                ("PAY-10", "Epic", 1), None, [], None),
    "PAY-101": ("101", "Bug", "01-26T09:00", [("02-09T09:00", "In Progress"), ("02-10T09:00", "Done")], None,
                None, "PAY-10", [], None),
    "PAY-1001": ("1001", "Sub-task", "02-09T10:00", [("02-09T10:00", "In Progress"), ("02-09T22:00", "Done")],
                 None, ("PAY-101", "Bug", 0), None, [], None),
    "PAY-102": ("102", "Story", "01-21T09:00", [("02-03T09:00", "Won't Do")], 3.0, ("PAY-10", "Epic", 1), None,
                [], None),
    "PAY-110": ("110", "Story", "01-19T10:00", [("02-03T09:00", "In Progress"), ("02-06T09:00", "Done")], 8.0,
                ("PAY-11", "Epic", 1), None, ["security"], None),
    "PAY-111": ("111", "Story", "01-19T10:00", [("02-10T09:00", "In Progress"), ("02-12T09:00", "Done")], 2.0,
                ("PAY-11", "Epic", 1), None, [], "Q1-trust"),
    "PAY-200": ("200", "Bug", "02-01T09:00", [("02-16T09:00", "In Progress"), ("02-17T09:00", "Done")], None,
                None, None, [], None),
    "WEB-1": ("301", "Story", "02-01T09:00", [("02-02T09:00", "In Progress"), ("02-04T09:00", "Done")], 1.0,
              None, None, ["checkout-conversion"], None),
    "WEB-2": ("302", "Story", "02-01T09:00", [("02-16T09:00", "In Progress"), ("02-18T09:00", "Done")], 2.0,
              None, "MKT-5", [], None),
    "WEB-3": ("303", "Story", "02-01T09:00", [("02-17T09:00", "Won't Do")], 3.0, None, "MKT-5", [], None),
}
ISSUE_LINKS = {"PAY-11": ("PAY-1", "1"), "PAY-1": ("PAY-11", "11")}  # one "Relates" link, seen from both ends
# the delivery forecasts' targets of the open containers, read from their raw payloads: PAY-10's due date; PAY-1
# has none, so the earliest release date of its fix versions
TARGET_FIELDS = {"PAY-10": {"duedate": "2026-03-31"},
                 "PAY-1": {"fixVersions": [{"name": "2026.3", "releaseDate": "2026-05-20"},
                                           {"name": "2026.2", "releaseDate": "2026-04-15"}]}}

# id -> (repo, environment, start, finish, state, sha name, description, ref, compare commit names);
# a commit not named in test_dora_marts.COMMITS has its name as its message
DEPLOYMENTS = {
    5001: (REPO, "production", "01-30T10:00", "01-30T10:30", "success", "base", "Deploy", "main", []),
    5002: (REPO, "production", "02-05T14:00", "02-05T14:30", "failure", "m1", "Deploy", "main", ["m1"]),
    5003: (REPO, "production", "02-06T10:00", "02-06T10:30", "success", "c3", "Deploy", "main", ["c3"]),
    5004: (REPO, "production", "02-10T12:00", "02-10T12:20", "success", "Prepare PAY-1110 rollout", "Deploy", "main",
           ["m2", "PAY-1001 fix button", "Prepare PAY-1110 rollout"]),
    5010: (REPO, "staging", "02-07T10:00", "02-07T10:10", "success", "m2", "Deploy", "main", []),
}
# number -> (id, title, head branch, merged, merge commit name)
PULLS = {
    1: (901, "PAY-100 wallet API", "feature/pay-100", "02-05T10:00", "m1"),
    2: (902, "Velocity rules", "pay-110-velocity", "02-10T10:00", "m2"),
}

KEY_RESULTS = {
    "KR1": {"objective_id": "O1", "objective": "Grow card payments", "key_result": "Wallet share 20 -> 30 %",
            "kpi": "wallet_share", "unit": "%", "baseline": 20.0, "target": 30.0, "start_on": "2026-02-02",
            "due_on": "2026-03-01", "team": "Payments", "value_stream": "Money",
            "links": [{"kind": "epic", "field": None, "value": "PAY-10"},
                      {"kind": "issue", "field": None, "value": "PAY-111"}]},
    "KR2": {"objective_id": "O2", "objective": "Trust", "key_result": "Fraud loss 1.0 -> 0.5",
            "kpi": "fraud_loss", "unit": "%", "baseline": 1.0, "target": 0.5, "start_on": "2026-02-02",
            "due_on": "2026-03-01", "team": "Payments", "value_stream": "Money",
            "links": [{"kind": "field", "field": GOAL_FIELD, "value": "q1-TRUST"},
                      {"kind": "label", "field": None, "value": "security"}]},
    "KR3": {"objective_id": "O1", "objective": "Grow card payments", "key_result": "Checkout conversion 3 -> 4 %",
            "kpi": None, "unit": "%", "baseline": 3.0, "target": 4.0, "start_on": None, "due_on": "2026-02-22",
            "team": "Web", "value_stream": "Online",
            "links": [{"kind": "label", "field": None, "value": "checkout-conversion"},
                      {"kind": "issue", "field": None, "value": "WEB-2"}]},
}
CHECK_INS = [("KR3", "2026-02-04", 3.2), ("KR3", "2026-02-11", 3.5), ("KR3", "2026-02-20", 3.9)]
WALLET = [("01-09", 20), ("01-16", 21), ("01-23", 20), ("01-30", 21), ("02-06", 24), ("02-13", 25),
          ("02-20", 26), ("02-27", 27), ("03-06", 28)]
# (kpi, value stream, product, segment, [(day, value)])
KPIS = [
    ("wallet_share", "Money", None, None, WALLET),
    ("wallet_share", "Online", None, None, [(day, 99) for day, _ in WALLET]),
    ("wallet_share", "Money", None, "mobile", [(day, 50) for day, _ in WALLET]),
    ("wallet_share", "Money", "app", None, [(day, 70) for day, _ in WALLET]),
    ("fraud_loss", None, None, None, [("01-20", 1.0), ("02-03", 0.9), ("02-17", 0.7), ("03-03", 0.6)]),
]

SEEDS = {
    "work_item_team_mapping.csv": "source_instance,match_on,match_value,team,value_stream\n"
                                  "*,project,PAY,Payments,\n*,project,WEB,Web,\n",
    "team_value_streams.csv": "team,value_stream\nPayments,Money\nWeb,Online\n",
}


def jira_time(text: str) -> str:
    return f"2026-{text}:00.000+0000"


def status_object(name: str) -> dict:
    status_id = STATUS_ID[name]
    return {"id": status_id, "name": name, "statusCategory": {"key": STATUSES[status_id][1]}}


def issue_record(key: str) -> RawRecord:
    ident, issue_type, created, changes, points, parent, epic_link, labels, goal = ISSUES[key]
    fields = {
        "summary": f"{key} summary", "issuetype": {"name": issue_type}, "project": {"id": key[:3], "key": key[:3]},
        "status": status_object(changes[-1][1] if changes else "To Do"), "labels": labels, "components": [],
        "created": jira_time(created), "updated": jira_time(changes[-1][0] if changes else created),
        "customfield_10016": points, EPIC_LINK_FIELD: epic_link,
        GOAL_FIELD: {"value": goal, "id": "7"} if goal else None,
        "issuelinks": [],
        **TARGET_FIELDS.get(key, {}),
    }
    if parent:
        parent_key, parent_type, level = parent
        fields["parent"] = {"key": parent_key, "fields": {"issuetype": {"name": parent_type, "hierarchyLevel": level}}}
    if key in ISSUE_LINKS:
        other_key, other_id = ISSUE_LINKS[key]
        side = "outwardIssue" if key == "PAY-11" else "inwardIssue"
        fields["issuelinks"] = [{"id": "77", "type": {"id": "1", "name": "Relates", "inward": "relates to",
                                                      "outward": "relates to"},
                                 side: {"id": other_id, "key": other_key}}]
    return RawRecord(ident, {
        "id": ident, "key": key, "self": f"https://acme.atlassian.net/rest/api/3/issue/{ident}", "fields": fields,
        "_throughline": {"storyPointsFields": ["customfield_10016"], "epicLinkField": EPIC_LINK_FIELD},
    }, scope=key[:3], cursor_value=fields["updated"])


def changelog_records() -> list[RawRecord]:
    out = []
    for key, (ident, _, _, changes, *_) in ISSUES.items():
        previous = "To Do"
        for number, (at, status) in enumerate(changes, start=1):
            history_id = f"{ident}{number:02d}"
            out.append(RawRecord(history_id, {"id": history_id, "created": jira_time(at), "items": [{
                "field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUS_ID[previous],
                "fromString": previous, "to": STATUS_ID[status], "toString": status}]},
                parent_key=ident, cursor_value=jira_time(at)))
            previous = status
    return out


def pull_request_records() -> list[RawRecord]:
    return [RawRecord(str(ident), {
        "id": ident, "number": number, "state": "closed", "title": title, "user": {"login": "dev"},
        "created_at": ts("02-01T09:00"), "updated_at": ts(merged), "closed_at": ts(merged), "merged_at": ts(merged),
        "merge_commit_sha": sha(merge), "head": {"sha": sha(f"{merge}-head"), "ref": branch},
        "base": {"ref": "main", "repo": {"full_name": REPO}}, "draft": False,
    }, scope=REPO, cursor_value=ts(merged)) for number, (ident, title, branch, merged, merge) in PULLS.items()]


def outcome_records() -> list:
    key_results = [RawRecord(ident, {"_throughline": {**spec, "key_result_id": ident}}, scope="key_results.csv")
                   for ident, spec in KEY_RESULTS.items()]
    check_ins = [RawRecord(f"{kr}:{day}", {"_throughline": {"key_result_id": kr, "observed_on": day, "value": value}},
                           scope="check_ins.csv") for kr, day, value in CHECK_INS]
    kpis = [RawRecord(f"{kpi}:{stream}:{product}:{segment}:{day}", {"_throughline": {
        "kpi": kpi, "observed_on": f"2026-{day}", "value": value, "unit": "%", "value_stream": stream,
        "product": product, "segment": segment}}, scope="kpis.csv")
        for kpi, stream, product, segment, points in KPIS for day, value in points]
    return [("outcomes__key_results", OKRS, key_results), ("outcomes__key_result_values", OKRS, check_ins),
            ("outcomes__kpis", OKRS, kpis)]


def batches() -> list:
    return [
        ("jira__statuses", JIRA, [RawRecord(sid, status_object(name)) for sid, (name, _) in STATUSES.items()]),
        ("jira__issues", JIRA, [issue_record(key) for key in ISSUES]),
        ("jira__changelogs", JIRA, changelog_records()),
        *deployment_records(GH, DEPLOYMENTS),
        ("github__pull_requests", GH, pull_request_records()),
        *outcome_records(),
    ]


def dbt(command: list[str], project: Path, warehouse: Path, work: Path) -> None:
    """Run dbt in a copy of the project with our seeds; every selected node must pass."""
    result = invoke_dbt(command, warehouse, work, project)
    failures = [f"{r.node.unique_id}: {r.status}: {r.message}" for r in (getattr(result.result, "results", None) or [])
                if str(r.status) not in ("success", "pass", "no-op")]
    assert result.success and not failures, f"{result.exception or ''}\n" + "\n".join(failures)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("realization")
    path = work / "throughline.duckdb"
    load_raw(path, batches())
    with duckdb.connect(str(path)) as con:  # the flow marts are "as of" the last Jira load
        for table in ("jira__issues", "jira__changelogs", "jira__statuses"):
            con.execute(f"UPDATE raw.{table} SET extracted_at = ?", [AS_OF])
    project = work / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for name, text in SEEDS.items():
        (project / "seeds" / name).write_text(text)
    # the marts and everything upstream; upstream unit tests are their owners' business (and need no data)
    dbt(["build", "--select", *(f"+{mart}" for mart in MARTS), "+int_forecast_subjects", "--exclude", "test_type:unit"],
        project, path, work)
    dbt(["test", "--select", *(f"test_type:unit,{folder}" for folder in OUR_FOLDERS)], project, path, work)
    return path


def rows_by(path: Path, table: str, *key: str) -> dict:
    return {tuple(row[k] for k in key) if len(key) > 1 else row[key[0]]: row
            for row in query_dicts(path, f"SELECT * FROM marts.{table}")}


# epics and initiatives -------------------------------------------------------------------------------

def test_first_shipment_through_pull_request_titles_branches_and_commit_messages(warehouse):
    shipped = query(warehouse, """
        SELECT issue_key, first_shipped_at, first_shipped_deployment_key, shipped_via
        FROM intermediate.int_work_items_shipped ORDER BY issue_key""")
    assert shipped == [
        # the failed 5002 held m1 first; its commits ship with the next success, 5003
        ("PAY-100", datetime(2026, 2, 6, 10, 30), "gh:5003", "pull_request"),
        # "PAY-1001 fix button" pushed straight to main
        ("PAY-1001", datetime(2026, 2, 10, 12, 20), "gh:5004", "commit"),
        # named only by the lower-case branch pay-110-velocity; the staging deployment 5010 (02-07) ships nothing
        ("PAY-110", datetime(2026, 2, 10, 12, 20), "gh:5004", "pull_request"),
        # and no PAY-111 from "Prepare PAY-1110 rollout", no PAY-10 / PAY-100 from PAY-1001 / PAY-1000 text
    ]


def test_epics_effort_by_flow_item_type(warehouse):
    epics = rows_by(warehouse, "epics", "epic_key")
    assert sorted(epics) == ["MKT-5", "PAY-10", "PAY-11"]
    wallets = epics["PAY-10"]
    # items: PAY-100, PAY-101 (Epic Link field), PAY-1001 (sub-task of PAY-101), PAY-102 (canceled)
    assert (wallets["items"], wallets["items_done"], wallets["items_canceled"]) == (4, 3, 1)
    # points: PAY-100's 5; PAY-102's 3 are canceled; flow time 72 + 24 + 12
    assert (wallets["story_points"], wallets["story_points_done"], wallets["flow_time_hours"]) == (5.0, 5.0, 108.0)
    # feature = PAY-100 (72 h), PAY-1001 (Sub-task, 12 h), PAY-102 (canceled); defect = PAY-101 (24 h)
    by_type = {t: (wallets[f"{t}_items"], wallets[f"{t}_story_points"], wallets[f"{t}_flow_time_hours"])
               for t in ("feature", "defect", "risk", "debt")}
    assert by_type == {"feature": (3, 5.0, 84.0), "defect": (1, 0.0, 24.0), "risk": (0, 0.0, 0.0),
                       "debt": (0, 0.0, 0.0)}
    fraud = epics["PAY-11"]
    # PAY-110 is risk by its label security (8 SP, 72 h), PAY-111 feature (2 SP, 48 h)
    assert (fraud["items"], fraud["items_done"], fraud["story_points"], fraud["flow_time_hours"]) == (2, 2, 10.0, 120.0)
    assert (fraud["risk_items"], fraud["risk_story_points"], fraud["risk_flow_time_hours"]) == (1, 8.0, 72.0)
    assert (fraud["feature_items"], fraud["feature_story_points"], fraud["feature_flow_time_hours"]) == (1, 2.0, 48.0)


def test_epics_milestones_and_time_to_market(warehouse):
    epics = rows_by(warehouse, "epics", "epic_key")
    wallets, fraud, marketing = epics["PAY-10"], epics["PAY-11"], epics["MKT-5"]
    assert (wallets["initiative_key"], wallets["team"], wallets["value_stream"]) == ("PAY-1", "Payments", "Money")
    assert fraud["initiative_key"] == "PAY-1"  # no parent: the issue link to the Initiative PAY-1
    # PAY-10: the epic itself went In Progress 02-02 09:00 (before PAY-100 at 12:00); it is not done
    assert (wallets["created_at"], wallets["first_started_at"], wallets["completed_at"]) == (
        datetime(2026, 1, 12, 9), datetime(2026, 2, 2, 9), None)
    assert (wallets["first_shipped_at"], wallets["first_shipped_deployment_id"],
            wallets["first_shipped_deployment_key"], wallets["shipped_month"]) == (
        datetime(2026, 2, 6, 10, 30), "5003", "gh:5003", date(2026, 2, 1))
    # 01-12 09:00 -> 02-06 10:30 = 25 d 1.5 h = 601.5 h; 02-02 09:00 -> 02-06 10:30 = 4 d 1.5 h = 97.5 h
    assert (wallets["time_to_market_hours"], wallets["started_to_shipped_hours"]) == (601.5, 97.5)
    # PAY-11: done 02-20 09:00; ships with PAY-110 at 5004 02-10 12:20:
    # 01-19 09:00 -> 02-10 12:20 = 22 d 3 h 20 min = 531.33 h; 02-03 09:00 -> 02-10 12:20 = 7 d 3 h 20 min = 171.33 h
    assert fraud["completed_at"] == datetime(2026, 2, 20, 9)
    assert (fraud["time_to_market_hours"], fraud["started_to_shipped_hours"]) == pytest.approx(
        (22 * 24 + 3 + 1 / 3, 7 * 24 + 3 + 1 / 3))
    # MKT-5 is not loaded: team from its items (Web), complete when WEB-2 is done and WEB-3 canceled
    assert (marketing["is_epic_loaded"], marketing["created_at"], marketing["team"], marketing["value_stream"]) == (
        False, None, "Web", "Online")
    assert (marketing["items"], marketing["items_done"], marketing["completed_at"]) == (
        2, 1, datetime(2026, 2, 18, 9))
    assert (marketing["first_shipped_at"], marketing["time_to_market_hours"]) == (None, None)


def test_initiatives_roll_up_their_epics(warehouse):
    initiatives = rows_by(warehouse, "initiatives", "initiative_key")
    assert list(initiatives) == ["PAY-1"]
    grow = initiatives["PAY-1"]
    assert (grow["epics"], grow["epics_completed"], grow["epics_shipped"]) == (2, 1, 2)
    # PAY-10 + PAY-11: 4 + 2 items, 3 + 2 done, 5 + 10 points, 108 + 120 h
    assert (grow["items"], grow["items_done"], grow["items_canceled"], grow["story_points"],
            grow["flow_time_hours"]) == (6, 5, 1, 15.0, 228.0)
    assert (grow["feature_items"], grow["feature_story_points"], grow["feature_flow_time_hours"]) == (4, 7.0, 132.0)
    assert (grow["team"], grow["value_stream"], grow["completed_at"]) == ("Payments", "Money", None)
    # created 01-05 09:00; first started with PAY-10 (02-02 09:00); first shipped with PAY-10 (02-06 10:30)
    # 32 d 1.5 h = 769.5 h; 97.5 h
    assert (grow["first_started_at"], grow["first_shipped_at"], grow["first_shipped_deployment_key"]) == (
        datetime(2026, 2, 2, 9), datetime(2026, 2, 6, 10, 30), "gh:5003")
    assert (grow["time_to_market_hours"], grow["started_to_shipped_hours"]) == (769.5, 97.5)


# outcome_links -----------------------------------------------------------------------------------------

def test_outcome_links_every_link_kind(warehouse):
    links = {(r[0], r[1]): r[2:] for r in query(warehouse, """
        SELECT work_key, key_result_id, work_level, link_kinds, objective_id, kpi, kpi_value_stream, kpi_product
        FROM marts.outcome_links""")}
    assert links == {
        ("PAY-10", "KR1"): ("epic", "epic", "O1", "wallet_share", "Money", None),
        # PAY-111 is named by key (KR1) and carries the field value (KR2, case-insensitive); PAY-110 the label
        ("PAY-11", "KR1"): ("epic", "issue", "O1", "wallet_share", "Money", None),
        ("PAY-11", "KR2"): ("epic", "field, label", "O2", "fraud_loss", None, None),
        ("PAY-1", "KR1"): ("initiative", "epic, issue", "O1", "wallet_share", "Money", None),
        ("PAY-1", "KR2"): ("initiative", "field, label", "O2", "fraud_loss", None, None),
        # WEB-1 (label) has no epic: it counts in okr_progress, but no epic or initiative aims at KR3 through it
        ("MKT-5", "KR3"): ("epic", "issue", "O1", None, None, None),
    }


def test_outcome_links_kpi_before_and_after_first_shipment(warehouse):
    rows = rows_by(warehouse, "outcome_links", "work_key", "key_result_id")
    window = ("kpi_before", "kpi_after", "points_before", "points_after", "kpi_change", "kpi_change_relative",
              "is_window_complete", "others_shipped_in_windows")
    measured = {key: tuple(row[c] for c in window) for key, row in rows.items()}
    # PAY-10 shipped 02-06: before [01-09, 02-06) = 20, 21, 20, 21 -> 20.5; after [02-06, 03-06) = 24..27 -> 25.5;
    # observations reach 01-09 and 03-06 >= 03-05 (the after window's last day): complete. PAY-11 aims at the
    # same KPI and shipped 02-10, inside PAY-10's windows.
    assert measured[("PAY-10", "KR1")] == pytest.approx((20.5, 25.5, 4, 4, 5.0, 5 / 20.5, True, 1))
    # PAY-11 shipped 02-10: before [01-13, 02-10) = 21, 20, 21, 24 -> 21.5; after [02-10, 03-10) = 25..28 -> 26.5;
    # the after window ends 03-09, after the last observation (03-06): incomplete
    assert measured[("PAY-11", "KR1")] == pytest.approx((21.5, 26.5, 4, 4, 5.0, 5 / 21.5, False, 1))
    # fraud_loss: before [01-13, 02-10) = 1.0, 0.9 -> 0.95; after = 0.7, 0.6 -> 0.65; starts 01-20 > 01-13
    assert measured[("PAY-11", "KR2")] == pytest.approx((0.95, 0.65, 2, 2, -0.3, -0.3 / 0.95, False, 0))
    # the initiative shipped with PAY-10 (02-06): the same windows; no other initiative aims at the KPI
    assert measured[("PAY-1", "KR1")] == pytest.approx((20.5, 25.5, 4, 4, 5.0, 5 / 20.5, True, 0))
    assert measured[("MKT-5", "KR3")] == (None, None, 0, 0, None, None, False, 0)
    pay10 = rows[("PAY-10", "KR1")]
    assert (pay10["window_days"], pay10["before_window_start"], pay10["after_window_end"]) == (
        28, date(2026, 1, 9), date(2026, 3, 5))
    assert {key: row["caveat"] for key, row in rows.items()} == {
        ("PAY-10", "KR1"): "correlation, not proof; 1 other epic(s) aimed at this KPI shipped in the windows",
        ("PAY-11", "KR1"): "correlation, not proof; window incomplete; "
                           "1 other epic(s) aimed at this KPI shipped in the windows",
        ("PAY-11", "KR2"): "correlation, not proof; window incomplete",
        ("PAY-1", "KR1"): "correlation, not proof",
        ("PAY-1", "KR2"): "correlation, not proof; window incomplete",
        ("MKT-5", "KR3"): "correlation, not proof; no KPI measures this key result",
    }


# okr_progress ------------------------------------------------------------------------------------------

def test_okr_progress_actual_attainment_and_work_delivered(warehouse):
    rows = query(warehouse, """
        SELECT key_result_id, week_start, actual, actual_source, attainment, expected_attainment,
               items_done_towards, story_points_done_towards, epics_shipped_towards
        FROM marts.okr_progress ORDER BY key_result_id, week_start""")
    w1, w2, w3, w4 = date(2026, 2, 2), date(2026, 2, 9), date(2026, 2, 16), date(2026, 2, 23)
    expected = [
        # KR1, 02-02 .. 03-01 (27 days), no check-ins: the wallet_share series (Money) as of each Sunday.
        # Linked items: PAY-100 (done 02-05, 5 SP), PAY-101 (02-10), PAY-1001 (02-09), PAY-111 (02-12, 2 SP);
        # epics PAY-10 (shipped 02-06), PAY-11 (via PAY-111, 02-10)
        ("KR1", w1, 24.0, "kpi", 0.4, 6 / 27, 1, 5.0, 1),
        ("KR1", w2, 25.0, "kpi", 0.5, 13 / 27, 4, 7.0, 2),
        ("KR1", w3, 26.0, "kpi", 0.6, 20 / 27, 4, 7.0, 2),
        ("KR1", w4, 27.0, "kpi", 0.7, 1.0, 4, 7.0, 2),
        # KR2 falls 1.0 -> 0.5: (0.9 - 1.0) / (0.5 - 1.0) = 0.2, (0.7 - 1.0) / -0.5 = 0.6;
        # PAY-110 (done 02-06, 8 SP), PAY-111 (02-12, 2 SP); PAY-11 shipped 02-10
        ("KR2", w1, 0.9, "kpi", 0.2, 6 / 27, 1, 8.0, 0),
        ("KR2", w2, 0.9, "kpi", 0.2, 13 / 27, 2, 10.0, 1),
        ("KR2", w3, 0.7, "kpi", 0.6, 20 / 27, 2, 10.0, 1),
        ("KR2", w4, 0.7, "kpi", 0.6, 1.0, 2, 10.0, 1),
        # KR3: no start (weeks from its first check-in 02-04 to its due date 02-22, no expected line);
        # check-ins 3.2, 3.5, 3.9 of 3 -> 4; WEB-1 (label, done 02-04, 1 SP), WEB-2 (key, done 02-18, 2 SP)
        ("KR3", w1, 3.2, "check_in", 0.2, None, 1, 1.0, 0),
        ("KR3", w2, 3.5, "check_in", 0.5, None, 1, 1.0, 0),
        ("KR3", w3, 3.9, "check_in", 0.9, None, 2, 3.0, 0),
    ]
    assert [r[:2] for r in rows] == [e[:2] for e in expected]
    for row, want in zip(rows, expected):
        assert row[2:] == pytest.approx(want[2:]), row[:2]


# investment_distribution -------------------------------------------------------------------------------

def test_investment_distribution_shares_of_the_month(warehouse):
    rows = query(warehouse, """
        SELECT value_stream, flow_item_type, objective_id, completed_items, completed_story_points,
               flow_time_hours, share_of_items, share_of_flow_time
        FROM marts.investment_distribution WHERE month_start = DATE '2026-02-01'
        ORDER BY value_stream, flow_item_type, objective_id""")
    # February: 8 items done (epics are containers, not counted), 72+24+12+72+48+24+48+48 = 348 h of flow time.
    # PAY-111 works towards O1 (KR1) and O2 (KR2): half of it counts to each.
    expected = [
        ("Money", "defect", "O1", 1.0, 0.0, 24.0, 1 / 8, 24 / 348),       # PAY-101
        ("Money", "defect", "unlinked", 1.0, 0.0, 24.0, 1 / 8, 24 / 348),  # PAY-200
        # PAY-100 + PAY-1001 + half of PAY-111: 2.5 items, 5 + 1 SP, 72 + 12 + 24 h
        ("Money", "feature", "O1", 2.5, 6.0, 108.0, 2.5 / 8, 108 / 348),
        ("Money", "feature", "O2", 0.5, 1.0, 24.0, 0.5 / 8, 24 / 348),    # the other half of PAY-111
        ("Money", "risk", "O2", 1.0, 8.0, 72.0, 1 / 8, 72 / 348),         # PAY-110
        ("Online", "feature", "O1", 2.0, 3.0, 96.0, 2 / 8, 96 / 348),     # WEB-1 + WEB-2 (KR3)
    ]
    assert [r[:3] for r in rows] == [e[:3] for e in expected]
    for row, want in zip(rows, expected):
        assert row[3:] == pytest.approx(want[3:]), row[:3]
    assert query(warehouse, "SELECT DISTINCT month_start FROM marts.investment_distribution") == [(date(2026, 2, 1),)]


def test_open_containers_are_forecast_to_their_due_date_or_first_release(warehouse):
    """The open epic PAY-10 is due 03-31; the open initiative PAY-1 has no due date, and its fix versions are
    released 05-20 and 04-15: the earlier. Done epic PAY-11 is no subject."""
    rows = query(warehouse, "SELECT subject_id, strftime(target_date, '%m-%d'), target_kind "
                            "FROM intermediate.int_forecast_subjects WHERE subject_type IN ('epic', 'initiative') "
                            "ORDER BY 1")
    assert rows == [("epic:jira:PAY-10", "03-31", "due_date"),
                    ("initiative:jira:PAY-1", "04-15", "fix_version_release")]


def test_rebuild_changes_nothing(warehouse, tmp_path):
    """Idempotence: the marts over the same raw data are the same after a second build."""
    before = {mart: sorted(query(warehouse, f"SELECT * FROM marts.{mart}"), key=repr) for mart in MARTS}
    copy = tmp_path / "again.duckdb"
    shutil.copy(warehouse, copy)
    dbt(["run", "--select", *OUR_FOLDERS], warehouse.parent / "dbt_project", copy, tmp_path)
    assert {mart: sorted(query(copy, f"SELECT * FROM marts.{mart}"), key=repr) for mart in MARTS} == before
