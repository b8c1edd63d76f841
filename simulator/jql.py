"""The slice of JQL that incremental extraction needs, answered from per-project sorted indexes.

Supported: ``project = X``, ``project in (X, Y)`` (key, id or name), ``updated``/``updatedDate`` with
``>=``, ``>``, ``<=``, ``<``, ``=``, ``key``/``issuekey`` with ``=`` or ``in``, clauses joined by AND, and
``ORDER BY updated [ASC|DESC][, key [same direction]]``; no ORDER BY means ``updated ASC, key ASC``.
Anything else is rejected with a 400 naming what is supported, so a connector cannot silently depend on
a query the simulator would answer wrongly.

Date literals are read in the calling user's time zone (``/myself`` ``timeZone``), exactly as Jira does.
This is the trap the simulator exists to spring: a connector that formats a UTC cursor into JQL without
converting it to the user's zone misses (or re-reads) hours of updates.

Pages are found by bisect on the index and, across projects, by a lazy k-way merge: serving a page costs
O(page size + log n), never a scan. ``nextPageToken`` is a keyset cursor (the sort key of the last issue
returned), so an issue updated while a client pages moves behind the cursor and is returned again later,
never skipped.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import heapq
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .model import Org
from .timefmt import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, dt_to_ms, parse_ms

Row = tuple[int, str, int, str]  # (updated ms, project key, key number, issue id): the global sort key


class JqlError(ValueError):
    """A query Jira (or the simulator) rejects with 400; ``str()`` is the message Jira would give."""


@dataclass(frozen=True)
class Query:
    projects: tuple[str, ...] | None  # resolved project keys; None = every project
    keys: frozenset[str] | None  # issue keys from key = / key in
    lo: int | None  # updated >= lo (ms, inclusive)
    hi: int | None  # updated < hi (ms, exclusive)
    descending: bool
    bounded: bool  # has at least one restriction (the enhanced search refuses unbounded queries)
    fingerprint: str


_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|!~|=|>|<|~)|(?P<punct>[(),])"""
    r"""|(?P<word>[^\s(),=<>!~"']+))"""
)
_SUPPORTED = (
    "the simulator supports: project = X, project in (X, Y), updated >=|>|<=|<|= \"yyyy-MM-dd HH:mm\", "
    "key in (K-1, K-2), joined by AND, ORDER BY updated [ASC|DESC][, key]"
)
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_RELATIVE = re.compile(r"([+-]?)\s*((?:\d+\s*[wdhm]\s*)+)")
_UNIT_MS = {"w": 7 * MS_PER_DAY, "d": MS_PER_DAY, "h": MS_PER_HOUR, "m": MS_PER_MINUTE}


def _tokens(jql: str) -> list[tuple[str, str]]:
    out = []
    pos = 0
    jql = jql.rstrip()
    while pos < len(jql):
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            raise JqlError(f"Error in the JQL Query: The character '{jql[pos]}' is a reserved JQL character.")
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        out.append((kind, text))
        pos = m.end()
    return out


