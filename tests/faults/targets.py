"""The three sources the fault matrix runs against, and the checks every case makes.

A Target knows how to start a simulator for its source (small pages, so every stream spans several
pages), how to configure and run the connector, which requests are its list and child pages (where faults
are aimed), and the ground truth: for every raw table, each record key the simulator holds and the value
of its version field right now. The checks compare the raw tables with that truth.

Sizes (scenarios.tiny_org): Jira project FLOW, 5 issues in pages of 2 (3 search pages), at most 2 histories
embedded on Cloud so 3 issues have their changelog read by one bulkfetch (13 histories; Data Center embeds them all); GitHub
acme/checkout, 3 pull requests in pages of 1 with their 2 reviews; CircleCI gh/acme/checkout, 11 pipelines
in pages of 4 with one workflow each and 26 jobs; GitLab acme/checkout-infra, 6 deployments in pages of 2;
Azure DevOps acme/Data (simulator/azure_devops_api.py), 41 work items read by batches of 7 with their updates;
Bitbucket acme/mobile-app mirroring acme/checkout, 3 pull requests in pages of 1 with their activity and
commits; Linear's Mobile team (simulator/linear_api.py), 60 issues in pages of 20 with their history (one
issue's history overflows into its own pages). Linear answers every query at one path (`graphql`): its list
and child faults land on whichever request comes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors import azure_devops, bitbucket, circleci, github, gitlab, jira, linear
from connectors.config import parse_config
from connectors.core.endpoint import parse_timestamp
from connectors.core.raw import RawStore
from simulator import SimulatorServer, tiny_org

# What the simulator accepts; the sources read them from the environment, as users configure them.
JIRA_SECRET = "faults-jira-token-5F3A9C"
GITHUB_SECRET = "ghp_faultsGithubToken7B21"
CIRCLECI_SECRET = "faults-circle-token-88D4"
GITLAB_SECRET = "glpat-faultsGitlabToken3E7"
SECRETS = {"FAULTS_JIRA_TOKEN": JIRA_SECRET, "FAULTS_GITHUB_TOKEN": GITHUB_SECRET,
           "FAULTS_CIRCLECI_TOKEN": CIRCLECI_SECRET, "FAULTS_GITLAB_TOKEN": GITLAB_SECRET}
ADO_SECRET = "faults-ado-pat-91C2"
SECRETS["FAULTS_ADO_PAT"] = ADO_SECRET
BITBUCKET_SECRET = "faults-bitbucket-token-4D0E"
LINEAR_SECRET = "lin_api_faultsLinearKey6A19"
BITBUCKET_DC_SECRET = "faults-bitbucket-dc-token-2B8F"
SECRETS.update(FAULTS_BITBUCKET_TOKEN=BITBUCKET_SECRET, FAULTS_LINEAR_KEY=LINEAR_SECRET,
               FAULTS_BITBUCKET_DC_TOKEN=BITBUCKET_DC_SECRET)
JIRA_EMAIL = "faults@example.com"
SLUG = "gh/acme/checkout"
REPO = "acme/checkout"
GITLAB_PROJECT = "acme/checkout-infra"

# Short everything: the folder must run in a few minutes. backoff 0.05 s keeps a backoff real but cheap.
# max_backoff_seconds under 1 s: the server's shortest Retry-After (1 s) is above it (test_matrix).
OPTIONS = {"backoff_seconds": 0.05, "max_backoff_seconds": 0.5, "max_retries": 4, "timeout_seconds": 0.5}


def simulator(target: Target | None = None) -> SimulatorServer:
    # Jira Cloud embeds at most 2 histories here (the rest are paged); Data Center embeds them all.
    embed = 100 if target is not None and target.name == "jira-dc" else 2
    return SimulatorServer(
        tiny_org(), changelog_embed_limit=embed, jira_tokens={JIRA_SECRET}, github_tokens={GITHUB_SECRET},
        mount_options={"circleci": {"tokens": {CIRCLECI_SECRET}, "page_size": 4},
                       "gitlab": {"tokens": {GITLAB_SECRET}},
                       "azure_devops": {"tokens": {ADO_SECRET}},
                       "bitbucket": {"tokens": {BITBUCKET_SECRET}, "mirrored": REPO},
                       "bitbucket_dc": {"tokens": {BITBUCKET_DC_SECRET}, "mirrored": REPO},
                       "linear": {"tokens": {LINEAR_SECRET}}},
    )


def _entry(name: str, url: str) -> dict:
    if name == "jira-dc":  # Data Center: REST v2, offset pages (startAt), the whole changelog embedded
        return {**_entry("jira", url), "name": "f-jira-dc", "flavour": "datacenter"}
    if name == "jira":
        return {"type": "jira", "name": "f-jira", "base_url": f"{url}/jira", "scope": {"projects": ["FLOW"]},
                "auth": {"email": JIRA_EMAIL, "api_token": "${FAULTS_JIRA_TOKEN}"},
                "options": {**OPTIONS, "page_size": 2, "start_date": "2026-01-01"}}
    if name == "github":
        return {"type": "github", "name": "f-github", "base_url": f"{url}/github", "scope": {"repos": [REPO]},
                "auth": {"token": "${FAULTS_GITHUB_TOKEN}"},
                "options": {**OPTIONS, "page_size": 1, "start_date": "2026-01-01",
                            "max_rate_limit_wait_seconds": 10}}
    if name == "gitlab":
        return {"type": "gitlab", "name": "f-gitlab", "base_url": f"{url}/gitlab",
                "scope": {"projects": [GITLAB_PROJECT]}, "auth": {"token": "${FAULTS_GITLAB_TOKEN}"},
                "options": {**OPTIONS, "page_size": 2}}
    if name == "azure_devops":  # the Data project: 41 work items read 7 a batch (6 batches)
        return {"type": "azure_devops", "name": "f-azure_devops", "base_url": f"{url}/azure_devops",
                "scope": {"organization": "acme", "projects": ["Data"]}, "auth": {"token": "${FAULTS_ADO_PAT}"},
                "options": {**OPTIONS, "page_size": 7}}
    if name == "bitbucket":  # acme/mobile-app, mirroring acme/checkout: 3 pull requests a page each
        return {"type": "bitbucket", "name": "f-bitbucket", "base_url": f"{url}/bitbucket",
                "scope": {"workspace": "acme", "repositories": ["mobile-app"]},
                "auth": {"username": "faults@example.com", "token": "${FAULTS_BITBUCKET_TOKEN}"},
                "options": {**OPTIONS, "page_size": 1, "start_date": "2026-01-01"}}
    if name == "bitbucket-dc":  # MOB/mobile-api, mirroring acme/checkout: 3 pull requests, newest first, a page each
        return {"type": "bitbucket", "flavour": "datacenter", "name": "f-bitbucket-dc", "base_url": f"{url}/bitbucket_dc",
                "scope": {"project": "MOB", "repositories": ["mobile-api"]},
                "auth": {"token": "${FAULTS_BITBUCKET_DC_TOKEN}"}, "options": {**OPTIONS, "page_size": 1}}
    if name == "linear":  # the Mobile team: 60 issues, 20 a page
        return {"type": "linear", "name": "f-linear", "base_url": f"{url}/linear",
                "auth": {"api_key": "${FAULTS_LINEAR_KEY}"}, "options": {**OPTIONS, "page_size": 20}}
    return {"type": "circleci", "name": "f-circleci", "base_url": f"{url}/circleci", "scope": {"projects": [SLUG]},
            "auth": {"token": "${FAULTS_CIRCLECI_TOKEN}"}, "options": dict(OPTIONS)}


def config_yaml(url: str, names: tuple[str, ...], **options: Any) -> str:
    """throughline.yml for `names` (JSON is YAML): what the Dagster-level tests give THROUGHLINE_CONFIG."""
    import json

    entries = [_entry(n, url) for n in names]
    for entry in entries:
        entry["options"].update(options)
    return json.dumps({"sources": entries}, indent=2)


@dataclass(frozen=True)
class Target:
    name: str
    group: str  # the extraction group the matrix reads
    list_path: str  # regex of the paged list requests
    child_path: str  # regex of the child requests made per parent record
    main_table: str  # the incremental stream whose cursor is checked
    tables: dict[str, str]  # raw table -> JSON path of the field that changes when the record does
    truth: Callable[[SimulatorServer], dict[str, dict[str, str]]]
    change_while_paging: Callable[[SimulatorServer], Callable[[Any], None]]
    secret_var: str
    list_method: str = "GET"  # Azure DevOps reads its work items by POST (a batch of ids)
    refused_status: int = 401  # how a revoked token is answered (Linear: 400 with AUTHENTICATION_ERROR)

    @property
    def source_name(self) -> str:
        return f"f-{self.name}"

    def source(self, url: str, env: Mapping[str, str] = SECRETS, **options: Any):
        entry = _entry(self.name, url)
        entry["options"] = {**entry["options"], **options}
        return parse_config({"sources": [entry]}, env=env).sources[0]

    def extract(self, url: str, store: RawStore, env: Mapping[str, str] = SECRETS, **options: Any):
        module = {"jira": jira, "jira-dc": jira, "github": github, "circleci": circleci, "gitlab": gitlab,
                  "azure_devops": azure_devops, "bitbucket": bitbucket, "bitbucket-dc": bitbucket,
                  "linear": linear}[self.name]
        return module.extract(self.group, self.source(url, env, **options), store)


def _recent(minutes_ago: int) -> str:
    # Changes made "now" (recent, unlike tiny_org's January history): CircleCI re-checks only young pipelines.
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _jira_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    org = sim.org
    return {
        "jira__issues": {i: issue["fields"]["updated"] for i, issue in org.jira_issues.items()},
        "jira__changelogs": {str(h["id"]): h["created"] for hs in org.jira_changelogs.values() for h in hs},
    }


def _jira_change(sim: SimulatorServer):
    def action(org) -> None:
        # FLOW-4 was on the first page (oldest update): it moves behind the page token; one issue is new.
        org.jira_add_transition("FLOW-4", "Done", _recent(50))
        org.jira_create_issue("FLOW", "Story", "Inserted while paging", _recent(40))
    return action


def _github_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    store = sim.org.repos[REPO]
    return {
        "github__pull_requests": {str(pr["id"]): pr["updated_at"] for pr in store.pulls.values()},
        "github__pull_request_reviews": {str(r["id"]): r["submitted_at"] for rs in store.reviews.values() for r in rs},
    }


def _github_change(sim: SimulatorServer):
    def action(org) -> None:
        # PR #1 (last page, oldest update) jumps to the front of the newest-first list; a new PR opens.
        org.github_add_review(REPO, 1, "COMMENTED", _recent(50), body="late comment")
        org.github_add_pull(REPO, "FLOW-5 opened while paging", _recent(40))
    return action


def _circleci_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    api = sim.mounts["circleci"]
    pipelines = api.projects[SLUG].pipelines
    workflows = [w for p in pipelines for w in api.workflows[p["id"]]]
    return {
        "circleci__pipelines": {p["id"]: p["created_at"] for p in pipelines},
        "circleci__workflows": {w["id"]: w["status"] for w in workflows},
        "circleci__jobs": {j["id"]: j["status"] for w in workflows for j in api.jobs[w["id"]]},
    }


def _circleci_change(sim: SimulatorServer):
    api = sim.mounts["circleci"]
    head = sim.org.github_head_sha(REPO)
    # Before the run: the newest pipeline is still deploying (its workflow `running`).
    running = api.add_pipeline(SLUG, _recent(90), head, "main", "build-test-deploy", [
        ("build", "build", _recent(89), _recent(88), "success"),
        ("deploy-production", "build", _recent(87), None, "running")])
    workflow_id = api.workflows[running["id"]][0]["id"]

    def action(_org) -> None:
        # While the run pages: that deploy finishes (an update) and a new pipeline starts (an insert).
        api.finish_workflow(workflow_id, "success", _recent(30))
        api.add_pipeline(SLUG, _recent(20), head, "main", "build-test", [
            ("build", "build", _recent(19), _recent(18), "success"),
            ("test", "build", _recent(18), _recent(17), "success")])
    return action


TARGETS = (
    Target("jira", "issues", r"^/jira/rest/api/3/search/jql", r"^/jira/rest/api/3/changelog/bulkfetch",
           "jira__issues", {"jira__issues": "$.fields.updated", "jira__changelogs": "$.created"},
           _jira_truth, _jira_change, "FAULTS_JIRA_TOKEN"),
    Target("github", "pull_requests", r"^/github/repos/acme/checkout/pulls\?",
           r"^/github/repos/acme/checkout/pulls/\d+/",
           "github__pull_requests",
           {"github__pull_requests": "$.updated_at", "github__pull_request_reviews": "$.submitted_at"},
           _github_truth, _github_change, "FAULTS_GITHUB_TOKEN"),
    Target("circleci", "pipelines", r"^/circleci/api/v2/project/.*/pipeline", r"^/circleci/api/v2/pipeline/",
           "circleci__pipelines",
           {"circleci__pipelines": "$.created_at", "circleci__workflows": "$.status", "circleci__jobs": "$.status"},
           _circleci_truth, _circleci_change, "FAULTS_CIRCLECI_TOKEN"),
)
# Jira Data Center pages by offset, where records changed while paging shift the list (a bug the matrix
# found): it runs the cases about paging only.
JIRA_DC = Target("jira-dc", "issues", r"^/jira/rest/api/2/search", r"^/jira/rest/api/2/issue/\d+/changelog",
                 "jira__issues", TARGETS[0].tables, _jira_truth, _jira_change, "FAULTS_JIRA_TOKEN")


def _gitlab_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    deployments = sim.mounts["gitlab"].data.projects[GITLAB_PROJECT].deployments
    return {"gitlab__deployments": {str(d["id"]): d["updated_at"] for d in deployments}}


def _gitlab_change(sim: SimulatorServer):
    api = sim.mounts["gitlab"].data

    def action(_org) -> None:
        # Deployment iid 1 (the oldest update, on page 1) is updated; a new deployment starts.
        api.finish_deployment(GITLAB_PROJECT, 1, "success", _recent(50))
        api.add_deployment(GITLAB_PROJECT, "production", _recent(40), status="running")
    return action


# GitLab pages its updated_at-ordered lists by page number: the same shift (deployments, 6 in pages of 2).
GITLAB = Target("gitlab", "deployments", r"^/gitlab/api/v4/projects/[^/]+/deployments",
                r"^/gitlab/api/v4/projects/[^/]+/environments", "gitlab__deployments",
                {"gitlab__deployments": "$.updated_at"}, _gitlab_truth, _gitlab_change, "FAULTS_GITLAB_TOKEN")


def _ado_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    world = sim.mounts["azure_devops"].world
    return {
        "azure_devops__work_items": {str(i): item["fields"]["System.ChangedDate"] for i, item in world.items.items()},
        "azure_devops__work_item_updates": {f"{i}:{u['id']}": str(u["rev"]) for i, us in world.updates.items()
                                            for u in us},
    }


def _ado_change(sim: SimulatorServer):
    world = sim.mounts["azure_devops"].world
    oldest = min(world.items, key=lambda i: world.items[i]["fields"]["System.ChangedDate"])

    def action(_org) -> None:
        # The oldest change (read in the first batch) changes again; a work item is created.
        now = datetime.now(UTC)
        world.move(oldest, "Removed", int((now - timedelta(minutes=50)).timestamp() * 1000))
        world.add("Bug", "Filed while paging", int((now - timedelta(minutes=40)).timestamp() * 1000))
    return action


# Azure DevOps: WIQL lists the ids, the batches (the paged list) read them, each with its updates.
AZURE_DEVOPS = Target("azure_devops", "work_items", r"^/azure_devops/acme/Data/_apis/wit/workitemsbatch",
                      r"^/azure_devops/acme/Data/_apis/wit/workItems/\d+/updates", "azure_devops__work_items",
                      {"azure_devops__work_items": '$.fields."System.ChangedDate"',
                       "azure_devops__work_item_updates": "$.rev"},
                      _ado_truth, _ado_change, "FAULTS_ADO_PAT", list_method="POST")


BITBUCKET_SCOPE = "acme/mobile-app"


def _bitbucket_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    data = sim.mounts["bitbucket"].data
    return {
        "bitbucket__pull_requests": {f"{BITBUCKET_SCOPE}:{n}": pr["updated_on"]
                                     for n, pr in data.pull_requests["mobile-app"].items()},
        # an activity entry never changes: its version is the pull request it belongs to
        "bitbucket__pull_request_activity": {
            f"{BITBUCKET_SCOPE}:{n}:{bitbucket.PULL_REQUEST_ACTIVITY.key_of(e)}": str(n)
            for n, es in data.activity["mobile-app"].items() for e in es},
    }


def _bitbucket_change(sim: SimulatorServer):
    data = sim.mounts["bitbucket"].data

    def action(_org) -> None:
        # PR #1 (the oldest update, read on page 1) is commented on and moves to the end; a new PR opens.
        data.comment(1, "bo", _recent(50))
        data.open_pull_request("Opened while paging", "ada", _recent(40))
    return action


# Bitbucket: pull requests oldest update first, pages by number behind `next` links; activity per PR.
BITBUCKET = Target("bitbucket", "pull_requests", r"^/bitbucket/2\.0/repositories/acme/mobile-app/pullrequests\?",
                   r"^/bitbucket/2\.0/repositories/acme/mobile-app/pullrequests/\d+/",
                   "bitbucket__pull_requests",
                   {"bitbucket__pull_requests": "$.updated_on",
                    "bitbucket__pull_request_activity": "$.pull_request.id"},
                   _bitbucket_truth, _bitbucket_change, "FAULTS_BITBUCKET_TOKEN")


BITBUCKET_DC_SCOPE = "MOB/mobile-api"


def _bitbucket_dc_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    data = sim.mounts["bitbucket_dc"].data
    return {
        "bitbucket__pull_requests": {
            f"{BITBUCKET_DC_SCOPE}:{n}": datetime.fromtimestamp(pr["updatedDate"] / 1000, UTC).isoformat()
            for n, pr in data.pull_requests["mobile-api"].items()},
        # an activity never changes: its version is its action
        "bitbucket__pull_request_activity": {f"{BITBUCKET_DC_SCOPE}:{n}:{a['id']}": a["action"]
                                             for n, entries in data.activities["mobile-api"].items() for a in entries},
    }


def _bitbucket_dc_change(sim: SimulatorServer):
    data = sim.mounts["bitbucket_dc"].data
    oldest = min(data.pull_requests["mobile-api"].values(), key=lambda pr: pr["updatedDate"])["id"]

    def action(_org) -> None:
        # The least recently updated PR (last on the newest-first list, not read yet) is commented on and moves to
        # the front, past what was read, pushing the rest down a place; a new PR opens in front of it.
        data.comment(oldest, "bo", _recent(50))
        data.open_pull_request("Opened while paging", "ada", _recent(40))
    return action


# Bitbucket Data Center: pull requests newest update first, start/limit pages to nextPageStart; activities per PR.
BITBUCKET_DC = Target("bitbucket-dc", "pull_requests",
                      r"^/bitbucket_dc/rest/api/1\.0/projects/MOB/repos/mobile-api/pull-requests\?",
                      r"^/bitbucket_dc/rest/api/1\.0/projects/MOB/repos/mobile-api/pull-requests/\d+/",
                      "bitbucket__pull_requests",
                      {"bitbucket__pull_requests": "$.updatedDate", "bitbucket__pull_request_activity": "$.action"},
                      _bitbucket_dc_truth, _bitbucket_dc_change, "FAULTS_BITBUCKET_DC_TOKEN")


def _linear_truth(sim: SimulatorServer) -> dict[str, dict[str, str]]:
    world = sim.mounts["linear"].world
    return {"linear__issues": {i["id"]: i["updatedAt"] for i in world.issues},
            "linear__issue_history": {h["id"]: h["createdAt"] for hs in world.history.values() for h in hs}}


def _linear_change(sim: SimulatorServer):
    world = sim.mounts["linear"].world
    oldest = min(world.issues, key=lambda i: i["updatedAt"])

    def action(_org) -> None:
        # The least recently updated issue (on the last page, not read yet) is updated and moves to the front,
        # past what was read; an issue is created.
        oldest["updatedAt"] = _recent(50).replace("Z", ".000Z")
        clone = {**world.issues[0], "id": "00000000-0000-4000-8000-00000000f417", "identifier": "MOB-999",
                 "createdAt": _recent(40).replace("Z", ".000Z"), "updatedAt": _recent(40).replace("Z", ".000Z")}
        world.issues.append(clone)
        world.history[clone["id"]] = []
    return action


# Linear: one GraphQL path for every query, so list and child faults are aimed at the same requests.
LINEAR = Target("linear", "issues", r"^/linear/graphql", r"^/linear/graphql", "linear__issues",
                {"linear__issues": "$.updatedAt", "linear__issue_history": "$.createdAt"},
                _linear_truth, _linear_change, "FAULTS_LINEAR_KEY", list_method="POST", refused_status=400)
BY_NAME = {t.name: t for t in (*TARGETS, JIRA_DC, GITLAB, AZURE_DEVOPS, BITBUCKET, BITBUCKET_DC, LINEAR)}


# ---------------------------------------------------------------------------------------------- checks

def stored(store: RawStore, target: Target) -> dict[str, dict[str, str]]:
    """What the raw tables hold for the target's source: table -> record key -> version field."""
    out: dict[str, dict[str, str]] = {}
    for table, path in target.tables.items():
        rows = store.con.execute(
            f"SELECT record_key, payload ->> '{path}' FROM raw.{table} WHERE source_instance = ?",
            [target.source_name],
        ).fetchall()
        out[table] = dict(rows)
        assert len(out[table]) == len(rows), f"{table}: a record key is stored twice"
    return out


