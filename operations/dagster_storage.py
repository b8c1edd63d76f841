"""The Dagster instance's storage tuned for a process that lives for one run (`throughline run`, operations/cli.py).

Dagster opens its storage for processes of every kind; a nightly stores ~1,700 events (one or more per asset
and check, whatever the organisation's size) and reads some back, and each costs what the storage's
connection handling costs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Storage connections a run may open beyond the one it keeps, while busy (dagster-webserver's default).
DAGSTER_POOL_OVERFLOW = 20


def keep_storage_connections(instance: Any) -> None:
    """Keep the instance's storage connections open for the life of this process.

    PostgreSQL: Dagster opens a connection for every query unless told its process lives long (a tiny
    organisation's night opened 4,934, each with its password handshake: a third of the run's time); given the
    webserver's pool (one connection kept, more while busy), without its statement timeout, since a night's
    queries may take longer than a page of the UI.

    SQLite (the default, a file per run and an index under DAGSTER_HOME): Dagster's event storage creates a new
    SQLAlchemy engine for every query (a new connection, an empty statement cache), which optimize_for_webserver
    leaves as it is: 3.8-5.3 CPU-ms per stored event against 1.45 with one engine per database file kept (1,000
    materializations stored in a row), and a tiny organisation's whole night 38-43 CPU-s against 51 (2026-12-06).
    Its own lock still lets one query at a time through; SQLite's file locks keep other processes (the UI, the
    daemon) consistent as before, and a kept connection holds no lock between queries.
    """
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=DAGSTER_POOL_OVERFLOW)
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    if type(storage) is SqliteEventLogStorage:  # dagster 1.13 (pinned with dagster-dbt in pyproject.toml)
        storage._connect = _kept_engines(storage)


def _kept_engines(storage: Any):
    """A replacement for SqliteEventLogStorage._connect(shard): the same transaction per use, on one engine (and
    SQLAlchemy's pool of connections) per shard, created and initialised as Dagster's own would be."""
    from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
    from sqlalchemy import create_engine

    engines: dict[str, Any] = {}

    @contextmanager
    def _connect(shard: str) -> Iterator[Any]:
        with storage._db_lock:
            engine = engines.get(shard)
            if engine is None:
                engine = create_engine(storage.conn_string_for_shard(shard),
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
                if shard not in storage._initialized_dbs:
                    storage._initdb(engine)
                    storage._initialized_dbs.add(shard)
                engines[shard] = engine
            with engine.connect() as conn, conn.begin():
                yield conn

    return _connect
