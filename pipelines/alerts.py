"""Alerts: one message per problem run, to Slack, Teams and/or e-mail, never carrying a secret.

A message names, for each problem, the source, the asset and the error, so whoever reads it at 08:00
knows where to look without opening Dagster. Delivery problems are returned (and logged by the caller),
never raised: an unreachable webhook must not turn a good run into a failed one.
"""

import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests
from pydantic import BaseModel, SecretStr

from connectors.config import AlertsConfig, ThroughlineConfig

log = logging.getLogger(__name__)
REDACTED = "***"


@dataclass(frozen=True)
class Problem:
    error: str
    source: str | None = None
    asset: str | None = None

    def line(self) -> str:
        where = ", ".join(part for part in (
            f"source '{self.source}'" if self.source else "",
            f"asset {self.asset}" if self.asset else "",
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
    try:
        response = requests.post(url.get_secret_value(), json=payload, timeout=timeout)
    except requests.RequestException as exc:
        return [redact(f"alert to {channel} not delivered: {type(exc).__name__}: {exc}", secrets)]
    if response.status_code >= 300:
        body = response.text[:200]
        return [redact(f"alert to {channel} not delivered: HTTP {response.status_code} {body}", secrets)]
    return []


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
        return [redact(f"alert by e-mail via {email.smtp_host}:{email.smtp_port} not delivered: "
                       f"{type(exc).__name__}: {exc}", secrets)]
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


def _step_problems(step_key: str, message: str) -> list[Problem]:
    # Extract steps fail with "N <type> source(s) failed while reading <group>:" and one
    # "<source name>: <error>" line per source (pipelines/raw_assets.py): one problem per source.
    lines = [line for line in message.strip().splitlines() if line.strip()]
    asset = step_key.replace("extract_", "raw/", 1) if step_key.startswith("extract_") else step_key
    if lines and "source(s) failed while reading" in lines[0]:
        problems = []
        for line in lines[1:]:
            source, _, error = line.partition(": ")
            problems.append(Problem(error=error.strip() or line, source=source.strip(), asset=asset))
        if problems:
            return problems
    return [Problem(error=lines[0] if lines else "failed without a message", asset=asset)]


def stale_streams(warehouse, config: ThroughlineConfig, now) -> list[Problem]:
    """Configured sources whose newest successful read is older than their freshness limit.

    Reads the run report (ops.stream_runs); a source with no successful read at all is stale too.
    """
    from connectors.core.raw import STREAM_RUNS_TABLE, open_warehouse

    con = open_warehouse(warehouse, read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops' AND table_name = 'stream_runs'"
        ).fetchall()[0][0]
        rows = con.execute(
            f"SELECT source_instance, max(finished_at) FROM {STREAM_RUNS_TABLE} "
            "WHERE status = 'success' GROUP BY source_instance"
        ).fetchall() if exists else []
    finally:
        con.close()
    latest = dict(rows)
    problems = []
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
    return problems