def assert_matches_truth(store: RawStore, sim: SimulatorServer, target: Target) -> None:
    """Zero lost, zero duplicated, zero phantom: every table holds exactly the simulator's records, each at
    its current version."""
    truth, have = target.truth(sim), stored(store, target)
    for table in target.tables:
        lost = sorted(set(truth[table]) - set(have[table]))
        extra = sorted(set(have[table]) - set(truth[table]))
        stale = sorted(k for k in truth[table].keys() & have[table].keys()
                       if _same(truth[table][k]) != _same(have[table][k]))
        assert (lost, extra, stale) == ([], [], []), f"{table}: lost {lost}, not in the source {extra}, stale {stale}"


def assert_partial_load_is_sound(store: RawStore, sim: SimulatorServer, target: Target) -> None:
    """After a run that failed or was killed: nothing stored that the source lacks, no key twice, and the
    cursor never past committed data: every record at or before the saved cursor is stored."""
    truth, have = target.truth(sim), stored(store, target)
    for table in target.tables:
        assert set(have[table]) <= set(truth[table]), f"{table}: rows the source does not have"
    cursors = store.con.execute(
        "SELECT scope, cursor_value FROM raw._state WHERE source_instance = ? AND stream = ?",
        [target.source_name, target.main_table.split("__", 1)[1]],
    ).fetchall()
    for _scope, cursor in cursors:
        at = parse_timestamp(cursor)
        behind = sorted(k for k, v in truth[target.main_table].items()
                        if parse_timestamp(v) <= at and k not in have[target.main_table])
        assert behind == [], f"cursor {cursor} is past records that were never committed: {behind}"


def _same(value: str | None) -> Any:
    """Timestamps compare as instants (the APIs and the payload may spell them differently: Bitbucket Data
    Center's are epoch milliseconds)."""
    if isinstance(value, str) and len(value) == 13 and value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    parsed = parse_timestamp(value) if isinstance(value, str) and value[:2] == "20" else None
    return parsed or value
