"""Alerts: one message per problem run, to Slack, Teams and/or e-mail, never carrying a secret.

A message names, for each problem, the source, the asset and the error, so whoever reads it at 08:00
knows where to look without opening Dagster. Delivery problems are returned (and logged by the caller),
never raised: an unreachable webhook must not turn a good run into a failed one.
"""

import logging
import re
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests
from pydantic import BaseModel, SecretStr

from connectors.config import AlertsConfig, ThroughlineConfig
from connectors.core.raw import STREAM_RUNS_TABLE, open_warehouse

log = logging.getLogger(__name__)
REDACTED = "***"


@dataclass(frozen=True)
class Problem:
    error: str
    source: str | None = None
    asset: str | None = None
    scope: str | None = None

    def line(self) -> str:
        where = ", ".join(part for part in (
            f"source '{self.source}'" if self.source else "",
            f"asset {self.asset}" if self.asset else "",
            f"scope '{self.scope}'" if self.scope else "",
        ) if part)
        return f"- {where + ': ' if where else ''}{self.error}"


@dataclass(frozen=True)
class Alert:
    title: str
    problems: list[Problem] = field(default_factory=list)
    footer: str = ""

    def text(self) -> str:
        lines = [self.title, *(p.line() for p in self.problems)]
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)


def secrets_of(config: ThroughlineConfig) -> list[str]:
    """Every secret value the configuration holds (tokens, keys, webhook URLs, passwords)."""
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if secret:
                found.append(secret)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(config)
    # longest first, so a secret containing another is replaced whole
    return sorted(set(found), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:  # shorter values would blank out ordinary words
            text = text.replace(secret, REDACTED)
    return text


def send_alert(alert: Alert, config: ThroughlineConfig, *, timeout: float = 15.0) -> list[str]:
    """Deliver to every configured channel; returns one line per channel that failed (already redacted)."""
    secrets = secrets_of(config)
    text = redact(alert.text(), secrets)
    channels: AlertsConfig = config.alerts
    failures: list[str] = []
    if channels.slack is not None:
        failures += _post("Slack", channels.slack.webhook_url, {"text": text}, timeout, secrets)
    if channels.teams is not None:
        # An Adaptive Card in a message: the payload both Teams incoming webhooks and Workflows accept.
        card = {
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard", "version": "1.4",
                    "body": [{"type": "TextBlock", "text": line, "wrap": True} for line in text.splitlines()],
                },
            }],
        }
        failures += _post("Teams", channels.teams.webhook_url, card, timeout, secrets)
    if channels.email is not None:
        failures += _mail(channels.email, alert.title, text, timeout, secrets)
    for failure in failures:
        log.warning(failure)
    return failures


def _post(channel: str, url: SecretStr, payload: dict, timeout: float, secrets: list[str]) -> list[str]:
    """POST to a webhook. A failure names the channel and the HTTP status or the kind of error only: the
    webhook URL is the secret (its path), and requests puts it in its exception texts and the server may
    echo it in its body, so neither is ever quoted."""
    try:
        response = requests.post(url.get_secret_value(), json=payload, timeout=timeout)
    except requests.Timeout:
        return [f"alert to {channel} not delivered: no answer within {timeout:g} s; check the network to the "
                f"webhook's host"]
    except requests.RequestException as exc:
        return [f"alert to {channel} not delivered: {_cause_of(exc)}; check alerts.{channel.lower()}.webhook_url "
                f"and the network"]
    if response.status_code >= 300:
        return [f"alert to {channel} not delivered: HTTP {response.status_code} {response.reason or ''}".rstrip()
                + f"; check alerts.{channel.lower()}.webhook_url (a revoked webhook answers 403, 404 or 410)"]
    return []


def _cause_of(exc: BaseException) -> str:
    """What went wrong with a connection, without the exception texts (they quote the URL): the class names
    down the chain, e.g. `ConnectionError (ConnectionRefusedError)`."""
    inner, depth = exc, 0
    while depth < 8:
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = inner.args[0] if inner.args and isinstance(inner.args[0], BaseException) else None
        nested = nested or inner.__cause__ or inner.__context__
        if nested is None:
            break
        inner, depth = nested, depth + 1
    return f"{type(exc).__name__} ({type(inner).__name__})" if inner is not exc else type(exc).__name__