def parse(jql: str, org: Org, time_zone: str, now_ms: int) -> Query:
    tokens = _tokens(jql or "")
    pos = 0

    def peek(offset: int = 0) -> tuple[str, str] | None:
        return tokens[pos + offset] if pos + offset < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting either a value or a field but reached the end. "
                           + _SUPPORTED)
        pos += 1
        return tokens[pos - 1]

    def is_word(tok, *words) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    projects: set[str] | None = None
    keys: set[str] | None = None
    lo = hi = None
    bounded = False
    while pos < len(tokens) and not is_word(peek(), "order"):
        if bounded:
            conj = take()
            if not is_word(conj, "and"):
                raise JqlError(f"Error in the JQL Query: unsupported '{conj[1]}'; " + _SUPPORTED)
        kind, field = take()
        if kind != "word":
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{field}'. " + _SUPPORTED)
        field_l = field.lower()
        op_kind, op = take()
        if op_kind == "word" and op.lower() in ("in", "not"):
            op = op.lower()
            if op == "not":
                raise JqlError("Error in the JQL Query: 'not in' is not supported; " + _SUPPORTED)
        elif op_kind != "op":
            raise JqlError(f"Error in the JQL Query: Expecting operator but got '{op}'. " + _SUPPORTED)
        if op == "in":
            if take() != ("punct", "("):
                raise JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
            values = []
            while True:
                vkind, value = take()
                if vkind not in ("word", "str"):
                    raise JqlError(f"Error in the JQL Query: Expecting a value but got '{value}'.")
                values.append(value)
                sep = take()
                if sep == ("punct", ")"):
                    break
                if sep != ("punct", ","):
                    raise JqlError(f"Error in the JQL Query: Expecting ',' or ')' but got '{sep[1]}'.")
        else:
            vkind, value = take()
            if vkind not in ("word", "str"):
                raise JqlError(f"Error in the JQL Query: Expecting a value but got '{value}'.")
            values = [value]
        if field_l == "project":
            if op not in ("=", "in"):
                raise JqlError(f"Error in the JQL Query: operator '{op}' on project is not supported; " + _SUPPORTED)
            found = {_resolve_project(org, v) for v in values}
            projects = found if projects is None else projects & found
        elif field_l in ("key", "issuekey", "id"):
            if op not in ("=", "in"):
                raise JqlError(f"Error in the JQL Query: operator '{op}' on {field} is not supported; " + _SUPPORTED)
            found = set()
            for v in values:
                try:
                    found.add(org.jira_issue(v.upper() if "-" in v else v)["key"])
                except KeyError:
                    if "-" not in v:
                        raise JqlError(f"The issue key '{v}' for field '{field}' is invalid.") from None
                    # Jira answers an unknown (e.g. deleted) key with an empty result, not an error.
            keys = found if keys is None else keys & found
        elif field_l in ("updated", "updateddate"):
            if op not in (">=", ">", "<=", "<", "="):
                raise JqlError(f"Error in the JQL Query: operator '{op}' on updated is not supported; " + _SUPPORTED)
            at = _date_literal(values[0], field, time_zone, now_ms)
            if op in (">=", "="):
                lo = at if lo is None else max(lo, at)
            if op == ">":
                lo = at + 1 if lo is None else max(lo, at + 1)
            if op in ("<=", "="):
                hi = at + 1 if hi is None else min(hi, at + 1)
            if op == "<":
                hi = at if hi is None else min(hi, at)
        else:
            raise JqlError(f"Error in the JQL Query: field '{field}' is not supported by the simulator; " + _SUPPORTED)
        bounded = True

    descending = False
    if pos < len(tokens):
        take()  # ORDER
        if not is_word(peek(), "by"):
            raise JqlError("Error in the JQL Query: Expecting 'by' after 'order'.")
        take()
        sort_fields: list[tuple[str, bool]] = []
        while pos < len(tokens):
            kind, name = take()
            desc = False
            if is_word(peek(), "asc", "desc"):
                desc = take()[1].lower() == "desc"
            sort_fields.append((name.lower(), desc))
            if peek() == ("punct", ","):
                take()
            elif pos < len(tokens):
                raise JqlError(f"Error in the JQL Query: Expecting ',' but got '{peek()[1]}'.")
        names = [n for n, _ in sort_fields]
        if names not in (["updated"], ["updated", "key"], ["updated", "issuekey"], ["updateddate"],
                         ["updateddate", "key"], ["updateddate", "issuekey"]):
            raise JqlError(f"Error in the JQL Query: ORDER BY {', '.join(names)} is not supported; " + _SUPPORTED)
        descending = sort_fields[0][1]
        if len(sort_fields) == 2 and sort_fields[1][1] != descending:
            raise JqlError("Error in the JQL Query: mixed sort directions are not supported; " + _SUPPORTED)

    if keys is not None:
        # A key outside the project filter can never match; dropping it early keeps the sort simple.
        if projects is not None:
            keys = {k for k in keys if k.rsplit("-", 1)[0] in projects}
    fingerprint = hashlib.sha1(" ".join(t for _, t in tokens).lower().encode()).hexdigest()[:12]
    return Query(
        projects=tuple(sorted(projects)) if projects is not None else None,
        keys=frozenset(keys) if keys is not None else None,
        lo=lo,
        hi=hi,
        descending=descending,
        bounded=bounded,
        fingerprint=fingerprint,
    )


def _resolve_project(org: Org, value: str) -> str:
    for key, project in org.jira_projects.items():
        if value.upper() == key or value == project["id"] or value.lower() == project["name"].lower():
            return key
    raise JqlError(f"The value '{value}' does not exist for the field 'project'.")


