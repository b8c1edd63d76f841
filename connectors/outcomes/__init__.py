"""The outcomes source: KPI series, key results (with the work they link to), check-ins and team surveys.

Like the events source, each kind (kpis, key_results, key_result_values, surveys) is a folder of CSV / JSON
Lines files or one Parquet file or DuckDB table; reading, fingerprints, one transaction per file and rejected
rows are connectors/core/files.py. This module holds the row rules; docs/sources/outcomes.md the columns.

The payload is the row as the file wrote it plus `_throughline`, the validated values (numbers as numbers,
ISO dates, a key result's links parsed into `{kind, field, value}` objects), so staging only casts.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from connectors.core import files
from connectors.core.engine import StreamResult
from connectors.core.files import Kind, RowCheck, hashed_key, parse_date, parse_number, text
from connectors.core.raw import RawStore
from connectors.core.source import Finding, SourceType
from connectors.outcomes.config import OutcomesSource

log = logging.getLogger(__name__)

TYPE = "outcomes"
REJECTED = files.REJECTED
DOC = "docs/sources/outcomes.md"
# A survey without scale_min / scale_max is on the usual 1-5 agreement scale.
DEFAULT_SCALE = (1.0, 5.0)
LINK_KINDS = ("epic", "initiative", "issue", "label", "field")
_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-\d+")
_FIELD_ID = re.compile(r"customfield_\d+|[a-z][A-Za-z]*")


class OutcomesFileError(files.FileSourceError):
    """A file or table of an outcomes source could not be read at all; the others were loaded."""


KPIS = Kind("kpis", ("kpi", "observed_on", "value"), (("value_stream", "product"),),
            unique_as="kpi, value_stream, product, segment and observed_on")
KEY_RESULTS = Kind("key_results", ("objective", "key_result_id", "key_result", "baseline", "target", "due_on"),
                   (("team", "value_stream"),), unique_as="key_result_id")
KEY_RESULT_VALUES = Kind("key_result_values", ("key_result_id", "observed_on", "value"),
                         unique_as="key_result_id and observed_on")
SURVEYS = Kind("surveys", ("team", "surveyed_on", "dimension", "score"), unique_as="team, surveyed_on and dimension")
KINDS = (KPIS, KEY_RESULTS, KEY_RESULT_VALUES, SURVEYS)


def parse_links(value: Any) -> list[dict[str, str | None]]:
    """`epic:PAY-12; label:checkout-conversion; field:customfield_10050=Q3-growth` (or a JSON list of such
    strings) -> [{kind, field, value}]. Raises ValueError naming the first bad link and the fix."""
    parts = value if isinstance(value, list) else re.split(r"[;\n]", str(value))
    links = []
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        kind, sep, rest = part.partition(":")
        kind, rest = kind.strip().lower(), rest.strip()
        if not sep or kind not in LINK_KINDS or not rest:
            raise ValueError(
                f"'{part}' is not a link; write kind:value with kind one of {', '.join(LINK_KINDS)}, links separated "
                "by ';' (e.g. epic:PAY-12; label:checkout-conversion; field:customfield_10050=Q3-growth)"
            )
        field = None
        if kind == "field":
            field, eq, rest = (s.strip() for s in rest.partition("="))
            if not eq or not rest or not _FIELD_ID.fullmatch(field):
                raise ValueError(f"'{part}' is not a field link; write field:<field id>=<value>, e.g. "
                                 "field:customfield_10050=Q3-growth (GET /rest/api/3/field lists the ids)")
        elif kind in ("epic", "initiative", "issue"):
            if not _ISSUE_KEY.fullmatch(rest.upper()):
                raise ValueError(f"'{part}': '{rest}' is not an issue key; write it like PAY-12")
            rest = rest.upper()
        elif re.search(r"\s", rest):
            raise ValueError(f"'{part}': a Jira label has no spaces; write it as it appears on the issues")
        link = {"kind": kind, "field": field, "value": rest}
        if link not in links:  # a link written twice is one link
            links.append(link)
    return links


def _respondents(value: Any) -> int:
    number = parse_number(value)
    if number < 0 or number != int(number):
        raise ValueError(f"'{text(value)}' is not a count of people; write a whole number like 14")
    return int(number)


def validate(kind: Kind, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The row's validated values (for `_throughline`) and its problems, each naming the column and the fix."""
    check = RowCheck(kind, row)
    get, convert = check.get, check.convert
    if kind is KPIS:
        out = dict(kpi=get("kpi"), observed_on=convert("observed_on", parse_date), value=convert("value", parse_number),
                   unit=get("unit"), value_stream=get("value_stream"), product=get("product"), segment=get("segment"))
    elif kind is KEY_RESULTS:
        baseline, target = convert("baseline", parse_number), convert("target", parse_number)
        start, due = convert("start_on", parse_date), convert("due_on", parse_date)
        out = dict(objective_id=get("objective_id") or get("objective"), objective=get("objective"),
                   key_result_id=get("key_result_id"), key_result=get("key_result"), kpi=get("kpi"),
                   unit=get("unit"), baseline=baseline, target=target, start_on=start, due_on=due,
                   team=get("team"), value_stream=get("value_stream"),
                   links=convert("links", parse_links) or [])
        if baseline is not None and target is not None and baseline == target:
            check.problem(f"columns baseline / target: both are {target:g}, so progress cannot be measured; give "
                          "the value the key result starts from and the one it aims at")
        if start is not None and due is not None and due < start:
            check.problem(f"column due_on: {due} is before start_on {start}; swap them")
    elif kind is KEY_RESULT_VALUES:
        out = dict(key_result_id=get("key_result_id"), observed_on=convert("observed_on", parse_date),
                   value=convert("value", parse_number), note=get("note"))
    else:
        score = convert("score", parse_number)
        low = convert("scale_min", parse_number)
        high = convert("scale_max", parse_number)
        if get("scale_min") is None and get("scale_max") is None:
            low, high = DEFAULT_SCALE
        out = dict(team=get("team"), surveyed_on=convert("surveyed_on", parse_date), dimension=get("dimension"),
                   score=score, scale_min=low, scale_max=high, respondents=convert("respondents", _respondents),
                   value_stream=get("value_stream"))
        if (get("scale_min") is None) != (get("scale_max") is None):
            check.problem("columns scale_min / scale_max: give both (or neither, for the 1-5 scale)")
        elif low is not None and high is not None and low >= high:
            check.problem(f"columns scale_min / scale_max: {low:g} is not below {high:g}; swap them")
        elif score is not None and low is not None and high is not None and not low <= score <= high:
            check.problem(f"column score: {score:g} is outside the scale {low:g} to {high:g}; fix the score, or give "
                          "the survey's scale in scale_min / scale_max")
    return out, check.problems


def record_key(kind: Kind, checked: dict[str, Any]) -> str:
    """What identifies the row: a key result by its id, the others by what they measure and when."""
    if kind is KEY_RESULTS:
        return checked["key_result_id"]
    if kind is KPIS:
        return hashed_key(checked["kpi"], checked["value_stream"], checked["product"], checked["segment"],
                          checked["observed_on"])
    if kind is KEY_RESULT_VALUES:
        return hashed_key(checked["key_result_id"], checked["observed_on"])
    return hashed_key(checked["team"], checked["surveyed_on"], checked["dimension"])


FILES = files.FileSource(TYPE, KINDS, validate, record_key, DOC, OutcomesFileError, log)


def extract(group: str, source: OutcomesSource, store: RawStore) -> list[StreamResult]:
    if group not in SOURCE.groups:
        raise ValueError(f"outcomes has no extraction group '{group}'")
    return files.extract(FILES, source, store)


def check(source: OutcomesSource) -> list[Finding]:
    """`throughline doctor`: each configured folder or table exists, and how many files it offers now."""
    return files.check(FILES, source)


SOURCE = SourceType(TYPE, groups={"outcomes": (*FILES.kind_names, REJECTED)}, extract=extract, check=check,
                    config_model=OutcomesSource)
