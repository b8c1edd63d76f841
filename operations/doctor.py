"""`throughline doctor`: is the configuration valid, can every source be reached with its credentials,
and is the warehouse healthy? Exit code 1 when anything fails; every line says what to do."""

from datetime import UTC, datetime
from pathlib import Path

from connectors.config import load_config, warehouse_path
from connectors.core.errors import ThroughlineError, WarehouseLockedError
from connectors.core.raw import open_warehouse
from connectors.core.source import Finding
from connectors.registry import source_types
from operations.alerts import stale_streams


def diagnose(config_file: str | None = None, *, now: datetime | None = None) -> list[Finding]:
    try:
        config = load_config(config_file)
    except ThroughlineError as exc:
        return [Finding("fail", "config", str(exc))]
    findings = [Finding("ok", "config", f"valid, {len(config.sources)} source(s)")]
    for source in config.sources:
        source_type = source_types()[source.type]  # plugins too: the config accepted the type
        if source_type.check is None:
            findings.append(Finding("warn", source.name, f"no health check for {source.type} sources yet"))
            continue
        try:
            findings += source_type.check(source)
        except ThroughlineError as exc:
            findings.append(Finding("fail", source.name, str(exc)))
    findings += _warehouse(warehouse_path(), config, now or datetime.now(UTC).replace(tzinfo=None))
    return findings


def _warehouse(path: Path, config, now: datetime) -> list[Finding]:
    if not path.exists():
        return [Finding("warn", "warehouse", f"{path} does not exist yet: the first `throughline run` creates it")]
    try:
        con = open_warehouse(path, read_only=True)
    except WarehouseLockedError as exc:
        return [Finding("warn", "warehouse", f"{exc} (a load is probably running: check again when it ends)")]
    try:
        marts = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()[0][0]
    finally:
        con.close()
    findings = [
        Finding("ok", "warehouse", f"{path} opens") if marts else
        Finding("fail", "warehouse", f"{path} has no marts: the last dbt build did not finish; run "
                "`throughline run` and read its errors"),
    ]
    findings.append(_published(path))
    stale = stale_streams(path, config, now)
    findings += [Finding("fail", f"{p.source}{f' {p.scope}' if p.scope else ''}: freshness", p.error) for p in stale]
    if not stale and config.sources:
        findings.append(Finding("ok", "freshness", "every source read within its limit"))
    return findings


def _published(warehouse: Path) -> Finding:
    """The copy BI tools read: present, readable by another process, holding marts."""
    import duckdb

    from operations.publish import PUBLISHED_FILE, published_dir

    target = published_dir(warehouse) / PUBLISHED_FILE
    if not target.exists():
        return Finding("fail", "published marts", f"{target} does not exist: BI tools have nothing to read until a "
                       "nightly run (`throughline run`) finishes its build and publishes")
    try:
        con = duckdb.connect(str(target), read_only=True)
    except duckdb.Error as exc:
        return Finding("fail", "published marts", f"{target} cannot be opened ({str(exc).splitlines()[0]}): "
                       "the next successful nightly run writes a new one")
    try:
        tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0]
    finally:
        con.close()
    age = datetime.now(UTC).timestamp() - target.stat().st_mtime
    return Finding("ok", "published marts", f"{target}: {tables} marts, published {age / 3600:.1f} h ago")


def report(findings: list[Finding]) -> tuple[str, int]:
    width = max((len(f.subject) for f in findings), default=0)
    lines = [f"{f.level.upper():4}  {f.subject:<{width}}  {f.message}" for f in findings]
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    lines.append(f"\n{failed} problem(s), {warned} warning(s)")
    return "\n".join(lines), 1 if failed else 0
