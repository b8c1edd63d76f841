"""The organisation as it stood at an earlier moment: ``cut_org(org, cut_ms)`` removes from a generated Org
everything that happens at or after ``cut_ms`` and sets what remains back to its state then.

Why: the demo runs nightly. Generating the history up to each night's as-of day would give every night its own
world (the history's span, and so every random draw, moves with the day), and a second night would load a
shifted copy of the first into the same warehouse. Instead a world is generated once up to a fixed horizon and
each night serves that world cut at its as-of day, so the night after is the night before plus one day's work,
with the same ids, keys and numbers. Nothing here draws a random number.

What a cut undoes, per source:
  * Jira: issues created after it are gone; an issue's histories after it are dropped and every field they
    changed set back to the value before the earliest dropped one (Jira's changelog ``from``); ``updated``,
    ``resolutiondate`` and ``statuscategorychangedate`` follow the kept histories; sprints get their state at
    the cut (closed, active, one future one); epics' parent stubs and issue links carry the cut statuses.
  * GitHub: commits, pull requests, reviews, deployments and their statuses, releases, runs and incidents
    after it are gone; a pull request merged or closed after it is open, a run finishing after it in
    progress (a re-run started after it is its first attempt again).
  * Outcomes: observations, check-ins and survey answers dated on or after the cut day are gone.
The worlds laid out beside the Org (Azure DevOps, Linear) cut themselves from ``org.cut_ms``.
"""

from __future__ import annotations

from .model import SPRINT_FIELD, STORY_POINTS_FIELD, Org, RepoStore, _agile_ts
from .timefmt import MS_PER_HOUR, github_ts, ms_to_dt, parse_ms


def cut_org(org: Org, cut_ms: int) -> None:
    """Set ``org`` back to its state at ``cut_ms`` (epoch ms), in place."""
    with org.lock:
        _cut_sprints(org, cut_ms)
        _cut_jira(org, cut_ms)
        for store in org.repos.values():
            _cut_repo(org, store, cut_ms)
        _cut_outcomes(org, cut_ms)
        org.cut_ms = cut_ms
        org.invalidate()


# ---------------------------------------------------------------------- Jira


def _cut_sprints(org: Org, cut_ms: int) -> None:
    """Each board's sprints as they were: closed before the cut, active across it, the next one future."""
    for board, sprints in org.jira_sprints.items():
        kept = []
        for sprint in sprints:
            start, end = parse_ms(sprint["startDate"]), parse_ms(sprint["endDate"])
            if start > cut_ms:
                state = "future"
            elif end < cut_ms:
                state = "closed"
            else:
                state = "active"
            if state != "closed":
                sprint.pop("completeDate", None)
            elif "completeDate" not in sprint:
                sprint["completeDate"] = _agile_ts(end + MS_PER_HOUR)  # as the generator completes one
            sprint["state"] = state
            kept.append(sprint)
            if state == "future":
                break
        org.jira_sprints[board] = kept


def _cut_jira(org: Org, cut_ms: int) -> None:
    sprint_values = {s["id"]: org.sprint_field_value(s) for ss in org.jira_sprints.values() for s in ss}
    sprint_lists: dict[str, list[dict]] = {}
    gone = {ident for ident, issue in org.jira_issues.items() if parse_ms(issue["fields"]["created"]) >= cut_ms}
    for ident in gone:
        issue = org.jira_issues.pop(ident)
        org.jira_changelogs.pop(ident, None)
        org._key_to_id.pop(issue["key"], None)
        org._parent_stubs.pop(ident, None)
    for key, ids in org._project_issue_ids.items():
        org._project_issue_ids[key] = [i for i in ids if i not in gone]
    for key in org._project_next_number:
        numbers = [int(org.jira_issues[i]["key"].rsplit("-", 1)[1]) for i in org._project_issue_ids.get(key, [])]
        org._project_next_number[key] = max(numbers, default=0) + 1

    for ident, issue in list(org.jira_issues.items()):
        histories = org.jira_changelogs.get(ident, [])
        kept = [h for h in histories if parse_ms(h["created"]) < cut_ms]
        fields = issue["fields"]
        if len(kept) < len(histories):
            fields = dict(fields)  # the dicts inside are shared between issues: replace, never edit them
            for history in reversed(histories[len(kept):]):
                for item in reversed(history["items"]):
                    _undo(org, fields, item, sprint_values, sprint_lists)
            _dates_from(org, fields, kept)
            org.jira_changelogs[ident] = kept
        if fields.get(SPRINT_FIELD):
            ids = tuple(s["id"] for s in fields[SPRINT_FIELD])
            fields = fields if fields is not issue["fields"] else dict(fields)
            fields[SPRINT_FIELD] = _sprint_list(ids, sprint_values, sprint_lists)
        if fields is not issue["fields"]:
            org.jira_issues[ident] = {**issue, "fields": fields}

    # Stubs other issues carry (an epic as a parent, the other end of a link) show its status now.
    for ident, stub in org._parent_stubs.items():
        stub["fields"]["status"] = org.jira_issues[ident]["fields"]["status"]
    for issue in org.jira_issues.values():
        links = issue["fields"].get("issuelinks")
        if links:
            issue["fields"]["issuelinks"] = [_relinked(org, entry) for entry in links if _other_end(entry) not in gone]


