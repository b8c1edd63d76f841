"""Start a new source type: ``python -m connectors.kit.scaffold NAME [--root DIR]`` (``make new-source NAME=...``).

Creates, all passing as generated (docs/ADDING_A_SOURCE.md says what to change next), and edits no existing
file: the registry finds every connectors/<name>/ package that has a SOURCE, and each raw table is declared
by its own staging folder.
  connectors/NAME/__init__.py                          one endpoint described as data, extract, check, SOURCE
  connectors/NAME/config.py                            its entry of throughline.yml (connectors.core.options)
  dbt_project/models/staging/NAME/_NAME__sources.yml   its raw table, more tables of the dbt source `raw`
  dbt_project/models/staging/NAME/stg_NAME__items.sql  a first staging view, with its YAML
  tests/connectors/test_NAME_connector.py              contract tests against the kit's loopback API
  docs/sources/NAME.md                                 its page: config, what is read, staging

Nothing is overwritten: an existing file or a name that is taken stops it before it writes anything.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^[a-z][a-z0-9_]*$")

CONNECTOR = '''"""@Title@ as endpoint descriptions (started by `make new-source NAME=@name@`; docs/ADDING_A_SOURCE.md).

Streams: `items`, asked `updated_since` the cursor minus the lookback, oldest update first, in
offset/limit pages that end at `total`; the cursor advances with every committed page. Replace the
example endpoint with the API's own: path, records_path, primary_key, cursor_field, paginator.
"""

from __future__ import annotations

from datetime import datetime

from connectors.@name@.config import @Class@Source
from connectors.core.endpoint import Endpoint, iso_seconds
from connectors.core.engine import StreamResult
from connectors.core.errors import FatalError
from connectors.core.paginators import OffsetPaginator
from connectors.core.source import Finding, SourceType, engine_for, probe_client

# A source read as one whole account has one scope; one read per project passes each project instead.
SCOPE = "all"


def auth_headers(source: @Class@Source):
    token = source.auth.token
    return lambda: {"Authorization": f"Bearer {token.get_secret_value()}"}


def _updated_since(since: datetime) -> dict[str, str]:
    return {"updated_since": iso_seconds(since)}


ITEMS = Endpoint(
    stream="items",
    path="items",
    records_path="items",
    primary_key="id",
    cursor_field="updated_at",
    params={"sort": "updated_at"},
    paginator=OffsetPaginator(offset_param="offset", limit_param="limit", total_path="total", is_last_path=None),
    max_page_size=100,
    since_params=_updated_since,
    order="ascending",
)

ENDPOINTS = {endpoint.stream: endpoint for endpoint in (ITEMS,)}


def extract(group: str, source: @Class@Source, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams; ``client_kw`` reaches the HTTP client (tests pass ``sleep``)."""
    if group not in SOURCE.groups:
        raise ValueError(f"@name@ has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    return [engine.run(ENDPOINTS[stream], scope=SCOPE) for stream in SOURCE.groups[group]]


def check(source: @Class@Source, **client_kw) -> list[Finding]:
    """`throughline doctor`: one cheap authenticated request."""
    client = probe_client(source, auth_headers(source), **client_kw)
    try:
        client.get_json(ITEMS.path, {"limit": 1})
    except FatalError as exc:
        return [Finding("fail", f"{source.name}: credentials", f"{exc}; check auth.token")]
    return [Finding("ok", f"{source.name}: credentials", "items readable")]


SOURCE = SourceType(
    name="@name@",
    groups={"items": ("items",)},
    extract=extract,
    check=check,
    config_model=@Class@Source,
)
'''

CONFIG = '''"""One `type: @name@` entry of throughline.yml: the API root, a token and options (docs/sources/@name@.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from connectors.core.options import BaseUrl, HttpOptions, SourceConfig, StrictModel


class @Class@Auth(StrictModel):
    token: SecretStr = Field(description="API token with read access, written as ${@ENV@_TOKEN}.")


class @Class@Options(HttpOptions):
    """Paging, retries, lookback and start_date (HttpOptions); add @Title@'s own options here."""


class @Class@Source(SourceConfig):
    """One `type: @name@` entry of throughline.yml."""

    type: Literal["@name@"]
    base_url: BaseUrl = Field(description="The API root, e.g. https://api.@host@.example.com.")
    auth: @Class@Auth
    options: @Class@Options = @Class@Options()
'''

SOURCES_YML = '''version: 2

# The raw tables of the @name@ source: tables of the dbt source `raw`, which every staging folder declares
# its part of (dbt joins the tables of one source across files). Every raw table has the same seven columns
# (docs/ARCHITECTURE.md, "Raw layer contract"); tests/dbt/warehouse.py reads this file too.
sources:
  - name: raw
    schema: raw
    config:  # in every file that declares tables of `raw`: dbt does not carry a source's config across files
      loaded_at_field: extracted_at
      freshness:
        warn_after: {count: 36, period: hour}
    tables:
      - name: @name@__items
        description: >
          @Title@ items from `GET items`, asked `updated_since` the cursor minus the lookback; record_key is
          the item id, scope `all`, cursor_value `updated_at`.
        columns:
          - name: source_instance
            description: "`name` of the source in throughline.yml."
          - name: record_key
            description: The item's id, as text.
          - name: parent_key
            description: Always NULL (items are not a child stream).
          - name: scope
            description: "`all`: the whole account is one scope."
          - name: cursor_value
            description: The item's `updated_at` as the API wrote it.
          - name: payload
            description: The item exactly as the API returned it (JSON).
          - name: extracted_at
            description: When the connector read the item (UTC).
'''

STAGING_SQL = '''with source as (
    select * from {{ source('raw', '@name@__items') }}
)

-- Rename and cast only (staging is 1:1 with raw); joins and rules belong to intermediate models.
-- JSON is read through the portable macros (dbt_project/macros/portable/), so the model builds on DuckDB
-- and PostgreSQL alike.
select
    record_key as item_id,
    source_instance,
    {{ json_text('payload', 'title') }} as title,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    extracted_at
from source
'''

STAGING_YML = '''version: 2

models:
  - name: stg_@name@__items
    description: >
      One row per @Title@ item and source instance (raw.@name@__items).
    # Grain and key columns are guaranteed by the raw table's primary key (source_instance, record_key).
    # The columns a row must have, in one test (tests/generic/not_null_columns.sql).
    data_tests:
      - not_null_columns:
          name: not_null_stg_@name@__items
          arguments:
            columns: [updated_at]
    columns:
      - name: item_id
        description: The item's id in @Title@.
      - name: source_instance
        description: "`name` of the @name@ source in throughline.yml."
      - name: title
        description: The item's title.
      - name: updated_at
        description: When the item last changed (UTC).
      - name: extracted_at
        description: When the connector read the item (UTC).
'''

TEST = '''"""The @name@ connector against the source kit's loopback API (connectors/kit): every item arrives once over
offset pages, the cursor is right and never past committed data, a rerun changes nothing, rate limits are
waited out, and a bad token is one clear error without the secret.

ITEMS: 7 items updated an hour apart from 2026-01-01T00:00Z; with page_size 3 that is 3 pages (3 + 3 + 1).
"""

from __future__ import annotations

import pytest

from connectors import @name@
from connectors.core.errors import AuthError, RetriesExhaustedError
from connectors.core.raw import RawStore
from connectors.kit import (
    ApiServer,
    OffsetPages,
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
    source_config,
)

TOKEN = "good-token"
TABLE = "@name@__items"
ITEMS = [{"id": n, "title": f"item {n}", "updated_at": f"2026-01-01T{n:02d}:00:00Z"} for n in range(7)]
CURSOR = dict(source_instance="@name@-main", stream="items", scope="all")


@pytest.fixture
def api():
    with ApiServer(auth={"Authorization": f"Bearer {TOKEN}"}) as server:
        server.add_list("/items", list(ITEMS), pages=OffsetPages(records_key="items"), cursor_field="updated_at",
                        since_param="updated_since")
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, token=TOKEN, **options):
    return source_config({"type": "@name@", "name": "@name@-main", "base_url": api.url,
                          "auth": {"token": "${@ENV@_TOKEN}"},
                          "options": {"page_size": 3, "backoff_seconds": 0, **options}},
                         env={"@ENV@_TOKEN": token})


