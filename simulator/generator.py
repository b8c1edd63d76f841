"""A deterministic synthetic organisation: three teams, their Jira projects and GitHub repositories.

``generate_org(seed, scale, as_of)`` builds the same Org for the same arguments on every machine and every day:
history covers the 26 weeks before the anchor, midnight UTC starting the as-of day (``Window``): by default the
fixed 2026-10-31T00:00Z that tests and benchmarks count on; the demo passes today. scale=1 is
demo-sized (500 issues, about 120 pull requests, 70 deployments, 400 workflow runs); the issue count grows linearly
(scale=2000 is about a million issues), and pull requests, deployments and runs grow with it.

Teams (value streams), their Jira project and repository:
  PAY  Payments  acme/payments-api    To Do -> In Progress -> Ready for Review -> In Review -> Ready for QA
                                      -> In QA -> Ready to Deploy -> Done (QA for 70%); releases per deploy
  CHK  Checkout  acme/checkout-web    the same without QA; the most deployments and the most failures
  PLAT Platform  acme/platform-infra  Backlog -> In Progress -> Ready to Deploy -> Done, reviewed (Ready for
                                      Review -> In Review) for a third of items
plus acme/payments-api-worker, the Payments service's second repository (a few PRs and deployments), and
acme/legacy-billing: archived, three old commits, nothing else.

What the history contains, so that every metric has something to find:
  * Epics (4%) spanning weeks, with children (``parent``); Stories, Bugs, Tasks; some still open at the
    anchor (in every status), some never started.
  * Queues: the "Ready ..." statuses, where finished work waits for review, QA or the release; done items
    spend about a third of their flow time active.
  * Back-and-forth: review -> In Progress rework, QA rejections, Blocked stints (most of them flagged as an
    impediment, Jira's "Flagged" field, raised and cleared with the status), Done -> In Progress
    reopenings, cancellations to "Won't Do" (category done, resolution "Won't Do").
  * Dependencies: "Blocks" issue links (``issuelinks`` on both ends, as Jira shows them) from an item to one
    created shortly before it, of the same team or of the team it depends on.
  * Changelogs that are more than status changes: assignee, story points, labels, rank edits, histories
    with several items; and about 1 issue in 150 with 95-160 histories, so that embedded changelogs are
    truncated and must be paged.
  * Sprint membership as Jira writes it ("Sprint" items, customfield_10020): committed at planning just
    before the sprint starts or added mid-sprint, open items carried over when their sprint completes.
  * Pull requests whose title/body/branch carry the Jira key, opened when the item enters the review queue
    and merged when it is Ready to Deploy, with
    commits, CHANGES_REQUESTED/APPROVED reviews; drafts and open PRs for work in progress; closed-unmerged
    PRs for cancelled work; dependabot PRs with no key.
  * Merges deploy in batches: staging, then production hours later. Production deployments fail at a
    team-specific rate (failure or error); each failure opens an ``incident``-labelled GitHub issue and is
    restored either by a rollback deployment of the last good sha or by a hotfix PR deployed straight to
    production; PagerDuty and Opsgenie (pagerduty_api.py, opsgenie_api.py) serve the same incidents for the
    repository's service. As on GitHub, a new successful deployment to an environment adds an ``inactive`` status
    to the previous successful one, so "latest status" is not "outcome".
  * Situations that break naive metrics (issue 18): rollbacks after failed deployments followed by the
    fix-forward; a rollback on checkout-web followed by a roll-forward (the rolled-back sha redeployed);
    every repository's first production deployment ships merged PRs; about one merged PR in ten gets a
    review comment a day after its merge (two worker PRs get their first one then); the worker's first
    production deployment keeps receiving `success` statuses weekly for five weeks; a failed worker
    deployment is followed by a payments-api deployment of the same service; incident titles name the
    failed deployment's short sha ("errors after deploy 22323ae").
  * Actions runs: CI on every PR push and main commit (some failures, some re-run attempts whose
    ``run_started_at`` is later than ``created_at``), a Deploy run per deployment; runs still going at the
    anchor are ``in_progress`` with no conclusion.
  * Ids of pull requests, deployments, deployment statuses, runs and issues increase with creation time
    across repositories, as GitHub's do.

Initiatives and outcomes, so that realization metrics have something to find:
  * Two Initiatives per project (its first keys, e.g. PAY-1, PAY-2), ``parent`` of three quarters of its epics.
  * Planted deviations (constants below, described in ``org.planted``): a review bottleneck (Payments items
    wait three more working days In Review for four weeks), a WIP surge (Checkout starts everything and
    each item needs far more effort for four weeks) and a change-fail-rate spike (acme/platform-infra
    deploys every merge and 70% of its deployments fail for three weeks, each failure rolled back and
    retried).
  * KPI series, OKRs and team surveys (simulator/outcomes.py): a KPI of each value stream steps
    after one named epic first ships; ``org.planted`` says which, when, and by how much.

Human work happens on a working-time clock (Mon-Fri 08:00-18:00 UTC), so flow times include nights and
weekends the way real ones do; automated steps (a deployment finishing) run on wall-clock time.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from .cut import cut_org
from .github_api import build_repo_indexes
from .model import (
    SPRINT_FIELD,
    STORY_POINTS_FIELD,
    Org,
    RepoStore,
    github_job_dict,
    resolution_item,
    sha_of,
)
from .scenarios import WORKFLOW_STATUSES
from .outcomes import build_outcomes
from .timefmt import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, github_ts, jira_ts, ms_to_dt, parse_ms

# The as-of day tests and benchmarks use (`generate_org(as_of=None)`): their hand-worked values depend on it.
DEFAULT_AS_OF = date(2026, 10, 31)
ANCHOR_MS = parse_ms("2026-10-31T00:00:00Z")
WEEKS = 26
START_MS = ANCHOR_MS - WEEKS * 7 * MS_PER_DAY  # 2026-05-02, a Saturday
WORK_DAY = 10 * MS_PER_HOUR


# A demo world's horizon is the first day of this cycle on or after its first night (DEFAULT_AS_OF is one):
# up to eight weeks of nights share one world, and each starts with 18 to 26 weeks of history.
HORIZON_DAYS = 56


def horizon_for(as_of: date) -> date:
    """The horizon of the demo world a first night on ``as_of`` starts (generate_org's ``horizon``)."""
    cycles = -(-(as_of - DEFAULT_AS_OF).days // HORIZON_DAYS)
    return DEFAULT_AS_OF + timedelta(days=cycles * HORIZON_DAYS)


class Window:
    """The 26 weeks of history before the as-of day: they end at ``anchor_ms``, the midnight (UTC) that starts
    that day, so the history holds every day before it and nothing of it. Working time (Mon-Fri 08:00-18:00)
    counts from ``monday0``, 08:00 of the first Monday in the window; ``work_end`` is the working time at the
    anchor, so work cut at it never happens after the anchor."""

    __slots__ = ("anchor_ms", "start_ms", "monday0", "work_end")

    def __init__(self, as_of: date | None = None):
        day = as_of or DEFAULT_AS_OF
        self.anchor_ms = parse_ms(f"{day.isoformat()}T00:00:00Z")
        self.start_ms = self.anchor_ms - WEEKS * 7 * MS_PER_DAY
        start_day = day - timedelta(weeks=WEEKS)
        self.monday0 = self.start_ms + (-start_day.weekday() % 7) * MS_PER_DAY + 8 * MS_PER_HOUR
        weeks, days = divmod((self.anchor_ms - (self.monday0 - 8 * MS_PER_HOUR)) // MS_PER_DAY, 7)
        self.work_end = (weeks * 5 + min(days, 5)) * WORK_DAY

    def wall(self, work_ms: float) -> int:
        """Working time since the first Monday 08:00 -> wall-clock epoch ms (monotonic, skips nights/weekends)."""
        days, rest = divmod(int(work_ms), WORK_DAY)
        weeks, day = divmod(days, 5)
        return self.monday0 + (weeks * 7 + day) * MS_PER_DAY + rest

    def week_start(self, week: int) -> str:
        """The date of the Monday ``week`` weeks after the first one."""
        return ms_to_dt(self.monday0 + week * 7 * MS_PER_DAY).date().isoformat()

    def sprint_index(self, ms: int) -> int:
        """Which two-week sprint (from the first Monday 09:00, see _add_sprints) an item is in at ``ms``: the
        first one not completed by then (completion is 12 days and an hour after the start), so the weekend
        between two sprints belongs to the next one, where Jira has moved the open items."""
        completed = self.sprint_completed(0)
        return 0 if ms < completed else (ms - completed) // (14 * MS_PER_DAY) + 1

    def sprint_start(self, k: int) -> int:
        """When sprint ``k`` (from 0) starts: Monday 09:00, every two weeks (see _add_sprints)."""
        return self.monday0 + MS_PER_HOUR + k * 14 * MS_PER_DAY

    def sprint_completed(self, k: int) -> int:
        """When a closed sprint ``k`` was completed: an hour after its end, Saturday 10:00 (see _add_sprints)."""
        return self.sprint_start(k) + 12 * MS_PER_DAY + MS_PER_HOUR


@dataclass(frozen=True)
class Team:
    key: str
    name: str
    project_id: int
    repo: str
    base_issues: int
    language: str
    initial_status: str
    review_share: float  # share of items that go through In Review
    pr_share: dict[str, float]  # per issue type: share of started items with a pull request
    deploy_batch: float  # chance that a merge triggers a deployment
    failure_rate: float  # production deployments ending in failure or error
    releases: bool
    staging: bool  # deploys go to staging first
    people: tuple[str, ...]
    labels: tuple[str, ...]
    components: tuple[str, ...]
    things: tuple[str, ...]
    areas: tuple[str, ...]


TEAMS = (
    Team("PAY", "Payments", 10000, "acme/payments-api", 170, "Go", "To Do", 0.9,
         {"Story": 0.25, "Bug": 0.3, "Task": 0.15}, 0.25, 0.12, True, True,
         ("Ana Silva", "Bruno Costa", "Chen Wei", "Dara Okafor", "Emil Novak", "Fatima Zahra"),
         ("backend", "pci", "tech-debt", "customer-reported"), ("Ledger", "Refunds", "Card gateway"),
         ("refund", "payout", "ledger entry", "card token", "3DS challenge", "invoice", "chargeback"),
         ("the ledger", "refunds", "payouts", "the card gateway", "reconciliation")),
    Team("CHK", "Checkout", 10001, "acme/checkout-web", 190, "TypeScript", "To Do", 0.85,
         {"Story": 0.25, "Bug": 0.3, "Task": 0.15}, 0.3, 0.18, True, True,
         ("Gus Lindqvist", "Hana Sato", "Ines Duarte", "Jon Meyer", "Kemi Adeyemi", "Lior Ben-David"),
         ("frontend", "a11y", "experiment", "customer-reported"), ("Cart", "Payment page", "Address form"),
         ("cart", "promo code", "address form", "tax line", "shipping option", "order summary", "wallet button"),
         ("the cart", "checkout", "the order page", "mobile web", "guest checkout")),
    Team("PLAT", "Platform", 10002, "acme/platform-infra", 140, "HCL", "Backlog", 0.3,
         {"Story": 0.2, "Bug": 0.3, "Task": 0.2}, 0.3, 0.08, False, False,
         ("Mara Rossi", "Nils Berg", "Omar Haddad", "Priya Nair", "Quinn Walsh", "Rosa Jimenez"),
         ("infra", "security", "cost", "on-call"), ("Kubernetes", "CI", "Observability"),
         ("node pool", "alert rule", "runner image", "TLS certificate", "database replica", "dashboard"),
         ("the cluster", "CI", "staging", "the VPN", "the log pipeline")),
)
ARCHIVED_REPO = "acme/legacy-billing"
# A second repository of the Payments service (see _GitHubBuilder._plan_worker).
WORKER_REPO = "acme/payments-api-worker"
# Situations real histories hold, each on its own random stream (issue 18).
POST_MERGE_COMMENT_SHARE = 0.1  # merged PRs a reviewer comments on a day after the merge
ROLL_FORWARD_TEAM = "CHK"  # the team whose history holds a rollback followed by a roll-forward
_TYPE_WEIGHTS = (("Story", 0.5), ("Bug", 0.25), ("Task", 0.21))  # the remaining 4% are epics
_EPIC_SHARE = 0.04
_PRIORITIES = (("Medium", 0.55), ("High", 0.2), ("Low", 0.15), ("Highest", 0.05), ("Lowest", 0.05))
_POINTS = (1, 2, 3, 5, 8, 13)
_DEPS = ("requests", "lodash", "golang.org/x/net", "axios", "terraform-provider-aws", "pytest", "react-dom")
# Initiatives: the first issues of each project (before any other work), parents of most of its epics.
INITIATIVES = {
    "PAY": ("Cut failed payments in half", "Launch payouts in Brazil"),
    "CHK": ("One-page checkout", "Accessible checkout"),
    "PLAT": ("Self-service environments", "Halve cloud cost per order"),
}
_EPIC_IN_INITIATIVE = 0.75


@dataclass(frozen=True)
class Plant:
    """A deviation planted on purpose, in whole weeks counted from the first Monday (2026-05-04 by default)."""

    team: str  # project key
    first_week: int
    weeks: int

    @property
    def start_work(self) -> float:
        return self.first_week * 5 * WORK_DAY

    @property
    def end_work(self) -> float:
        return (self.first_week + self.weeks) * 5 * WORK_DAY

    def covers(self, work_ms: float) -> bool:
        """Whether a moment in working time falls in the planted weeks."""
        return self.start_work <= work_ms < self.end_work

    def covers_wall(self, ms: int, window: Window) -> bool:
        start = window.monday0 - 8 * MS_PER_HOUR + self.first_week * 7 * MS_PER_DAY
        return start <= ms < start + self.weeks * 7 * MS_PER_DAY


# A bottleneck in review: Payments items entering Ready for Review in these weeks wait this much longer there
# before a reviewer picks them up.
REVIEW_BOTTLENECK = Plant("PAY", 8, 4)
REVIEW_EXTRA_WAIT = 5 * WORK_DAY
# A WIP surge: in these weeks Checkout starts its waiting backlog and every new item at once, and what it
# starts needs this many times the usual effort, so work in progress piles up (and drains for weeks after).
WIP_SURGE = Plant("CHK", 14, 4)
WIP_EFFORT_FACTOR = 8.0
WIP_SURGE_WAIT_FACTOR = 0.1
# A change-fail-rate spike: in these weeks every Platform merge deploys, this share of the deployments fails,
# and each failure is rolled back and its change deployed again a few hours later.
CFR_SPIKE = Plant("PLAT", 19, 3)
CFR_SPIKE_FAILURE_RATE = 0.7

# Queues: statuses where finished work waits for the next hand-off (review, QA, the release), in the workflow
#   In Progress -> Ready for Review -> In Review -> [Ready for QA -> In QA] -> Ready to Deploy -> Done
# (QA for the teams with `QA_SHARE`). The waits are drawn from their own stream (`{seed}:queues:{team}`), so
# every other draw is what it was before queues existed; their medians (working days) put the share of flow
# time spent active in the band real teams report (about 15-40%; tests/simulator/test_generator.py).
QUEUE_STATUSES = (
    ("Ready for Review", "indeterminate", 10006),
    ("Ready for QA", "indeterminate", 10007),
    ("In QA", "indeterminate", 10008),
    ("Ready to Deploy", "indeterminate", 10009),
)
QUEUE_MEDIAN_DAYS = {"Ready for Review": 2.0, "Ready for QA": 2.0, "Ready to Deploy": 3.0}  # a weekly release train
# Checkout deploys most often, so its work waits least for a release.
TEAM_QUEUE_MEDIAN_DAYS = {"CHK": {"Ready to Deploy": 0.5}}
QA_MEDIAN_DAYS = 0.3  # active testing in In QA
QA_SHARE = {"PAY": 0.7}  # per team: share of reviewed items that then go through QA
QA_REJECT = 0.1  # In QA -> In Progress: the tester sends it back
# Impediment flags: who moves an item to Blocked often flags it too (Jira's "Flagged" field, changed in the same
# history) and clears the flag when work resumes. Drawn from `{seed}:flags:{team}`.
FLAG_SHARE = 0.6
FLAG_RAISED = {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021", "from": None,
               "fromString": None, "to": "[10019]", "toString": "Impediment"}
FLAG_CLEARED = {"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021", "from": "[10019]",
                "fromString": "Impediment", "to": None, "toString": ""}
# Dependencies: this share of items is blocked by another item created up to BLOCKER_WINDOW_DAYS working days
# before it ("Blocks" issue links), of the same team mostly, else of the team they depend on. Drawn from
# `{seed}:links`, after every issue exists, so every other draw is what it was before links existed.
BLOCKED_SHARE = 0.05
SAME_TEAM_BLOCKER = 0.7
BLOCKER_TEAM = {"PAY": "PLAT", "CHK": "PAY", "PLAT": "PAY"}
BLOCKER_WINDOW_DAYS = 15


def generate_org(seed: int = 7, scale: int = 1, as_of: date | None = None, horizon: date | None = None) -> Org:
    """The organisation of ``seed`` at ``scale`` whose 26-week history ends the day before ``as_of`` (None:
    DEFAULT_AS_OF, 2026-10-31, the day tests and benchmarks count on). The same arguments give the same Org.

    With a ``horizon`` after ``as_of``: the world whose history ends the day before ``horizon``, as it stood
    when ``as_of`` began (simulator/cut.py). Nights with the same horizon serve one world, each a day further
    into it: what the demo's nightly runs need (``horizon_for``)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    as_of = as_of or DEFAULT_AS_OF
    if horizon is not None and horizon < as_of:
        raise ValueError(f"the horizon {horizon} is before the as-of day {as_of}")
    # Millions of new container objects would trigger cyclic GC passes that rescan everything built so far;
    # nothing built here is cyclic garbage, so the collector only costs time until we are done. At the end
    # gc.freeze() moves what is alive into the permanent generation, so that later full collections (while
    # serving) do not rescan the Org either: at scale 100 one full pass over it takes about a second. The
    # Org is acyclic, so reference counting still frees it when it is dropped.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        org = _generate(seed, scale, Window(horizon or as_of))
        if horizon is not None and horizon > as_of:
            cut_org(org, parse_ms(f"{as_of.isoformat()}T00:00:00Z"))
            org.horizon_org = _generate(seed, scale, Window(horizon))
        org.build_indexes()
        build_repo_indexes(org)
        return org
    finally:
        gc.freeze()
        if gc_was_enabled:
            gc.enable()


def _generate(seed: int, scale: int, window: Window) -> Org:
    org = Org()
    # The history's span, for the worlds built beside the Jira/GitHub one (linear_api.py's Mobile team).
    org.history_window_ms = (window.start_ms, window.anchor_ms)
    # PLAT's workflow starts in Backlog rather than To Do: the status mapping must handle two workflows. The
    # queue statuses (QUEUE_STATUSES) are where items wait between hand-offs, as on real boards.
    for name, category, ident in (*WORKFLOW_STATUSES, ("Backlog", "new", 10005), *QUEUE_STATUSES):
        org.jira_add_status(name, category, ident)
    sprints = {}
    for team in TEAMS:
        org.jira_add_project(team.key, team.name, team.project_id)
        sprints[team.key] = _add_sprints(org, team, window)
    jira_people = {t.key: [org.jira_add_user(p, email=f"{_login(p)}@acme.example") for p in t.people] for t in TEAMS}

    jira = _JiraBuilder(org, seed, scale, sprints, jira_people, window)
    work = jira.build()
    github = _GitHubBuilder(org, seed, scale, work, window)
    github.build()
    org.invalidate()
    org.planted.update(_planted_facts(jira, github, window))
    build_outcomes(org, seed, first_day=ms_to_dt(window.start_ms).date(),
                   last_day=ms_to_dt(window.anchor_ms - MS_PER_DAY).date())
    return org


def _planted_facts(jira: _JiraBuilder, github: _GitHubBuilder, window: Window) -> dict:
    """What was planted, as plain data (org.planted): the tests and simulator/outcomes.py read it."""
    names = {t.key: t for t in TEAMS}

    def weeks(plant: Plant) -> dict:
        return {"team": names[plant.team].name, "project": plant.team,
                "first_week": window.week_start(plant.first_week), "weeks": plant.weeks, "end_week": window.week_start(plant.first_week + plant.weeks)}

    shipped = {}
    for epic, children in sorted(jira.children.items()):
        firsts = [github.first_shipped[c] for c in children if c in github.first_shipped]
        if firsts:
            attempt = min(firsts, key=lambda f: f["attempt_at"])
            success = min((f for f in firsts if f["shipped_at"] is not None), key=lambda f: f["shipped_at"],
                          default=None)
            shipped[epic] = {
                "attempt_at": github_ts(attempt["attempt_at"]), "attempt_deployment_id": attempt["attempt"].id,
                "shipped_at": github_ts(success["shipped_at"]) if success else None,
                "deployment_id": success["deployment"].id if success else None,
                "repo": attempt["attempt"].repo,
            }
    return {
        "review_bottleneck": {**weeks(REVIEW_BOTTLENECK), "status": "Ready for Review",
                              "extra_wait_working_hours": REVIEW_EXTRA_WAIT / MS_PER_HOUR},
        "wip_surge": {**weeks(WIP_SURGE), "effort_factor": WIP_EFFORT_FACTOR},
        "cfr_spike": {**weeks(CFR_SPIKE), "service": names[CFR_SPIKE.team].repo,
                      "failure_rate": CFR_SPIKE_FAILURE_RATE, "usual_failure_rate": names[CFR_SPIKE.team].failure_rate},
        # initiative key -> its epics; epic key -> its child items (those with a parent)
        "initiatives": {k: sorted(v, key=_key_order) for k, v in sorted(jira.initiative_epics.items())},
        "epic_items": {k: sorted(v, key=_key_order) for k, v in sorted(jira.children.items())},
        # epic key -> the first production deployment carrying any of its items' pull requests (`attempt`,
        # whatever its outcome) and the first successful one (`shipped`): ids are GitHub deployment ids
        "epics_shipped": shipped,
        "epic_created": dict(sorted(jira.epic_created.items())),
    }


def _key_order(key: str) -> tuple[str, int]:
    project, number = key.rsplit("-", 1)
    return project, int(number)


def _login(person: str) -> str:
    return person.lower().replace(" ", "-")


def _add_sprints(org: Org, team: Team, window: Window) -> list[dict]:
    """Two-week sprints from the first Monday; the one spanning the anchor is active, one future one."""
    board = next(b for b in org.jira_boards if b["location"]["projectKey"] == team.key)
    out = []
    start = window.monday0 + MS_PER_HOUR  # Monday 09:00
    k = 1
    while True:
        end = start + 14 * MS_PER_DAY - 2 * MS_PER_DAY  # ends Friday evening of the second week
        if start > window.anchor_ms:
            state = "future"
        elif end < window.anchor_ms:
            state = "closed"
        else:
            state = "active"
        sprint = org.jira_add_sprint(board["id"], f"{team.key} Sprint {k}", start, end, state,
                                     complete=end + MS_PER_HOUR if state == "closed" else None,
                                     goal=f"Sprint {k} of {team.name}")
        out.append(sprint)
        if state == "future":
            return out
        start += 14 * MS_PER_DAY
        k += 1


# ---------------------------------------------------------------------- Jira


@dataclass
class IssueWork:
    """What GitHub needs to know about one Jira issue's life (all times wall-clock ms)."""

    team: Team
    key: str
    summary: str
    issue_type: str
    login: str
    moves: list[tuple[int, str]]  # (time, status entered)


class _JiraBuilder:
    def __init__(self, org: Org, seed: int, scale: int, sprints: dict[str, list[dict]],
                 people: dict[str, list[dict]], window: Window):
        self.org = org
        self.window = window
        self.seed = seed
        self.scale = scale
        self.sprints = sprints
        self.people = people
        self.history_id = org._counters["jira_history"]
        # Items that are the same in many histories are shared dicts (see model.py on sharing).
        done, wont = org._resolution("Done"), org._resolution("Won't Do")
        self.res_set = {"Done": resolution_item(None, done), "Won't Do": resolution_item(None, wont)}
        self.res_clear = {"Done": resolution_item(done, None), "Won't Do": resolution_item(wont, None)}
        self.points_items = {p: {"field": "Story point estimate", "fieldtype": "custom", "fieldId": STORY_POINTS_FIELD,
                                 "from": None, "fromString": None, "to": None, "toString": str(p)} for p in _POINTS}
        self.rank_item = {"field": "Rank", "fieldtype": "custom", "fieldId": "customfield_10019", "from": "",
                          "fromString": "", "to": "", "toString": "Ranked higher"}
        self.description_item = {"field": "description", "fieldtype": "jira", "fieldId": "description",
                                  "from": None, "fromString": "Draft.", "to": None,
                                  "toString": "Acceptance criteria updated after refinement."}
        self.label_items: dict[str, dict] = {}
        self.assign_items: dict[str, dict] = {}
        self.sprint_values = {k: [org.sprint_field_value(s) for s in v] for k, v in sprints.items()}
        self.sprint_lists: dict[tuple[str, int, int], list[dict]] = {}
        self.sprint_items: dict[tuple[str, int, int], dict] = {}
        self.category = {s["name"]: s["statusCategory"]["key"] for s in org.jira_statuses}
        self.children: dict[str, list[str]] = {}  # epic key -> keys of its child items
        self.initiative_epics: dict[str, list[str]] = {}  # initiative key -> keys of its epics
        self.epic_created: dict[str, str] = {}  # epic key -> created (GitHub-style UTC timestamp)
        self.linkable: dict[str, list[tuple[float, str]]] = {}  # project -> (created, key) of its work items

    def build(self) -> list[IssueWork]:
        teams = TEAMS
        created: dict[str, list[float]] = {}
        types: dict[str, list[str]] = {}
        for team in teams:
            rng = random.Random(f"{self.seed}:jira-plan:{team.key}")
            n = team.base_issues * self.scale
            step = self.window.work_end / n
            # Stratified arrival times: sorted by construction (no sort of a million floats), evenly spread
            # yet random within each stratum.
            created[team.key] = [(i + rng.random()) * step for i in range(n)]
            kinds = []
            for i in range(n):
                r = rng.random()
                if i == 0 or r < _EPIC_SHARE:
                    kinds.append("Epic")
                    continue
                r = rng.random()
                acc = 0.0
                for name, weight in _TYPE_WEIGHTS:
                    acc += weight / (1 - _EPIC_SHARE)
                    if r < acc:
                        kinds.append(name)
                        break
                else:
                    kinds.append("Task")
            # The team's initiatives come first, at the very start; appended after the draws above so that
            # every other issue's randomness is what it was before initiatives existed.
            initiatives = len(INITIATIVES[team.key])
            created[team.key] = [0.0] * initiatives + created[team.key]
            types[team.key] = ["Initiative"] * initiatives + kinds
        # Issue ids increase with creation time across projects, as Jira's do: merge the sorted arrivals.
        first_id = self.org._counters["jira_issue"] + 1
        ids: dict[str, list[int]] = {t.key: [0] * len(created[t.key]) for t in teams}
        def arrivals(team_key: str):
            return ((at, team_key, i) for i, at in enumerate(created[team_key]))

        for offset, (_at, key, i) in enumerate(heapq.merge(*(arrivals(t.key) for t in teams))):
            ids[key][i] = first_id + offset
        self.org.next_id("jira_issue", first_id + sum(len(v) for v in created.values()) - 1)

        work: list[IssueWork] = []
        for team in teams:
            work.extend(self._team(team, created[team.key], types[team.key], ids[team.key]))
        self.org.next_id("jira_history", self.history_id)
        self._link_blockers()
        return work

    def _link_blockers(self) -> None:
        rng = random.Random(f"{self.seed}:links")
        for team in TEAMS:
            for created, key in self.linkable[team.key]:
                if rng.random() >= BLOCKED_SHARE:
                    continue
                other = self.linkable[team.key if rng.random() < SAME_TEAM_BLOCKER else BLOCKER_TEAM[team.key]]
                lo = bisect.bisect_left(other, (created - BLOCKER_WINDOW_DAYS * WORK_DAY, ""))
                hi = bisect.bisect_left(other, (created, ""))
                if hi > lo:
                    self.org.jira_link_blocks(other[rng.randrange(lo, hi)][1], key)

    def _team(self, team: Team, created: list[float], types: list[str], ids: list[int]) -> list[IssueWork]:
        org = self.org
        rng = random.Random(f"{self.seed}:jira:{team.key}")
        gh_rng = random.Random(f"{self.seed}:pr-choice:{team.key}")
        people = self.people[team.key]
        project_stub = org.jira_project_stub(team.key)
        statuses = {s["name"]: s for s in org.jira_statuses}
        issue_types = {name: org._issue_type(name) for name in ("Initiative", "Epic", "Story", "Bug", "Task")}
        priorities = {name: org._priority(name) for name, _ in _PRIORITIES}
        components = {c: org._component(team.key, c) for c in team.components}
        site = org.jira_site
        active_epics: list[tuple[float, str]] = []  # (end, key) of epics children may still join
        out: list[IssueWork] = []
        # Initiatives and the epic -> initiative links draw from their own streams, so that adding them left
        # every other issue as it was.
        main_rng = rng
        initiative_rng = random.Random(f"{self.seed}:initiatives:{team.key}")
        queue_rng = random.Random(f"{self.seed}:queues:{team.key}")
        flag_rng = random.Random(f"{self.seed}:flags:{team.key}")
        linkable = self.linkable[team.key] = []
        initiatives: list[str] = []

        for i, (c_w, typ, ident) in enumerate(zip(created, types, ids)):
            key = f"{team.key}-{i + 1}"
            sid = str(ident)
            created_ms = self.window.wall(c_w)
            rng = initiative_rng if typ == "Initiative" else main_rng
            if typ == "Initiative":
                moves_w = [(c_w + rng.uniform(0.5, 2) * WORK_DAY, "In Progress")]
                summary = INITIATIVES[team.key][len(initiatives)]
                initiatives.append(key)
                self.initiative_epics[key] = []
            elif typ == "Epic":
                moves_w, epic_end = self._walk_epic(rng, c_w)
                active_epics.append((epic_end, key))
                theme = rng.choice(("revamp", "hardening", "v2", "migration"))
                summary = f"{rng.choice(team.areas).capitalize()} {theme}"
            else:
                moves_w = self._walk(rng, queue_rng, team, typ, c_w)
                summary = self._summary(rng, team, typ)
            moves = [(self.window.wall(t), s) for t, s in moves_w if t < self.window.work_end]
            reporter = people[rng.randrange(len(people))]
            assignee_user = people[rng.randrange(len(people))]
            histories: list[tuple[int, list[dict], dict]] = []  # (time, items, author)

            started = any(s == "In Progress" for _, s in moves)
            assignee = None
            if started:
                first_start = next(t for t, s in moves if s == "In Progress")
                assignee = assignee_user
                item = self._assign_item(assignee)
                if rng.random() < 0.6:
                    histories_first_items = [item]
                else:
                    histories_first_items = []
                    at = max(created_ms + 1000, first_start - rng.randint(MS_PER_MINUTE, MS_PER_HOUR))
                    histories.append((at, [item], reporter))
            elif rng.random() < 0.25:
                assignee = assignee_user
                histories_first_items = []
            else:
                histories_first_items = []

            status = team.initial_status
            resolution = None
            resolution_ms = None
            category_ms = created_ms
            updated_ms = created_ms
            first_start_done = False
            flagged = False
            for at, to in moves:
                items = []
                if not first_start_done and to == "In Progress":
                    items.extend(histories_first_items)
                    first_start_done = True
                items.append(org.jira_status_item(status, to))
                if to == "Blocked" and flag_rng.random() < FLAG_SHARE:
                    items.append(FLAG_RAISED)
                    flagged = True
                elif flagged and status == "Blocked":
                    items.append(FLAG_CLEARED)
                    flagged = False
                old_cat, new_cat = self.category[status], self.category[to]
                if new_cat == "done" and old_cat != "done":
                    items.append(self.res_set[to])
                    resolution, resolution_ms = to, at
                elif old_cat == "done" and new_cat != "done":
                    items.append(self.res_clear[resolution])
                    resolution = resolution_ms = None
                if old_cat != new_cat:
                    category_ms = at
                histories.append((at, items, assignee or reporter))
                status = to

            points = None
            if typ == "Story" and rng.random() < 0.8 or typ not in ("Epic", "Initiative") and rng.random() < 0.15:
                points = _POINTS[min(len(_POINTS) - 1, int(rng.expovariate(0.7)))]
                at_w = c_w + rng.uniform(0.05, 1.0) * WORK_DAY
                if at_w < self.window.work_end:
                    histories.append((self.window.wall(at_w), [self.points_items[points]], reporter))
                else:
                    points = None
            labels = []
            if rng.random() < 0.5:
                labels = [rng.choice(team.labels)]
                if rng.random() < 0.1:
                    extra = rng.choice(team.labels)
                    if extra != labels[0]:
                        at_w = c_w + rng.uniform(0.1, 3) * WORK_DAY
                        if at_w < self.window.work_end:
                            labels.append(extra)
                            histories.append((self.window.wall(at_w), [self._label_item(labels)], reporter))
            last_ms = moves[-1][0] if moves else created_ms
            if typ not in ("Epic", "Initiative") and rng.random() < 1 / 150:
                # A ticket everybody keeps editing: enough histories to overflow the embedded changelog.
                span_end = min(self.window.anchor_ms - 1, last_ms + 2 * MS_PER_DAY)
                for _ in range(rng.randint(95, 160)):
                    at = min(self.window.anchor_ms - 1,
                             rng.randint(created_ms + 1000, max(created_ms + 2000, span_end)))
                    histories.append((at, [self.rank_item if rng.random() < 0.6 else self.description_item],
                                      people[rng.randrange(len(people))]))
            sprint_list = None
            if started and typ not in ("Epic", "Initiative"):
                sprint_list = self._sprint_list(team.key, moves, created_ms, histories, reporter)
            histories.sort(key=lambda h: h[0])
            rendered = []
            stamps = {created_ms: jira_ts(created_ms)}  # one string object per instant, reused by fields
            for at, items, author in histories:
                self.history_id += 1
                stamp = stamps.get(at)
                if stamp is None:
                    stamp = stamps[at] = jira_ts(at)
                rendered.append({"id": str(self.history_id), "author": author, "created": stamp, "items": items})
                if at > updated_ms:
                    updated_ms = at

            parent = None
            if typ == "Epic":
                self.children[key] = []
                self.epic_created[key] = github_ts(created_ms)
                if initiative_rng.random() < _EPIC_IN_INITIATIVE:
                    initiative = initiatives[initiative_rng.randrange(len(initiatives))]
                    parent = org._parent_stub(initiative)
                    self.initiative_epics[initiative].append(key)
            elif typ != "Initiative" and active_epics and rng.random() < {"Story": 0.8, "Bug": 0.4, "Task": 0.6}[typ]:
                while active_epics:
                    j = rng.randrange(len(active_epics))
                    if active_epics[j][0] >= c_w:
                        parent = org._parent_stub(active_epics[j][1])
                        self.children[active_epics[j][1]].append(key)
                        break
                    active_epics[j] = active_epics[-1]
                    active_epics.pop()

            # Inlined rather than Org.jira_issue_fields(): a million calls with keyword arguments cost
            # seconds. Same keys in the same order; a test compares the two shapes.
            fields = {
                "summary": summary,
                "issuetype": issue_types[typ],
                "status": statuses[status],
                "project": project_stub,
                "priority": priorities[_weighted(rng, _PRIORITIES)],
                "created": stamps[created_ms],
                "updated": stamps[updated_ms],
                "resolution": org._resolution(resolution) if resolution else None,
                "resolutiondate": stamps[resolution_ms] if resolution_ms is not None else None,
                "statuscategorychangedate": stamps[category_ms],
                "labels": labels,
                "components": [components[rng.choice(team.components)]] if rng.random() < 0.4 else [],
                "assignee": assignee,
                "reporter": reporter,
                "creator": reporter,
                STORY_POINTS_FIELD: points,
                SPRINT_FIELD: sprint_list,
                "issuelinks": [],
            }
            if parent is not None:
                fields["parent"] = parent
            issue = {
                "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
                "id": sid,
                "self": f"{site}/rest/api/3/issue/{sid}",
                "key": key,
                "fields": fields,
            }
            org.jira_put_issue(issue, rendered)
            if typ in ("Epic", "Initiative"):
                org._parent_stub(key)  # created now so that later status changes reach the children
            else:
                linkable.append((c_w, key))
            if started and typ not in ("Epic", "Initiative") and gh_rng.random() < team.pr_share[typ]:
                out.append(IssueWork(team, key, summary, typ, _login(assignee["displayName"]), moves))
        return out

    def _walk(self, rng: random.Random, qrng: random.Random, team: Team, typ: str,
              t: float) -> list[tuple[float, str]]:
        """One item's journey through the workflow, in working time; cut at the anchor by the caller.

        ``rng`` draws what the workflow drew before it had queues; ``qrng`` draws the queues and QA."""
        moves: list[tuple[float, str]] = []
        r = rng.random()
        if r < 0.1:
            # Never started: most of it stays in the backlog, some is cancelled at a grooming session.
            if r < 0.035:
                moves.append((t + rng.uniform(20, 60) * WORK_DAY, "Won't Do"))
            return moves
        mean_wait = {"Bug": 1.5, "Story": 4.0, "Task": 3.0}[typ] * WORK_DAY
        if rng.random() < 0.15:
            mean_wait = 25 * WORK_DAY  # the long tail that waits for weeks
        wait = rng.expovariate(1 / mean_wait)
        if team.key == WIP_SURGE.team and t < WIP_SURGE.end_work and t + wait >= WIP_SURGE.start_work:
            # planted: in the surge weeks the backlog is started at once, and what arrives starts at once
            wait = max(t, WIP_SURGE.start_work) - t + wait * WIP_SURGE_WAIT_FACTOR
        t += wait
        if rng.random() < 0.03:
            moves.append((t, "Won't Do"))
            return moves
        moves.append((t, "In Progress"))
        median = {"Bug": 0.8, "Story": 2.0, "Task": 1.2}[typ] * WORK_DAY
        if team.key == WIP_SURGE.team and WIP_SURGE.covers(t):
            median *= WIP_EFFORT_FACTOR  # planted: work started in the surge weeks takes far longer
        reviews = 0
        reopened = False
        while True:
            effort = rng.lognormvariate(math.log(median), 0.6)
            if rng.random() < 0.12:
                t += effort * rng.uniform(0.2, 0.7)
                moves.append((t, "Blocked"))
                t += rng.expovariate(1 / (2 * WORK_DAY)) + 0.1 * WORK_DAY
                moves.append((t, "In Progress"))
                t += effort * 0.5
            else:
                t += effort
            if rng.random() < 0.02:
                moves.append((t, "Won't Do"))
                return moves
            reviewed = rng.random() < team.review_share
            if reviewed:
                while True:
                    moves.append((t, "Ready for Review"))
                    if team.key == REVIEW_BOTTLENECK.team and REVIEW_BOTTLENECK.covers(t):
                        t += REVIEW_EXTRA_WAIT  # planted: nobody picks reviews up in these weeks
                    t += self._queue_wait(qrng, team, "Ready for Review")
                    moves.append((t, "In Review"))
                    t += rng.lognormvariate(math.log(0.4 * WORK_DAY), 0.8)
                    reviews += 1
                    if reviews <= 2 and rng.random() < 0.2:
                        moves.append((t, "In Progress"))  # changes requested
                        t += rng.lognormvariate(math.log(0.5 * WORK_DAY), 0.6)
                        continue
                    break
            if reviewed and qrng.random() < QA_SHARE.get(team.key, 0.0):
                while True:
                    moves.append((t, "Ready for QA"))
                    t += self._queue_wait(qrng, team, "Ready for QA")
                    moves.append((t, "In QA"))
                    t += qrng.lognormvariate(math.log(QA_MEDIAN_DAYS * WORK_DAY), 0.6)
                    if qrng.random() < QA_REJECT:
                        moves.append((t, "In Progress"))  # the tester found a defect
                        t += qrng.lognormvariate(math.log(0.3 * WORK_DAY), 0.6)
                        continue
                    break
            moves.append((t, "Ready to Deploy"))
            t += self._queue_wait(qrng, team, "Ready to Deploy")
            moves.append((t, "Done"))
            if not reopened and rng.random() < 0.05:
                reopened = True
                t += rng.uniform(1, 6) * WORK_DAY
                moves.append((t, "In Progress"))
                median *= 0.5
                continue
            return moves

    @staticmethod
    def _queue_wait(qrng: random.Random, team: Team, status: str) -> float:
        days = TEAM_QUEUE_MEDIAN_DAYS.get(team.key, {}).get(status, QUEUE_MEDIAN_DAYS[status])
        return qrng.lognormvariate(math.log(days * WORK_DAY), 0.8)

    @staticmethod
    def _walk_epic(rng: random.Random, t: float) -> tuple[list[tuple[float, str]], float]:
        start = t + rng.expovariate(1 / (3 * WORK_DAY))
        end = start + rng.uniform(15, 45) * WORK_DAY
        if rng.random() < 0.08:
            return [(start, "In Progress"), (start + rng.uniform(5, 15) * WORK_DAY, "Won't Do")], end
        return [(start, "In Progress"), (end, "Done")], end

    @staticmethod
    def _summary(rng: random.Random, team: Team, typ: str) -> str:
        thing, area = rng.choice(team.things), rng.choice(team.areas)
        if typ == "Bug":
            condition = rng.choice(("amount is zero", "the session expires", "retrying", "on Safari",
                                    "the currency is JPY", "two requests race"))
            return f"{thing.capitalize()} fails in {area} when {condition}"
        if typ == "Task":
            return f"{rng.choice(('Upgrade', 'Clean up', 'Document', 'Monitor', 'Automate'))} {thing} in {area}"
        return f"{rng.choice(('Add', 'Support', 'Show', 'Let users change', 'Speed up'))} {thing} in {area}"

    def _assign_item(self, user: dict) -> dict:
        item = self.assign_items.get(user["accountId"])
        if item is None:
            item = {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": None,
                    "fromString": None, "to": user["accountId"], "toString": user["displayName"]}
            self.assign_items[user["accountId"]] = item
        return item

    def _label_item(self, labels: list[str]) -> dict:
        key = " ".join(labels)
        item = self.label_items.get(key)
        if item is None:
            item = {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None,
                    "fromString": labels[0], "to": None, "toString": key}
            self.label_items[key] = item
        return item

    def _sprint_list(self, team_key: str, moves: list[tuple[int, str]], created_ms: int,
                     histories: list[tuple[int, list[dict], dict]], author: dict) -> list[dict] | None:
        """The sprints an item sat in: from the one it started in to the one it finished in (max 3).

        Appends the "Sprint" changelog items Jira writes for them, as a Scrum team plans: an item there
        before the first sprint starts is committed just before it starts, a later one is added on the day
        it is created; an unfinished item is carried into the next sprint when its sprint completes (the
        list grows, "38" -> "38, 40"); a done item stays in the sprint it finished in."""
        start = next((t for t, s in moves if s == "In Progress"), None)
        if start is None:
            return None
        end = moves[-1][0] if self.category[moves[-1][1]] == "done" else self.window.anchor_ms
        first = self.window.sprint_index(start)
        last = min(self.window.sprint_index(end), len(self.sprint_values[team_key]) - 2)
        first = max(min(first, last), last - 2)
        key = (team_key, first, last)
        found = self.sprint_lists.get(key)
        if found is None:
            found = self.sprint_lists[key] = self.sprint_values[team_key][first:last + 1]
        planned = self.window.sprint_start(first) - 30 * MS_PER_MINUTE
        at = planned if created_ms < planned else min(created_ms + MS_PER_MINUTE, start)
        histories.append((at, [self._sprint_item(team_key, first, first)], author))
        for k in range(first + 1, last + 1):
            # Jira moves the open items when the sprint before completes
            histories.append((self.window.sprint_completed(k - 1), [self._sprint_item(team_key, first, k)], author))
        return found

    def _sprint_item(self, team_key: str, first: int, k: int) -> dict:
        """The changelog item that puts an item in sprint ``k`` after sprints ``first``..``k - 1`` (shared)."""
        key = (team_key, first, k)
        item = self.sprint_items.get(key)
        if item is None:
            before, after = self.sprint_values[team_key][first:k], self.sprint_values[team_key][first:k + 1]
            item = self.sprint_items[key] = {
                "field": "Sprint", "fieldtype": "custom", "fieldId": SPRINT_FIELD,
                "from": ", ".join(str(s["id"]) for s in before), "fromString": ", ".join(s["name"] for s in before),
                "to": ", ".join(str(s["id"]) for s in after), "toString": ", ".join(s["name"] for s in after),
            }
        return item


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    r = rng.random()
    acc = 0.0
    for name, weight in table:
        acc += weight
        if r < acc:
            return name
    return table[-1][0]


# ---------------------------------------------------------------------- GitHub plans


@dataclass
class _Pull:
    repo: str
    created: int
    title: str
    body: str
    head_ref: str
    author: str
    commits: list[tuple[str, int]]
    reviews: list[tuple[str, int, str]] = field(default_factory=list)  # (state, time, reviewer)
    merged: int | None = None
    closed: int | None = None
    draft: bool = False
    hotfix_for: _Incident | None = None
    issue_key: str | None = None  # the Jira issue whose work this is (None: dependabot, hotfixes)
    number: int = 0
    id: int = 0
    merge_sha: str | None = None


@dataclass
class _Incident:
    repo: str
    created: int
    title: str
    body: str
    closed: int | None = None
    number: int = 0
    id: int = 0


@dataclass
class _Deployment:
    repo: str
    environment: str
    sha: str
    created: int
    statuses: list[tuple[str, int]]
    description: str
    id: int = 0
    status_ids: list[int] = field(default_factory=list)


def _terminal(dep: _Deployment) -> tuple[str, int] | None:
    """A deployment's first terminal status (success, failure or error): its outcome and when it finished."""
    return next((st for st in dep.statuses if st[0] in ("success", "failure", "error")), None)


@dataclass
class _Run:
    repo: str
    workflow: str
    head_sha: str
    head_branch: str
    event: str
    created: int
    duration: int
    conclusion: str
    attempt: int = 1
    rerun_at: int | None = None
    message: str = ""
    pull: _Pull | None = None
    pull_commit: int = -1  # for pull_request runs: which of the PR's commits is the head
    id: int = 0


@dataclass
class _RepoPlan:
    team: Team | None
    full_name: str
    pulls: list[_Pull] = field(default_factory=list)
    incidents: list[_Incident] = field(default_factory=list)
    main: list[tuple[str, int, str, _Pull | None]] = field(default_factory=list)  # (sha, time, author, PR)
    deployments: list[_Deployment] = field(default_factory=list)
    runs: list[_Run] = field(default_factory=list)
    releases: list[tuple[str, str, int]] = field(default_factory=list)  # (tag, sha, published)


class _GitHubBuilder:
    def __init__(self, org: Org, seed: int, scale: int, work: list[IssueWork], window: Window):
        self.org = org
        self.window = window
        self.seed = seed
        self.scale = scale
        self.work = work
        # Jira key -> the first production deployment that carried a pull request of it (`attempt`, at
        # `attempt_at`, whatever its outcome) and the first successful one (`deployment`, at `shipped_at`).
        self.first_shipped: dict[str, dict] = {}

    def build(self) -> None:
        org = self.org
        org.github_add_org("acme")
        plans = []
        for team in TEAMS:
            org.github_add_repo(team.repo, description=f"{team.name} service", language=team.language,
                                created_at="2024-02-12T10:00:00Z")
            plan = _RepoPlan(team, team.repo)
            rng = random.Random(f"{self.seed}:github:{team.key}")
            self._plan_pulls(rng, plan, [w for w in self.work if w.team is team])
            self._plan_dependabot(rng, plan)
            self._simulate_delivery(rng, plan)
            # Situations added on their own random streams, so that every earlier draw stays as it was.
            self._plan_post_merge_comments(plan)
            if team.key == ROLL_FORWARD_TEAM:
                self._plan_roll_forward(plan)
            self._mark_inactive(plan)
            self._plan_runs(rng, plan)
            plans.append(plan)
        legacy = org.github_add_repo(ARCHIVED_REPO, archived=True, description="Old billing monolith",
                                     language="Java", created_at="2021-09-01T10:00:00Z")
        for n, (msg, at) in enumerate((("Initial import", "2021-09-01T10:00:00Z"),
                                       ("Freeze billing", "2025-03-03T10:00:00Z"),
                                       ("README: moved to payments-api", "2025-03-04T10:00:00Z"))):
            org.github_add_commit(ARCHIVED_REPO, msg, at, author="mara-rossi")
        legacy.repo["updated_at"] = "2025-03-04T10:00:00Z"
        org.github_add_repo(WORKER_REPO, description="Payments background worker (deploys into acme/payments-api)",
                            language="Go", created_at="2024-06-03T10:00:00Z")
        worker = self._plan_worker(plans[0])
        self._mark_inactive(worker)
        self._plan_runs(random.Random(f"{self.seed}:github:worker"), worker)
        plans.append(worker)
        self._assign_ids(plans)
        for plan in plans:
            self._materialize(plan)
        org.github_job_factory = _jobs_for_run

    # ------------------------------------------------------------------ planning

    def _plan_pulls(self, rng: random.Random, plan: _RepoPlan, items: list[IssueWork]) -> None:
        team = plan.team
        people = [_login(p) for p in team.people]
        for w in items:
            moves = w.moves
            starts = [t for t, s in moves if s == "In Progress"]
            # Work is merged when it is ready to deploy (after review and QA) and opened for review when it
            # enters the review queue.
            dones = [t for t, s in moves if s == "Ready to Deploy"]
            reviews_in = [t for t, s in moves if s == "Ready for Review"]
            cancelled = moves[-1][0] if moves[-1][1] == "Won't Do" else None
            start = starts[0]
            first_done = dones[0] if dones else None
            # The first PR covers the work up to the first merge; a reopened item gets a follow-up PR.
            window_end = first_done if first_done is not None else (cancelled or self.window.anchor_ms)
            in_window = [t for t in reviews_in if t <= window_end]
            if in_window:
                created = max(start + 30 * MS_PER_MINUTE, in_window[0] - rng.randint(0, 2 * MS_PER_HOUR))
            elif first_done is not None:
                created = first_done - int(rng.uniform(0.1, 0.4) * (first_done - start))
            else:
                created = start + rng.randint(2 * MS_PER_HOUR, 2 * MS_PER_DAY)
            if created >= self.window.anchor_ms or created >= window_end:
                continue
            style = rng.random()
            slug = "-".join(w.summary.lower().split()[:4]).replace("'", "")
            title = f"{w.key} {w.summary}" if style < 0.7 else (f"[{w.key}] {w.summary}" if style < 0.85 else w.summary)
            prefix = {"Bug": "fix", "Task": "chore"}.get(w.issue_type, "feature")
            pull = _Pull(plan.full_name, created, title, f"{w.summary}.\n\nResolves {w.key}.",
                         f"{prefix}/{w.key}-{slug}", w.login, [],
                         draft=first_done is None and not in_window and rng.random() < 0.5, issue_key=w.key)
            n_commits = rng.randint(1, 4)
            for k in range(n_commits):
                at = start + int((created - start) * (k + 1) / (n_commits + 1))
                pull.commits.append((f"{w.key} {w.summary.lower()} (part {k + 1})", at))
            reviewers = [p for p in people if p != w.login] or people
            for i, (t, s) in enumerate(moves):
                if s == "In Progress" and i > 0 and moves[i - 1][1] == "In Review" and t <= window_end:
                    pull.reviews.append(("CHANGES_REQUESTED", t - rng.randint(0, 30 * MS_PER_MINUTE),
                                         rng.choice(reviewers)))
                    nxt = next((t2 for t2, s2 in moves[i + 1:] if s2 in ("Ready for Review", "Ready to Deploy")), None)
                    if nxt is not None and nxt > t:
                        pull.commits.append((f"{w.key} address review comments", t + (nxt - t) // 2))
            if first_done is not None:
                merged = max(created + 10 * MS_PER_MINUTE, first_done - rng.randint(0, 30 * MS_PER_MINUTE))
                if rng.random() < 0.3:
                    pull.reviews.append(("COMMENTED", created + (merged - created) // 3, rng.choice(reviewers)))
                last_review = max([created] + [t for _, t, _ in pull.reviews])
                approve = max(last_review + MS_PER_MINUTE, merged - rng.randint(5 * MS_PER_MINUTE, 2 * MS_PER_HOUR))
                pull.reviews.append(("APPROVED", min(approve, merged - MS_PER_MINUTE), rng.choice(reviewers)))
                pull.merged = pull.closed = merged
            elif cancelled is not None:
                pull.closed = cancelled
            pull.reviews.sort(key=lambda r: r[1])
            pull.commits.sort(key=lambda c: c[1])
            plan.pulls.append(pull)
            if len(dones) > 1 and len(starts) > 1:
                reopen = next(t for t in starts if t > first_done)
                second_done = dones[-1]
                created2 = reopen + int((second_done - reopen) * rng.uniform(0.2, 0.7))
                follow = _Pull(plan.full_name, created2, f"{w.key} follow-up: {w.summary.lower()}",
                               f"Reopened {w.key}: fixes what the first change missed.", f"{prefix}/{w.key}-follow-up",
                               w.login, [(f"{w.key} follow-up fix", reopen + (created2 - reopen) // 2)],
                               issue_key=w.key)
                merged2 = max(created2 + 10 * MS_PER_MINUTE, second_done - rng.randint(0, 30 * MS_PER_MINUTE))
                follow.reviews.append(("APPROVED", merged2 - rng.randint(MS_PER_MINUTE, 5 * MS_PER_MINUTE),
                                       rng.choice(reviewers)))
                follow.merged = follow.closed = merged2
                plan.pulls.append(follow)

    def _plan_dependabot(self, rng: random.Random, plan: _RepoPlan) -> None:
        for _ in range(6 * self.scale):
            created = self.window.start_ms + rng.randint(0, self.window.anchor_ms - self.window.start_ms - MS_PER_DAY)
            dep = rng.choice(_DEPS)
            minor = rng.randint(1, 30)
            title = f"Bump {dep} from 1.{minor}.0 to 1.{minor + 1}.0"
            pull = _Pull(plan.full_name, created, title,
                         f"Bumps {dep} from 1.{minor}.0 to 1.{minor + 1}.0.\n\nDependabot will resolve any conflicts.",
                         f"dependabot/{dep.replace('/', '-')}-1.{minor + 1}.0", "dependabot[bot]",
                         [(title, created - MS_PER_MINUTE)])
            if rng.random() < 0.8:
                merged = created + rng.randint(MS_PER_HOUR, 2 * MS_PER_DAY)
                if merged < self.window.anchor_ms:
                    approver = _login(rng.choice(plan.team.people))
                    pull.reviews.append(("APPROVED", merged - MS_PER_MINUTE * 5, approver))
                    pull.merged = pull.closed = merged
            elif rng.random() < 0.5:
                pull.closed = min(self.window.anchor_ms - 1, created + rng.randint(MS_PER_DAY, 10 * MS_PER_DAY))
            plan.pulls.append(pull)

    def _simulate_delivery(self, rng: random.Random, plan: _RepoPlan) -> None:
        """Merges, deployments, failures, rollbacks and hotfixes, in time order on one event queue."""
        team = plan.team
        seq = 0
        events: list[tuple[int, int, str, object]] = []

        def push(at: int, kind: str, payload: object) -> None:
            nonlocal seq
            seq += 1
            heapq.heappush(events, (at, seq, kind, payload))

        for pull in plan.pulls:
            if pull.merged is not None:
                push(pull.merged, "merge", pull)
        root = sha_of(plan.full_name, "initial")
        plan.main.append((root, self.window.start_ms - 30 * MS_PER_DAY, "mara-rossi", None))
        head = root
        last_good: dict[str, str] = {"production": root, "staging": root}
        last_prod_at = self.window.start_ms
        release_minor, release_patch = 0, 0
        position = {root: 0}  # sha -> its index in plan.main: a deployment of it ships everything up to there
        attempted = shipped = 0  # plan.main[:n + 1] went to production (any outcome / successfully)
        while events:
            at, _, kind, payload = heapq.heappop(events)
            if at >= self.window.anchor_ms:
                break
            if kind == "merge":
                pull = payload
                head = f"{rng.getrandbits(160):040x}"
                pull.merge_sha = head
                plan.main.append((head, at, pull.author, pull))
                position[head] = len(plan.main) - 1
                if pull.hotfix_for is not None:
                    push(at + rng.randint(5, 20) * MS_PER_MINUTE, "production", (head, pull.hotfix_for, "Hotfix"))
                elif (rng.random() < team.deploy_batch or at - last_prod_at > 14 * MS_PER_DAY
                      # planted: every merge deploys
                      or team.key == CFR_SPIKE.team and CFR_SPIKE.covers_wall(at, self.window)):
                    delay = rng.randint(15 * MS_PER_MINUTE, 3 * MS_PER_HOUR)
                    if team.staging:
                        push(at + delay, "staging", head)
                    else:
                        push(at + delay, "production", (head, None, "Deploy to production"))
                    last_prod_at = at
            elif kind == "staging":
                sha = payload
                ok = rng.random() < 0.95
                dep = self._deploy(rng, plan, "staging", sha, at, "success" if ok else "failure",
                                   rng.randint(3, 8) * MS_PER_MINUTE, "Deploy to staging")
                if ok and dep.statuses[-1][0] == "success":
                    push(dep.statuses[-1][1] + rng.randint(30 * MS_PER_MINUTE, 6 * MS_PER_HOUR), "production",
                         (sha, None, "Deploy to production"))
            elif kind == "production":
                sha, incident, description = payload
                if incident is not None:
                    outcome = "success" if rng.random() < 0.95 else "failure"
                else:
                    r = rng.random()
                    rate = team.failure_rate
                    if team.key == CFR_SPIKE.team and CFR_SPIKE.covers_wall(at, self.window):
                        rate = CFR_SPIKE_FAILURE_RATE  # planted: a bad few weeks for this service
                    outcome = "failure" if r < rate * 0.8 else ("error" if r < rate else "success")
                dep = self._deploy(rng, plan, "production", sha, at, outcome, rng.randint(5, 25) * MS_PER_MINUTE,
                                   description)
                final, final_at = dep.statuses[-1]
                upto = position[sha]
                for k in range(attempted + 1, upto + 1):
                    carried = plan.main[k][3]
                    if carried is not None and carried.issue_key is not None:
                        self.first_shipped.setdefault(carried.issue_key, {
                            "attempt": dep, "attempt_at": at, "deployment": None, "shipped_at": None})
                attempted = max(attempted, upto)
                if final == "success":
                    for k in range(shipped + 1, upto + 1):
                        carried = plan.main[k][3]
                        facts = self.first_shipped.get(carried.issue_key) if carried is not None else None
                        if facts is not None and facts["deployment"] is None:
                            facts.update(deployment=dep, shipped_at=final_at)
                    shipped = max(shipped, upto)
                if final == "success":
                    last_good["production"] = sha
                    if incident is not None and incident.closed is None:
                        closed = final_at + rng.randint(10, 60) * MS_PER_MINUTE
                        incident.closed = closed if closed < self.window.anchor_ms else None
                    if team.releases:
                        if description == "Deploy to production":
                            release_minor, release_patch = release_minor + 1, 0
                        else:
                            release_patch += 1
                        plan.releases.append((f"v1.{release_minor}.{release_patch}", sha, final_at))
                elif final in ("failure", "error"):
                    if incident is None:
                        opened = final_at + rng.randint(2, 30) * MS_PER_MINUTE
                        if opened >= self.window.anchor_ms:
                            continue
                        incident = _Incident(plan.full_name, opened,
                                             f"Incident: {rng.choice(team.things)} errors after deploy {sha[:7]}",
                                             f"Production deployment of {sha[:7]} ended in {final}; users affected.")
                        plan.incidents.append(incident)
                    retry = (team.key == CFR_SPIKE.team and CFR_SPIKE.covers_wall(at, self.window)
                             and description != "Rollback")
                    if rng.random() < 0.35 or retry:
                        push(final_at + rng.randint(10, 40) * MS_PER_MINUTE, "production",
                             (last_good["production"], incident, "Rollback"))
                        if retry:  # planted: the change is tried again, and in the spike weeks often fails again
                            push(final_at + rng.randint(2, 6) * MS_PER_HOUR, "production",
                                 (sha, None, "Deploy to production"))
                    else:
                        created = final_at + rng.randint(20, 90) * MS_PER_MINUTE
                        author = _login(rng.choice(team.people))
                        hotfix = _Pull(plan.full_name, created, f"Hotfix: revert breaking change from {sha[:7]}",
                                       "Restores service after the failed production deployment.",
                                       f"hotfix/{sha[:7]}", author,
                                       [(f"Revert breaking change from {sha[:7]}", created - 5 * MS_PER_MINUTE)],
                                       hotfix_for=incident)
                        merged = created + rng.randint(30, 180) * MS_PER_MINUTE
                        hotfix.reviews.append(("APPROVED", merged - 5 * MS_PER_MINUTE,
                                               _login(rng.choice([p for p in team.people if _login(p) != author]))))
                        if merged < self.window.anchor_ms:
                            hotfix.merged = hotfix.closed = merged
                            push(merged, "merge", hotfix)
                        plan.pulls.append(hotfix)
        if team.key == "CHK":
            # A deployment still running at the anchor, so "in progress" is in the data at every scale.
            self._deploy(rng, plan, "production", head, self.window.anchor_ms - 6 * MS_PER_MINUTE, "success",
                         20 * MS_PER_MINUTE, "Deploy to production")

    def _plan_post_merge_comments(self, plan: _RepoPlan) -> None:
        """Reviewers who read a change after it was merged: a COMMENTED review a day after the merge."""
        rng = random.Random(f"{self.seed}:post-merge:{plan.team.key}")
        people = [_login(p) for p in plan.team.people]
        for pull in plan.pulls:
            if pull.merged is None or pull.issue_key is None or rng.random() >= POST_MERGE_COMMENT_SHARE:
                continue
            at = pull.merged + MS_PER_DAY + rng.randint(0, 4 * MS_PER_HOUR)
            if at < self.window.anchor_ms:
                pull.reviews.append(("COMMENTED", at, rng.choice([p for p in people if p != pull.author])))

    def _plan_roll_forward(self, plan: _RepoPlan) -> None:
        """A rollback that turned out not to be needed: X succeeds, errors appear, the team rolls back to the
        sha before X, finds the cause elsewhere and redeploys X (a roll-forward: a sha that succeeded before).
        Nothing opens an incident: the canary's error rate triggered the rollback."""
        rng = random.Random(f"{self.seed}:roll-forward:{plan.team.key}")
        prod = sorted((d for d in plan.deployments if d.environment == "production"), key=lambda d: d.created)
        candidates = []
        for i, dep in enumerate(prod[1:-1], start=1):
            done = _terminal(dep)
            before = [p for p in prod[:i] if (_terminal(p) or ("", 0))[0] == "success"]
            if (done is None or done[0] != "success" or dep.description != "Deploy to production" or not before
                    or before[-1].sha == dep.sha or prod[i + 1].created < done[1] + 12 * MS_PER_HOUR):
                continue
            candidates.append((dep, done[1], before[-1].sha))
        dep, done_at, previous_sha = rng.choice(candidates)
        rollback_at = done_at + rng.randint(60, 120) * MS_PER_MINUTE
        rollback = self._deploy(rng, plan, "production", previous_sha, rollback_at, "success",
                                rng.randint(4, 8) * MS_PER_MINUTE, "Rollback")
        forward_at = _terminal(rollback)[1] + rng.randint(3 * MS_PER_HOUR, 5 * MS_PER_HOUR)
        self._deploy(rng, plan, "production", dep.sha, forward_at, "success", rng.randint(5, 10) * MS_PER_MINUTE,
                     f"Roll forward to {dep.sha[:7]}")

    def _plan_worker(self, api: _RepoPlan) -> _RepoPlan:
        """acme/payments-api-worker: a second repository deploying the Payments service (the demo config maps
        it to the service acme/payments-api through `services`). Its history, on its own random stream:
          * eight pull requests; two are merged without a review and get their first review comment a day
            after the merge;
          * its first production deployment ships the first two merged PRs (the deployed sha is PR 2's merge
            commit) and keeps receiving `success` statuses weekly until the next deployment of the worker
            (a long-lived status history);
          * a failed worker deployment three hours before a successful payments-api production deployment
            (no other deployment of either repository in between), then the worker's fix-forward the next
            day shipping the failed deployment's change with the fix."""
        rng = random.Random(f"{self.seed}:worker")
        team = TEAMS[0]
        people = [_login(p) for p in team.people]
        plan = _RepoPlan(team, WORKER_REPO)
        plan.main.append((sha_of(WORKER_REPO, "initial"), self.window.start_ms - 20 * MS_PER_DAY, people[0], None))
        prod = sorted((d for d in api.deployments if d.environment == "production"), key=lambda d: d.created)
        anchor = next(d for i, d in enumerate(prod) if i > 0 and (_terminal(d) or ("", 0))[0] == "success"
                      and d.description == "Deploy to production" and self.window.wall(10 * 5 * WORK_DAY) <= d.created
                      and prod[i - 1].created < d.created - 8 * MS_PER_HOUR)
        failed_at = anchor.created - 3 * MS_PER_HOUR
        merges = [self.window.wall((week * 5 + rng.randint(0, 4)) * WORK_DAY + rng.randint(1, 8) * MS_PER_HOUR)
                  for week in (2, 3, 6, 8)]
        merges += [failed_at - 2 * MS_PER_HOUR, anchor.created + 20 * MS_PER_HOUR]
        merges += [self.window.wall((week * 5 + rng.randint(0, 4)) * WORK_DAY + rng.randint(1, 8) * MS_PER_HOUR)
                   for week in (22, 24)]
        topics = ("retry payout webhooks", "batch ledger exports", "idempotent refund jobs", "dead-letter queue",
                  "settlement report", "graceful shutdown", "backoff on card gateway errors", "metrics for job lag")
        pulls = []
        for k, (merged, topic) in enumerate(zip(merges, topics)):
            author = people[rng.randrange(len(people))]
            created = merged - rng.randint(2 * MS_PER_HOUR, 2 * MS_PER_DAY)
            pull = _Pull(WORKER_REPO, created, f"Worker: {topic}", f"Worker change: {topic}.",
                         f"worker/{topic.replace(' ', '-')}", author,
                         [(f"Worker: {topic}", created - rng.randint(10, 120) * MS_PER_MINUTE)])
            reviewer = rng.choice([p for p in people if p != author])
            if k in (1, 6):  # merged by its author; a reviewer reads it the next day
                pull.reviews.append(("COMMENTED", merged + MS_PER_DAY, reviewer))
            else:
                pull.reviews.append(("APPROVED", merged - rng.randint(5, 60) * MS_PER_MINUTE, reviewer))
            pull.merged = pull.closed = merged
            pull.merge_sha = f"{rng.getrandbits(160):040x}"
            plan.main.append((pull.merge_sha, merged, author, pull))
            pulls.append(pull)
        plan.pulls = pulls

        def deploy(pull: _Pull, at: int, outcome: str, description: str = "Deploy to production") -> _Deployment:
            return self._deploy(rng, plan, "production", pull.merge_sha, at, outcome,
                                rng.randint(5, 10) * MS_PER_MINUTE, description)

        first = deploy(pulls[1], pulls[1].merged + 90 * MS_PER_MINUTE, "success")
        second_at = pulls[3].merged + 2 * MS_PER_HOUR
        at = _terminal(first)[1] + 7 * MS_PER_DAY
        while at < second_at:
            first.statuses.append(("success", at))  # a health check re-reports the deployment every week
            at += 7 * MS_PER_DAY
        deploy(pulls[3], second_at, "success")
        deploy(pulls[4], failed_at, "failure")
        deploy(pulls[5], pulls[5].merged + MS_PER_HOUR, "success")
        deploy(pulls[7], pulls[7].merged + 2 * MS_PER_HOUR, "success")
        return plan

    def _deploy(self, rng: random.Random, plan: _RepoPlan, env: str, sha: str, at: int, outcome: str,
                duration: int, description: str) -> _Deployment:
        statuses = []
        if rng.random() < 0.3:
            statuses.append(("queued", at))
        statuses.append(("in_progress", at + rng.randint(5, 40) * 1000))
        done_at = at + duration
        if done_at < self.window.anchor_ms:
            statuses.append((outcome, done_at))
        dep = _Deployment(plan.full_name, env, sha, at, statuses, description)
        plan.deployments.append(dep)
        return dep

    @staticmethod
    def _mark_inactive(plan: _RepoPlan) -> None:
        """GitHub marks the previous successful deployment to an environment inactive when a new one succeeds.

        Done once every deployment of the repository is planned, so that situations added afterwards (a
        roll-forward) get their statuses right too."""
        last_success: dict[str, _Deployment] = {}
        for dep in sorted(plan.deployments, key=lambda d: d.created):
            done = _terminal(dep)
            if done is None or done[0] != "success":
                continue
            previous = last_success.get(dep.environment)
            if previous is not None:
                previous.statuses.append(("inactive", max(done[1], previous.statuses[-1][1]) + 1000))
            last_success[dep.environment] = dep

    def _plan_runs(self, rng: random.Random, plan: _RepoPlan) -> None:
        for pull in plan.pulls:
            for k, (message, at) in enumerate(pull.commits):
                # CI runs on the head when the PR opens, then on every later push.
                if k + 1 < len(pull.commits) and pull.commits[k + 1][1] <= pull.created:
                    continue
                created = max(at, pull.created) + rng.randint(30, 180) * 1000
                if created >= self.window.anchor_ms or (pull.closed is not None and created > pull.closed):
                    continue
                failed = rng.random() < 0.12
                run = _Run(plan.full_name, "CI", "", pull.head_ref, "pull_request", created,
                           rng.randint(4, 12) * MS_PER_MINUTE, "failure" if failed else "success", message=message,
                           pull=pull, pull_commit=k)
                if failed and rng.random() < 0.35:
                    run.attempt, run.conclusion = 2, "success"
                    run.rerun_at = created + run.duration + rng.randint(2, 30) * MS_PER_MINUTE
                plan.runs.append(run)
        for sha, at, author, pull in plan.main[1:]:
            plan.runs.append(_Run(plan.full_name, "CI", sha, "main", "push", at + rng.randint(10, 60) * 1000,
                                  rng.randint(5, 14) * MS_PER_MINUTE,
                                  "failure" if rng.random() < 0.05 else "success",
                                  message=pull.title if pull else "commit"))
        # A weekly scheduled scan on main, Fridays 23:30; the last one is still running at the anchor.
        friday = self.window.monday0 + 4 * MS_PER_DAY + 15 * MS_PER_HOUR + 30 * MS_PER_MINUTE
        main_times = [at for _, at, _, _ in plan.main]
        while friday < self.window.anchor_ms:
            head = plan.main[bisect.bisect_right(main_times, friday) - 1][0]
            last = friday + 7 * MS_PER_DAY >= self.window.anchor_ms
            duration = MS_PER_HOUR if last else rng.randint(4, 15) * MS_PER_MINUTE
            plan.runs.append(_Run(plan.full_name, "Security scan", head, "main", "schedule", friday, duration,
                                  "failure" if rng.random() < 0.1 else "success", message="Weekly security scan"))
            friday += 7 * MS_PER_DAY
        for dep in plan.deployments:
            final = _terminal(dep)  # the first: a status re-posted for months does not stretch the run
            if final is None:
                conclusion, duration = "", 0
            else:
                conclusion = "success" if final[0] == "success" else "failure"
                duration = final[1] - dep.created + 30 * 1000
            plan.runs.append(_Run(plan.full_name, "Deploy", dep.sha, "main", "workflow_dispatch",
                                  dep.created - rng.randint(20, 90) * 1000, duration, conclusion,
                                  message=f"{dep.description} {dep.sha[:7]}"))

    # ------------------------------------------------------------------ ids and wire objects

    def _assign_ids(self, plans: list[_RepoPlan]) -> None:
        org = self.org
        for plan in plans:
            # Issues and PRs share one number sequence per repository, in creation order.
            numbered = sorted([(p.created, 0, i, p) for i, p in enumerate(plan.pulls)]
                              + [(x.created, 1, i, x) for i, x in enumerate(plan.incidents)],
                              key=lambda r: r[:3])
            for n, row in enumerate(numbered, start=1):
                row[3].number = n
        # Ids grow with creation time across repositories, as on GitHub.
        for kind, attr in (("pull", "pulls"), ("issue", "incidents"), ("deployment", "deployments"),
                           ("run", "runs")):
            rows = sorted(((obj.created, r, i) for r, plan in enumerate(plans)
                           for i, obj in enumerate(getattr(plan, attr))))
            for _, r, i in rows:
                getattr(plans[r], attr)[i].id = org.next_id(kind)
        rows = sorted((at, r, i, k) for r, plan in enumerate(plans) for i, dep in enumerate(plan.deployments)
                      for k, (_state, at) in enumerate(dep.statuses))
        for _, r, i, k in rows:
            dep = plans[r].deployments[i]
            if not dep.status_ids:
                dep.status_ids = [0] * len(dep.statuses)
            dep.status_ids[k] = org.next_id("deployment_status")

    def _materialize(self, plan: _RepoPlan) -> None:
        org = self.org
        store = org.repos[plan.full_name]
        full = plan.full_name
        bot = org.github_user("deploy-bot")
        for pull in plan.pulls:
            org.github_user(pull.author)
        store.next_number = 1 + len(plan.pulls) + len(plan.incidents)

        # Default branch: merge commits in time order.
        shas_by_time = []
        for sha, at, author, pull in plan.main:
            message = f"{pull.title} (#{pull.number})" if pull else "Initial commit"
            parents = [store.commits[-1]["sha"]] if store.commits else []
            store.commits.append(org.github_commit_dict(store, sha, message, org.github_user(author), at, at, parents))
            shas_by_time.append((at, sha))
        times = [t for t, _ in shas_by_time]
        if store.commits:
            store.repo["pushed_at"] = store.repo["updated_at"] = store.commits[-1]["commit"]["committer"]["date"]

        for pull in plan.pulls:
            base_pos = max(0, bisect.bisect_right(times, pull.created) - 1)
            base_sha = shas_by_time[base_pos][1]
            author = org.github_user(pull.author)
            commits = []
            parent = base_sha
            for k, (message, at) in enumerate(pull.commits):
                sha = sha_of(full, pull.number, k, message)
                commits.append(org.github_commit_dict(store, sha, message, author, at, at, [parent]))
                parent = sha
            body = pull.body
            if pull.hotfix_for is not None:
                body = f"{body}\n\nFixes #{pull.hotfix_for.number}."  # numbers exist only from here on
            pr = org.github_pull_dict(store, pull.number, pull.id, pull.title, body, author, pull.created,
                                      pull.head_ref, parent, base_sha, pull.draft)
            updated = pull.created
            reviews = []
            for state, at, reviewer in pull.reviews:
                review_id = org.next_id("review")
                reviews.append(org.github_review_dict(store, pr, review_id, state, org.github_user(reviewer), "", at))
                updated = max(updated, at)
            if pull.closed is not None:
                pr["state"] = "closed"
                pr["closed_at"] = github_ts(pull.closed)
                updated = max(updated, pull.closed)
            if pull.merged is not None and pull.merge_sha is not None:
                pr["merged_at"] = github_ts(pull.merged)
                pr["merge_commit_sha"] = pull.merge_sha
            elif pull.merged is not None:
                # Merged after the delivery loop stopped (at the anchor): leave it open.
                pr["state"], pr["closed_at"] = "open", None
            if commits:
                updated = max(updated, pull.commits[-1][1])
            pr["updated_at"] = github_ts(updated)
            store.pulls[pull.number] = pr
            store.reviews[pull.number] = reviews
            store.pr_commits[pull.number] = commits

        for inc in plan.incidents:
            issue = org.github_issue_dict(store, inc.id, inc.number, inc.title, inc.body,
                                          org.github_user("pagerduty[bot]"),
                                          [org.github_label(store, "incident"),
                                           org.github_label(store, "sev2", "fbca04")],
                                          inc.created)
            if inc.closed is not None:
                issue.update(state="closed", closed_at=github_ts(inc.closed), updated_at=github_ts(inc.closed),
                             state_reason="completed")
            store.issues[inc.number] = issue

        for dep in plan.deployments:
            d = org.github_deployment_dict(store, dep.id, dep.sha, "main", "deploy", dep.environment,
                                           dep.environment == "production", dep.description, bot, dep.created)
            store.deployments[dep.id] = d
            statuses = [org.github_deployment_status_dict(store, d, ident, state, bot, "", at)
                        for (state, at), ident in zip(dep.statuses, dep.status_ids)]
            store.deployment_statuses[dep.id] = statuses
            d["updated_at"] = max(d["updated_at"], statuses[-1]["updated_at"])

        for tag, sha, published in plan.releases:
            commit_date = next((c["commit"]["committer"]["date"] for c in reversed(store.commits) if c["sha"] == sha),
                               github_ts(published))
            ident = org.next_id("release")
            store.releases[ident] = org.github_release_dict(store, ident, tag, tag, f"Release {tag}", bot,
                                                            commit_date, github_ts(published))
            store.tags[tag] = sha

        ci = org.github_add_workflow(full, "CI", ".github/workflows/ci.yml", created_at="2024-02-12T10:00:00Z")
        deploy = org.github_add_workflow(full, "Deploy", ".github/workflows/deploy.yml",
                                         created_at="2024-02-12T10:00:00Z")
        scan = org.github_add_workflow(full, "Security scan", ".github/workflows/security-scan.yml",
                                       created_at="2024-02-12T10:00:00Z")
        workflows = {"CI": ci, "Deploy": deploy, "Security scan": scan}
        for run in sorted(plan.runs, key=lambda r: r.id):
            wf = workflows[run.workflow]
            store.run_numbers[wf["id"]] += 1
            head_sha = run.head_sha
            pull_refs: list[dict] = []
            if run.pull is not None:
                head_sha = store.pr_commits[run.pull.number][run.pull_commit]["sha"]
                pr = store.pulls[run.pull.number]
                pull_refs = [{"url": pr["url"], "id": pr["id"], "number": pr["number"],
                              "head": {"ref": pr["head"]["ref"], "sha": head_sha,
                                       "repo": {"id": store.repo["id"], "url": store.repo["url"],
                                                "name": store.repo["name"]}},
                              "base": {"ref": "main", "sha": pr["base"]["sha"],
                                       "repo": {"id": store.repo["id"], "url": store.repo["url"],
                                                "name": store.repo["name"]}}}]
            actor = org.github_user(run.pull.author if run.pull else
                                    ("github-actions[bot]" if run.event == "schedule" else "deploy-bot"))
            end = (run.rerun_at or run.created) + run.duration
            if not run.conclusion or end >= self.window.anchor_ms:
                status, conclusion, updated = "in_progress", None, run.rerun_at or run.created
            else:
                status, conclusion, updated = "completed", run.conclusion, end
            d = org.github_run_dict(store, wf, run.id, store.run_numbers[wf["id"]], run.head_branch, head_sha,
                                    run.event, status, conclusion, run.created, updated, run.attempt, actor,
                                    run.message, pull_refs)
            if run.rerun_at is not None:
                d["run_started_at"] = github_ts(run.rerun_at)
                d["previous_attempt_url"] = f"{d['url']}/attempts/1"
            store.runs[run.id] = d
        org._dirty_repo(store)


def _jobs_for_run(store: RepoStore, run: dict) -> list[dict]:
    """Jobs derived from the run itself, so they need no memory until asked for (see Org.github_jobs)."""
    org_api = run["url"].split("/repos/")[0]
    web = run["html_url"].split(f"/{store.full_name}/")[0]
    names = ("lint", "test", "build") if run["name"] == "CI" else ("deploy",)
    start = parse_ms(run["run_started_at"])
    done = run["status"] == "completed"
    end = parse_ms(run["updated_at"]) if done else None
    span = max(1000 * len(names), (end - start) if end else 1000 * len(names))
    jobs = []
    failed_at = len(names) - 1 if run["conclusion"] == "failure" else None
    if failed_at is not None and len(names) > 1:
        failed_at = 1  # tests are what fail
    for k, name in enumerate(names):
        job_id = run["id"] * 10 + k + 1
        j_start = start + span * k // len(names)
        j_end = start + span * (k + 1) // len(names)
        if not done:
            status, conclusion, completed = ("in_progress", None, None) if k == 0 else ("queued", None, None)
        elif failed_at is not None and k > failed_at:
            status, conclusion, completed = "completed", "skipped", github_ts(j_start)
        else:
            status = "completed"
            conclusion = "failure" if k == failed_at else "success"
            completed = github_ts(j_end)
        jobs.append(github_job_dict(
            org_api, web, store, run, job_id, name=name, status=status, conclusion=conclusion,
            started_at=github_ts(j_start), completed_at=completed,
            steps=[
                {"name": "Set up job", "status": status, "conclusion": conclusion and "success", "number": 1,
                 "started_at": github_ts(j_start), "completed_at": completed},
                {"name": f"Run {name}", "status": status, "conclusion": conclusion, "number": 2,
                 "started_at": github_ts(j_start), "completed_at": completed},
            ],
            runner=10 + k if status != "queued" else None, runner_group=2,
        ))
    return jobs