def _undo(org: Org, fields: dict, item: dict, sprint_values: dict, sprint_lists: dict) -> None:
    """Set the field ``item`` changed back to its value before the change."""
    field = item.get("fieldId") or item["field"]
    if field == "status":
        fields["status"] = org.jira_status(item["from"])
    elif field == "resolution":
        fields["resolution"] = org._resolution(item["fromString"]) if item["fromString"] else None
    elif field == "assignee":
        fields["assignee"] = org.jira_users[item["from"]] if item["from"] else None
    elif field == "labels":
        fields["labels"] = item["fromString"].split(" ") if item["fromString"] else []
    elif field == STORY_POINTS_FIELD:
        fields[STORY_POINTS_FIELD] = float(item["fromString"]) if item["fromString"] else None
    elif field == SPRINT_FIELD:
        ids = tuple(int(i) for i in item["from"].split(", ")) if item["from"] else ()
        fields[SPRINT_FIELD] = _sprint_list(ids, sprint_values, sprint_lists) if ids else None
    # Rank, description and Flagged are not among the fields the generator serves.


def _dates_from(org: Org, fields: dict, kept: list[dict]) -> None:
    """``updated``, ``resolutiondate`` and ``statuscategorychangedate`` as the kept histories leave them."""
    fields["updated"] = max([fields["created"], *(h["created"] for h in kept)], key=parse_ms)
    resolved = category = None
    for history in kept:
        for item in history["items"]:
            if item["field"] == "resolution":
                resolved = history["created"] if item["to"] else None
            elif item["field"] == "status" and _category(org, item["from"]) != _category(org, item["to"]):
                category = history["created"]
    fields["resolutiondate"] = resolved if fields["resolution"] else None
    fields["statuscategorychangedate"] = category or fields["created"]


def _category(org: Org, status_id: str | None) -> str | None:
    return org.jira_status(status_id)["statusCategory"]["key"] if status_id else None


def _sprint_list(ids: tuple[int, ...], sprint_values: dict, sprint_lists: dict) -> list[dict]:
    key = ", ".join(map(str, ids))
    found = sprint_lists.get(key)
    if found is None:
        found = sprint_lists[key] = [sprint_values[i] for i in ids if i in sprint_values]
    return found


def _other_end(entry: dict) -> str:
    return (entry.get("outwardIssue") or entry.get("inwardIssue"))["id"]


def _relinked(org: Org, entry: dict) -> dict:
    side = "outwardIssue" if "outwardIssue" in entry else "inwardIssue"
    stub = entry[side]
    status = org.jira_issues[stub["id"]]["fields"]["status"]
    if stub["fields"]["status"] is status:
        return entry
    return {**entry, side: {**stub, "fields": {**stub["fields"], "status": status}}}


# ---------------------------------------------------------------------- GitHub