def test_every_item_arrives_once_and_the_cursor_is_the_newest(api, store):
    (result,) = @name@.extract("items", config(api), store)
    assert_each_record_once(store, TABLE, range(7))
    assert set(api.served("/items")) == {str(n) for n in range(7)} and result.pages == 3  # 7 items, pages of 3
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T06:00:00.000000Z")  # item 6, the newest


def test_a_rerun_changes_nothing_and_reads_only_the_lookback(api, store):
    @name@.extract("items", config(api), store)
    api.reset_stats()
    assert_rerun_idempotent(store, [TABLE], lambda: @name@.extract("items", config(api), store))
    # From the cursor (06:00) minus the 3 h lookback (03:00): items 3 to 6 again, nothing older.
    assert "updated_since=2026-01-01T03%3A00%3A00Z" in api.requests[0]
    assert set(api.served("/items")) == {"3", "4", "5", "6"}


def test_a_run_that_dies_half_way_keeps_its_pages_and_resumes(api, store):
    api.fault_after(1, r"^/items", "server_error", times=None)  # page 1 answers, then every request fails
    with pytest.raises(RetriesExhaustedError):
        @name@.extract("items", config(api, max_retries=1), store)
    assert_each_record_once(store, TABLE, range(3))  # page 1 was committed
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T02:00:00.000000Z")  # with it, not beyond
    api.faults.clear()
    @name@.extract("items", config(api), store)
    assert_each_record_once(store, TABLE, range(7))


