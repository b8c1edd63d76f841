"""Time every dashboard query against a published marts.duckdb: p50 and p95 per query, target p95 < 100 ms.

    .venv/bin/python dashboards/scripts/bench_queries.py warehouse/marts.duckdb [--runs 20] [--results LABEL]

The queries are read from dashboards/pages/*.md as Evidence runs them: `throughline.<mart>` names a
published mart, `${other_query}` inlines another query of the page, and each `${inputs.<name>.value}`
takes the dropdown's default (its `DropdownOption`, its `defaultValue`, else the first row of its
data). Evidence answers the same SQL in DuckDB-Wasm over Parquet in the browser; this times it in
DuckDB over the published file, the part that grows with the organisation. For the large org, publish
a warehouse loaded from `python -m simulator --scale N` first. With `--results LABEL` the table goes into
benchmarks/RESULTS.md and the slowest query's p95 into benchmarks/summary.json, key "P5" (issue 20).
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "dashboards" / "pages"
QUERY = re.compile(r"```sql (\w+)\n(.*?)```", re.S)
DROPDOWN = re.compile(r"<Dropdown\b([^>]*?)/?>(.*?)(?:</Dropdown>|$)", re.S | re.M)
TARGET_MS = 100.0


def _attr(attrs: str, name: str) -> str | None:
    found = re.search(rf'\b{name}=(?:"([^"]*)"|{{(\w+)}}|(\S+))', attrs)
    return next((g for g in found.groups() if g is not None), None) if found else None


def page_queries(markdown: str, con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The page's queries as plain DuckDB SQL, inputs at their defaults."""
    raw = {name: sql.strip().rstrip(";") for name, sql in QUERY.findall(markdown)}

    def resolve(sql: str, inputs: dict[str, str]) -> str:
        sql = re.sub(r"\$\{inputs\.(\w+)\.value\}", lambda m: inputs[m.group(1)], sql)
        sql = re.sub(r"\$\{(\w+)\}", lambda m: f"({resolve(raw[m.group(1)], inputs)})", sql)
        return re.sub(r"\bthroughline\.(\w+)", r"\1", sql)

    inputs: dict[str, str] = {}
    for attrs, body in DROPDOWN.findall(markdown):
        name, data, column = _attr(attrs, "name"), _attr(attrs, "data"), _attr(attrs, "value")
        option = re.search(r'<DropdownOption value="([^"]*)"', body.split("<Dropdown")[0])
        default = option.group(1) if option else _attr(attrs, "defaultValue")
        if default is None:
            rows = con.execute(f"SELECT {column} FROM ({resolve(raw[data], inputs)}) LIMIT 1").fetchall()
            if not rows:  # an empty mart: the page shows nothing to time
                return {}
            default = str(rows[0][0])
        inputs[name] = default
    return {name: resolve(sql, inputs) for name, sql in raw.items()}


def timed(con: duckdb.DuckDBPyConnection, sql: str, runs: int) -> tuple[int, float, float]:
    """Rows, p50 and p95 (ms) of ``runs`` executions of ``sql``."""
    timings, rows = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        timings.append((time.perf_counter() - started) * 1000)
    return rows, statistics.median(timings), statistics.quantiles(timings, n=20)[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("marts", type=Path, help="published marts.duckdb")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1,
                        help="time every query this many passes and keep each query's best pass (a shared, noisy "
                        "machine: a burst of other work spoils one pass, not the figure)")
    parser.add_argument("--results", metavar="LABEL",
                        help="also write the table into benchmarks/RESULTS.md, in a section named after LABEL, and "
                        "the slowest p95 into benchmarks/summary.json (P5)")
    args = parser.parse_args(argv)
    con = duckdb.connect(str(args.marts), read_only=True)
    queries = {f"{page.stem}/{name}": sql for page in sorted(PAGES.glob("*.md"))
               for name, sql in page_queries(page.read_text(), con).items()}
    best: dict[str, tuple[int, float, float]] = {}
    for _ in range(max(1, args.repeat)):
        for query, sql in queries.items():
            figures = timed(con, sql, args.runs)
            if query not in best or figures[2] < best[query][2]:
                best[query] = figures
    slow = sum(p95 > TARGET_MS for _, _, p95 in best.values())
    table = ["| page/query | rows | p50 ms | p95 ms |", "|---|---|---|---|"]
    print(f"{'page/query':40} {'rows':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for query, (rows, p50, p95) in best.items():
        flag = "  over target" if p95 > TARGET_MS else ""
        print(f"{query:40} {rows:>7} {p50:>8.1f} {p95:>8.1f}{flag}")
        table.append(f"| {query} | {rows} | {p50:.1f} | {p95:.1f} |")
    print(f"{slow} queries over the {TARGET_MS:.0f} ms p95 target")
    if args.results:
        _write_results(args.results, args.marts, con, table, slow, args.runs, args.repeat)
        _write_summary(p95_summary({query: p95 for query, (_, _, p95) in best.items()}, args.results, args.runs,
                                   args.repeat))
    return 1 if slow else 0


def p95_summary(p95s: dict[str, float], label: str, runs: int, repeat: int = 1) -> dict:
    """Issue 20's P5: the slowest query's p95 (ms), which query it is, and on what warehouse it was timed."""
    if not p95s:
        raise SystemExit(f"bench_queries: no dashboard query to time on '{label}': its marts are empty or the "
                         "pages have no queries; publish a built warehouse first (make demo)")
    slowest = max(p95s, key=p95s.__getitem__)
    return {"max_p95_ms": round(p95s[slowest], 1), "query": slowest, "warehouse": label, "queries": len(p95s),
            "over_target": sum(p95 > TARGET_MS for p95 in p95s.values()), "target_ms": TARGET_MS, "runs": runs,
            "passes": repeat}


def _write_summary(figures: dict) -> None:
    sys.path.insert(0, str(ROOT))  # run as a script from dashboards/scripts: benchmarks/ is a package of the root
    try:
        from benchmarks.summary import update_summary
    finally:
        sys.path.pop(0)
    update_summary("P5", figures)


def _write_results(label: str, marts: Path, con, table: list[str], slow: int, runs: int,
                   repeat: int) -> None:
    import os
    import platform
    from datetime import UTC, datetime

    results = ROOT / "benchmarks" / "RESULTS.md"
    counts = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY 1").fetchall()
    title = f"## Dashboard queries: {label}"
    section = "\n".join([
        title, "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, duckdb "
        f"{duckdb.__version__}; load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}; {runs} runs per "
        f"query, best of {repeat} passes, against `{marts.name}` (issue 9 target: p95 < "
        f"{TARGET_MS:.0f} ms; {slow} over). Rows per mart: "
        + ", ".join(f"{name} {rows:,}" for name, rows in counts) + ".", "", *table, "",
    ])
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    start = text.find("\n" + title)
    if start != -1:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "")
    results.write_text(text.rstrip("\n") + "\n\n" + section)


if __name__ == "__main__":
    sys.exit(main())