def _date_literal(value: str, field: str, time_zone: str, now_ms: int) -> int:
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        # The literal names a wall-clock time of the calling user; fold=0 picks the first of an
        # ambiguous autumn hour, as Java's zone rules do.
        return dt_to_ms(naive.replace(tzinfo=ZoneInfo(time_zone)))
    if text.isdigit():
        return int(text)  # epoch milliseconds are accepted too
    m = _RELATIVE.fullmatch(text)
    if m:
        total = sum(int(n) * _UNIT_MS[u] for n, u in re.findall(r"(\d+)\s*([wdhm])", m.group(2)))
        return now_ms - total if m.group(1) == "-" else now_ms + total
    raise JqlError(
        f"Date value '{value}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


# ---------------------------------------------------------------------- execution


def _bounds(index: list, q: Query) -> tuple[int, int]:
    start = bisect.bisect_left(index, (q.lo,)) if q.lo is not None else 0
    end = bisect.bisect_left(index, (q.hi,)) if q.hi is not None else len(index)
    return start, max(start, end)


def _iter_project(org: Org, key: str, q: Query, after: Row | None) -> Iterator[Row]:
    index = org.jira_index(key)
    start, end = _bounds(index, q)
    if not q.descending:
        if after is not None:
            ams, apk, anum = after[0], after[1], after[2]
            probe = (ams, anum + 1) if key == apk else ((ams,) if key > apk else (ams + 1,))
            start = max(start, bisect.bisect_left(index, probe))
        for i in range(start, end):
            ms, num, ident = index[i]
            yield (ms, key, num, ident)
    else:
        if after is not None:
            ams, apk, anum = after[0], after[1], after[2]
            probe = (ams, anum) if key == apk else ((ams + 1,) if key < apk else (ams,))
            end = min(end, bisect.bisect_left(index, probe))
        for i in range(end - 1, start - 1, -1):
            ms, num, ident = index[i]
            yield (ms, key, num, ident)


def iterate(org: Org, q: Query, after: Row | None = None) -> Iterator[Row]:
    """Matching issues in the query's order, starting after the keyset cursor ``after``."""
    if q.keys is not None:
        rows = []
        for k in q.keys:
            try:
                issue = org.jira_issue(k)
            except KeyError:
                continue
            ms = parse_ms(issue["fields"]["updated"])
            if (q.lo is None or ms >= q.lo) and (q.hi is None or ms < q.hi):
                pk, num = issue["key"].rsplit("-", 1)
                rows.append((ms, pk, int(num), issue["id"]))
        rows.sort(reverse=q.descending)
        if after is not None:
            rows = [r for r in rows if (r[:3] < after[:3] if q.descending else r[:3] > after[:3])]
        return iter(rows)
    keys = q.projects if q.projects is not None else tuple(sorted(org.jira_projects))
    streams = [_iter_project(org, k, q, after) for k in keys]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, reverse=q.descending)


def offset_page(org: Org, q: Query, start: int, limit: int) -> list[Row]:
    """Rows ``start .. start+limit`` for offset paging: a slice of the index for one project; across
    several projects the merge has to be walked from the beginning (O(start)), as offset paging deserves."""
    if q.keys is None and q.projects is not None and len(q.projects) == 1:
        key = q.projects[0]
        index = org.jira_index(key)
        lo, hi = _bounds(index, q)
        if q.descending:
            picked = index[max(lo, hi - start - limit):max(lo, hi - start)][::-1]
        else:
            picked = index[lo + start:min(hi, lo + start + limit)]
        return [(ms, key, num, ident) for ms, num, ident in picked]
    return list(itertools.islice(iterate(org, q), start, start + limit))


def count(org: Org, q: Query) -> int:
    if q.keys is not None:
        return sum(1 for _ in iterate(org, q))
    keys = q.projects if q.projects is not None else tuple(org.jira_projects)
    total = 0
    for k in keys:
        start, end = _bounds(org.jira_index(k), q)
        total += end - start
    return total


def encode_token(row: Row, q: Query) -> str:
    raw = json.dumps([row[0], row[1], row[2], q.fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, q: Query) -> Row:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        ms, pk, num, fingerprint = json.loads(raw)
        if fingerprint != q.fingerprint:
            raise ValueError("token of another query")
        return (int(ms), str(pk), int(num), "")
    except Exception:  # noqa: BLE001 - every malformed token gets the same answer from Jira
        raise JqlError("The provided next page token is invalid or expired.") from None