def test_rate_limits_are_waited_out(api, store):
    waits: list[float] = []
    api.faults.add(r"^/items", "rate_limit", times=2, retry_after=2)
    (result,) = @name@.extract("items", config(api, max_backoff_seconds=5), store, sleep=waits.append)
    assert waits == [2.0, 2.0] and result.stats.retries == 2  # Retry-After honoured, twice
    assert_each_record_once(store, TABLE, range(7))


def test_a_bad_token_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        @name@.extract("items", config(api, token="wrong-s3cret"), store)
    assert "source '@name@-main'" in str(failure.value) and "wrong-s3cret" not in str(failure.value)
    assert api.request_count("/items") == 1  # not retried


def test_the_doctor_check_tells_a_good_token_from_a_bad_one(api):
    assert [f.level for f in @name@.check(config(api))] == ["ok"]
    assert [f.level for f in @name@.check(config(api, token="nope"))] == ["fail"]
'''


DOC = '''# @Title@ source (`type: @name@`)

@Title@'s API, read by `connectors/@name@/` (started by `make new-source NAME=@name@`; docs/ADDING_A_SOURCE.md
says how to grow it). Say here what the source is for and which marts its records reach.

```yaml
sources:
  - type: @name@
    name: @name@-main
    base_url: https://api.@host@.example.com
    auth:
      token: ${@ENV@_TOKEN}                  # read access is enough
    options:
      start_date: "2026-01-01"               # first load from here; later loads are incremental
      lookback_hours: 3                      # re-read this much before the cursor
      page_size: 100
```
`timeout_seconds`, `max_retries`, `backoff_seconds` and `max_backoff_seconds` are as for every HTTP source.

## What is read

| raw table | endpoint | record_key / parent_key | cursor_value |
|---|---|---|---|
| `raw.@name@__items` | `GET items?updated_since=...&sort=updated_at` (`items[]`, offset pages ending at `total`) | item id / - | `updated_at` |

`scope` is `all` (one account). Extraction group: `items`. Requests carry `Authorization: Bearer <token>`.

Staging (`dbt_project/models/staging/@name@/`): `stg_@name@__items` (title, when it last changed).
'''


def files_for(name: str) -> dict[str, str]:
    """Relative path -> content of every new file for source type ``name``."""
    words = {"@name@": name, "@Class@": "".join(p.capitalize() for p in name.split("_")),
             "@Title@": " ".join(p.capitalize() for p in name.split("_")), "@ENV@": name.upper(),
             "@host@": name.replace("_", "-")}

    def fill(template: str) -> str:
        for placeholder, value in words.items():
            template = template.replace(placeholder, value)
        return template

    staging = f"dbt_project/models/staging/{name}"
    return {
        f"connectors/{name}/__init__.py": fill(CONNECTOR),
        f"connectors/{name}/config.py": fill(CONFIG),
        f"{staging}/_{name}__sources.yml": fill(SOURCES_YML),
        f"{staging}/stg_{name}__items.sql": fill(STAGING_SQL),
        f"{staging}/stg_{name}__items.yml": fill(STAGING_YML),
        f"tests/connectors/test_{name}_connector.py": fill(TEST),
        f"docs/sources/{name}.md": fill(DOC),
    }


def scaffold(name: str, root: Path = REPO_ROOT) -> list[Path]:
    """Write the new source's files under ``root``; returns what was written."""
    if not NAME.fullmatch(name):
        raise SystemExit(f"'{name}' is not a source type name: lower case letters, digits and _, starting with a letter")
    package = root / "connectors" / name
    # connectors/NAME.py (config, registry, ...) would be shadowed by the new package of the same name
    taken = [p for p in (package, package.with_suffix(".py"), root / "dbt_project" / "models" / "staging" / name)
             if p.exists()]
    files = {root / path: text for path, text in files_for(name).items()}
    taken += [p for p in files if p.exists()]
    if taken:
        raise SystemExit(f"not overwriting {', '.join(sorted({str(p) for p in taken}))}: pick another name or "
                         "remove them")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.kit.scaffold", description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the source type, e.g. pagerduty (lower case; also the raw table prefix)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root to write into")
    args = parser.parse_args(argv)
    written = scaffold(args.name, args.root)
    for path in written:
        print(f"wrote {path}")
    print(f"next: .venv/bin/python -m pytest tests/connectors/test_{args.name}_connector.py -q, then "
          "docs/ADDING_A_SOURCE.md from step 2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