def _mail(email, subject: str, text: str, timeout: float, secrets: list[str]) -> list[str]:
    message = EmailMessage()
    message["Subject"] = redact(subject, secrets)
    message["From"] = email.sender
    message["To"] = ", ".join(email.recipients)
    message.set_content(text)
    try:
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=timeout) as smtp:
            if email.starttls:
                smtp.starttls()
            if email.username:
                smtp.login(email.username, email.password.get_secret_value() if email.password else "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The class and SMTP code only: a server's reply may quote the login.
        code = f" {exc.smtp_code}" if isinstance(exc, smtplib.SMTPResponseException) else ""
        return [redact(f"alert by e-mail via {email.smtp_host}:{email.smtp_port} not delivered: "
                       f"{_cause_of(exc)}{code}", secrets)]
    return []


def problems_from_events(events) -> list[Problem]:
    """The failed steps and failed asset checks of a run, from its Dagster events."""
    problems: list[Problem] = []
    for event in events:
        if event is None:
            continue
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            problems += _step_problems(event.step_key or "", event.step_failure_data.error.message)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation is not None and not evaluation.passed:
                problems.append(Problem(
                    error=f"check {evaluation.check_name} failed",
                    asset="/".join(evaluation.asset_key.path),
                ))
    return problems


# The first line of a step failure that lists failed scopes, one "<source> [<scope>]: <error>" line each
# (the sharded landing steps), or one "<source> [<scope>] <asset>: <error>" line each (ops/run_outcome).
_SCOPE_LINE = re.compile(r"^(?P<source>[a-z0-9][a-z0-9_-]*)(?: \[(?P<scope>[^\]]*)\])?(?: (?P<asset>raw/\S+))?: (?P<error>.*)$")


def scope_line(source: str, scope: str | None, asset: str | None, error: str) -> str:
    return f"{source}{f' [{scope}]' if scope else ''}{f' {asset}' if asset else ''}: {error}"


def _step_problems(step_key: str, message: str) -> list[Problem]:
    # Steps that fail for sources or scopes say "... failed while reading ..." (or "... scope(s) of this run
    # failed") on the first line, then one line per source or scope: one problem per line.
    lines = [line for line in message.strip().splitlines() if line.strip()]
    asset = step_key.replace("extract_", "raw/", 1) if step_key.startswith("extract_") else step_key
    asset = asset.replace("landing__", "landing/", 1) if asset.startswith("landing__") else asset
    if lines and ("failed while reading" in lines[0] or "of this run failed" in lines[0]):
        problems = []
        for line in lines[1:]:
            match = _SCOPE_LINE.match(line.strip())
            if match is None:
                source, _, error = line.partition(": ")
                problems.append(Problem(error=error.strip() or line, source=source.strip(), asset=asset))
                continue
            problems.append(Problem(error=match["error"].strip(), source=match["source"],
                                    asset=match["asset"] or asset, scope=match["scope"] or None))
        if problems:
            return problems
    return [Problem(error=lines[0] if lines else "failed without a message", asset=asset)]


def _report(warehouse, *queries: tuple[str, list]) -> list[list[tuple]]:
    """The answers of queries over the run report, each [] while the warehouse has no report yet."""
    con = open_warehouse(warehouse, read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops' AND table_name = 'stream_runs'"
        ).fetchall()[0][0]
        return [con.execute(sql, params).fetchall() if exists else [] for sql, params in queries]
    finally:
        con.close()


def failed_scopes(warehouse, run_id: str) -> list[Problem]:
    """Every failed source, stream and scope of one run, from the run report (ops.stream_runs), with what the
    failed read cost; [] when the warehouse has no report yet."""
    [rows] = _report(warehouse, (
        f"""SELECT source_instance, source_type, extraction_group, stream, scope, error, requests, retries
            FROM {STREAM_RUNS_TABLE} WHERE run_id = ? AND status = 'failed' AND error IS NOT NULL
            ORDER BY source_instance, stream, scope NULLS FIRST""", [run_id]))
    return [
        # a whole source's failure (stream `*`) is named by its step's asset, raw/<type>__<group>
        Problem(source=source, asset=f"raw/{stream}" if stream != "*" else f"raw/{source_type}__{group}",
                scope=scope if scope not in (None, "*") else None,
                error=f"{error} ({requests} request(s), {retries} retries)")
        for source, source_type, group, stream, scope, error, requests, retries in rows
    ]


def run_problems(events, warehouse, run_id: str) -> list[Problem]:
    """The problems of a run: its failed steps and mart tests, and every failed scope of its run report
    (also when dbt failed and the last step, which lists them, did not run). Each is named once."""
    problems = problems_from_events(events)
    try:
        reported = failed_scopes(warehouse, run_id)
    except Exception as exc:  # noqa: BLE001 - the warehouse may be held by the next run; the steps still say
        log.warning("run report not read for the alert: %s", type(exc).__name__)
        reported = []
    named = {(p.source, p.asset, p.scope) for p in problems}
    return problems + [p for p in reported if (p.source, p.asset, p.scope) not in named]


def stale_streams(warehouse, config: ThroughlineConfig, now) -> list[Problem]:
    """Configured sources, and scopes of a fresh source, whose newest successful read is older than their
    freshness limit.

    Reads the run report (ops.stream_runs); a source with no successful read at all is stale too. A scope
    (repository, project ...) is looked at per extraction group when the source's latest run read it: a
    scope that keeps failing while the rest of its source loads goes stale on its own.
    """
    rows, scopes = _report(
        warehouse,
        (f"SELECT source_instance, max(finished_at) FROM {STREAM_RUNS_TABLE} "
         "WHERE status = 'success' GROUP BY source_instance", []),
        (f"""WITH latest AS (
                    SELECT source_instance, arg_max(run_id, finished_at) AS run_id
                    FROM {STREAM_RUNS_TABLE} GROUP BY source_instance
                ), read_last AS (
                    SELECT DISTINCT r.source_instance, r.extraction_group, r.scope
                    FROM {STREAM_RUNS_TABLE} r JOIN latest USING (source_instance, run_id)
                    WHERE r.scope IS NOT NULL AND r.scope <> '*'
                )
                SELECT k.source_instance, k.extraction_group, k.scope,
                       max(r.finished_at) FILTER (WHERE r.status = 'success')
                FROM read_last k JOIN {STREAM_RUNS_TABLE} r USING (source_instance, extraction_group, scope)
                GROUP BY ALL ORDER BY 1, 2, 3""", []),
    )
    latest = dict(rows)
    problems = []
    fresh = set()
    for source in config.sources:
        limit = config.freshness.limit_for(source.name)
        last = latest.get(source.name)
        if last is None:
            problems.append(Problem(source=source.name, error="never read successfully; run the nightly job"))
            continue
        age_hours = (now - last).total_seconds() / 3600
        if age_hours > limit:
            problems.append(Problem(
                source=source.name,
                error=f"data is {age_hours:.1f} h old (last successful read {last:%Y-%m-%d %H:%M} UTC), "
                f"over its freshness limit of {limit:g} h",
            ))
        else:
            fresh.add(source.name)
    for source_name, group, scope, last in scopes:
        if source_name not in fresh:
            continue  # the source as a whole is already named
        limit = config.freshness.limit_for(source_name)
        if last is None:
            problems.append(Problem(source=source_name, scope=scope,
                                    error=f"{group}: never read successfully; its last run failed (see the run report)"))
        elif (age_hours := (now - last).total_seconds() / 3600) > limit:
            problems.append(Problem(
                source=source_name, scope=scope,
                error=f"{group}: data is {age_hours:.1f} h old (last successful read {last:%Y-%m-%d %H:%M} UTC), "
                f"over its freshness limit of {limit:g} h",
            ))
    return problems
