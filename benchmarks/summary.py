"""benchmarks/summary.json: the benchmarks' headline figures in one machine-readable file (issue 20).

Each benchmark merges its own top-level key ("P1" requests, "P2" ingest, "P3"/"P4" build, "P5" dashboard
queries) and leaves the others as the last run wrote them; every write also records the commit the figures
come from ("+dirty" when the tree had uncommitted changes, so a figure is never taken for the committed
code's) and the machine, load average included (it is shared and noisy).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = Path(__file__).resolve().parent / "summary.json"


def commit(root: Path = ROOT) -> str:
    """HEAD's hash, with "+dirty" when tracked files differ from it (the benchmarks' own outputs aside: a run
    writes RESULTS.md before this summary); "unknown" outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":!benchmarks/RESULTS.md", ":!benchmarks/summary.json"], cwd=root,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changed else "")


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def merge(summary: dict[str, Any], section: str, value: dict[str, Any], *, at_commit: str,
          on: dict[str, Any]) -> dict[str, Any]:
    """``summary`` with ``section`` merged one level deep (a P3 run of the 1M tier keeps the 3M tier's
    figures), and "commit" and "machine" set. A pure function: the unit-tested part."""
    out = dict(summary)
    previous = out.get(section)
    out[section] = {**previous, **value} if isinstance(previous, dict) else dict(value)
    out["commit"] = at_commit
    out["machine"] = on
    return out


def update_summary(section: str, value: dict[str, Any], path: Path = SUMMARY) -> None:
    """Merge ``value`` into the top-level key ``section`` of benchmarks/summary.json."""
    try:
        summary = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError:
        summary = {}  # a file cut by a killed run: start again rather than fail the benchmark at its end
    summary = merge(summary, section, value, at_commit=commit(), on=machine())
    ordered = {key: summary[key] for key in ("commit", "machine", "P1", "P2", "P3", "P4", "P5") if key in summary}
    ordered.update({key: item for key, item in summary.items() if key not in ordered})
    path.write_text(json.dumps(ordered, indent=2) + "\n")