def _cut_repo(org: Org, store: RepoStore, cut_ms: int) -> None:
    def before(text: str | None) -> bool:
        return text is not None and parse_ms(text) < cut_ms

    store.commits = [c for c in store.commits if before(c["commit"]["committer"]["date"])]
    if store.commits:
        store.repo["pushed_at"] = store.repo["updated_at"] = store.commits[-1]["commit"]["committer"]["date"]

    for number, pr in list(store.pulls.items()):
        if not before(pr["created_at"]):
            del store.pulls[number]
            store.reviews.pop(number, None)
            store.pr_commits.pop(number, None)
            continue
        reviews = [r for r in store.reviews.get(number, []) if before(r["submitted_at"])]
        commits = [c for c in store.pr_commits.get(number, []) if before(c["commit"]["committer"]["date"])]
        changed = dict(pr)
        if not before(pr["closed_at"]):
            changed.update(state="open", closed_at=None, merged_at=None, merge_commit_sha=None)
        if commits and commits[-1]["sha"] != pr["head"]["sha"]:
            changed["head"] = {**pr["head"], "sha": commits[-1]["sha"]}
        times = [pr["created_at"], *(r["submitted_at"] for r in reviews),
                 *([changed["closed_at"]] if changed["closed_at"] else []),
                 *([commits[-1]["commit"]["committer"]["date"]] if commits else [])]
        changed["updated_at"] = max(times, key=parse_ms)
        store.pulls[number] = changed if changed != pr else pr
        store.reviews[number] = reviews
        store.pr_commits[number] = commits

    for number, issue in list(store.issues.items()):
        if not before(issue["created_at"]):
            del store.issues[number]
        elif issue["closed_at"] and not before(issue["closed_at"]):
            store.issues[number] = {**issue, "state": "open", "closed_at": None, "state_reason": None,
                                    "updated_at": issue["created_at"]}
    numbers = [*store.pulls, *store.issues]
    store.next_number = max(numbers, default=0) + 1

    for ident, dep in list(store.deployments.items()):
        if not before(dep["created_at"]):
            del store.deployments[ident]
            store.deployment_statuses.pop(ident, None)
            continue
        statuses = [s for s in store.deployment_statuses.get(ident, []) if before(s["created_at"])]
        store.deployment_statuses[ident] = statuses
        updated = max([dep["created_at"], *(s["updated_at"] for s in statuses)], key=parse_ms)
        if updated != dep["updated_at"]:
            store.deployments[ident] = {**dep, "updated_at": updated}

    for ident, release in list(store.releases.items()):
        if not before(release["published_at"]):
            del store.releases[ident]
            store.tags.pop(release["tag_name"], None)

    for ident, run in list(store.runs.items()):
        if not before(run["created_at"]):
            del store.runs[ident]
            store.jobs.pop(ident, None)
            continue
        cut_run = _run_at(run, cut_ms)
        if cut_run is not run:
            store.runs[ident] = cut_run
            store.jobs.pop(ident, None)  # derived from the run again on demand
    numbers_by_workflow: dict[int, int] = {}
    for run in store.runs.values():
        wf = run["workflow_id"]
        numbers_by_workflow[wf] = max(numbers_by_workflow.get(wf, 0), run["run_number"])
    for wf in store.run_numbers:
        store.run_numbers[wf] = numbers_by_workflow.get(wf, 0)
    org._dirty_repo(store)


def _run_at(run: dict, cut_ms: int) -> dict:
    """A workflow run created before ``cut_ms`` as it stood then."""
    started = parse_ms(run["run_started_at"])
    if run["run_attempt"] > 1 and started >= cut_ms:
        # The re-run had not started: the first attempt, which failed (only failed runs are re-run here) after
        # as long as the second took; unknown if the second was still running, then the first counts as running.
        created = parse_ms(run["created_at"])
        done = run["status"] == "completed"
        first_end = created + parse_ms(run["updated_at"]) - started if done else None
        run = {**run, "run_attempt": 1, "run_started_at": run["created_at"], "previous_attempt_url": None}
        if first_end is not None and first_end < cut_ms:
            return {**run, "status": "completed", "conclusion": "failure", "updated_at": github_ts(first_end)}
        return {**run, "status": "in_progress", "conclusion": None, "updated_at": run["created_at"]}
    if run["status"] == "completed" and parse_ms(run["updated_at"]) >= cut_ms:
        return {**run, "status": "in_progress", "conclusion": None, "updated_at": run["run_started_at"]}
    return run


# ---------------------------------------------------------------------- outcomes

_DATED = ("observed_on", "surveyed_on")


def _cut_outcomes(org: Org, cut_ms: int) -> None:
    day = ms_to_dt(cut_ms).date().isoformat()
    for kind, rows in org.outcomes.items():
        org.outcomes[kind] = [row for row in rows if all(row.get(k) is None or row[k] < day for k in _DATED)]
