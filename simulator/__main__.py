"""``python -m simulator``: serve a generated (or hand-built) organisation in the foreground.

Prints ``simulator listening on http://HOST:PORT`` once it accepts connections, and writes the same URL to
``--url-file`` if given (written to a temporary name and renamed, so a reader never sees half a URL).
Stops cleanly on SIGINT and SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path

from .generator import generate_org, horizon_for
from .outcomes import write_outcome_files
from .scenarios import tiny_org
from .server import SimulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Loopback Jira Cloud + GitHub API double.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int, default=1, help="1 is demo-sized; issues grow linearly")
    parser.add_argument("--as-of", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="end the generated history the day before this one (the demo passes today); "
                             "default 2026-10-31, the day tests count on")
    parser.add_argument("--horizon", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="generate the history up to this day and serve it as it stood on --as-of: nights "
                             "with one horizon see one world, a day further each (the demo's nightly runs)")
    parser.add_argument("--horizon-for", type=_day, default=None, metavar="YYYY-MM-DD",
                        help="print the horizon of the demo world a first night on this day starts, and exit")
    parser.add_argument("--scenario", choices=("generated", "tiny"), default="generated")
    parser.add_argument("--url-file", type=Path, help="write the URL here once listening")
    parser.add_argument("--jira-token", action="append", dest="jira_tokens",
                        help="accepted Jira API token or PAT (repeatable); default: accept any")
    parser.add_argument("--github-token", action="append", dest="github_tokens",
                        help="accepted GitHub token (repeatable); default: accept any")
    parser.add_argument("--changelog-embed-limit", type=int, default=100)
    parser.add_argument("--github-rate-limit", type=int, default=5000)
    parser.add_argument("--jira-time-zone", default=None, help="the calling user's zone (default America/New_York)")
    parser.add_argument("--outcomes-dir", type=Path,
                        help="write the organisation's KPI series, OKRs and surveys here as CSV files, one folder "
                             "per kind of the outcomes source (before the URL file appears)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started this one ends (the demo uses this)")
    args = parser.parse_args(argv)
    if args.horizon_for is not None:
        print(horizon_for(args.horizon_for).isoformat())
        return 0

    started = time.monotonic()
    org = (tiny_org() if args.scenario == "tiny"
           else generate_org(seed=args.seed, scale=args.scale, as_of=args.as_of, horizon=args.horizon))
    # Everything built so far lives as long as the process: keep the cyclic collector from rescanning
    # millions of objects while requests are served.
    gc.freeze()
    server = SimulatorServer(org, args.host, args.port, mount_options={
        "jira": {"tokens": args.jira_tokens, "changelog_embed_limit": args.changelog_embed_limit,
                 "time_zone": args.jira_time_zone},
        "github": {"tokens": args.github_tokens, "rate_limit": args.github_rate_limit},
    })
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            server.request_stop()

    # Installed explicitly: a process started with `&` from a non-interactive shell ignores SIGINT.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    if args.exit_with_parent:
        # A demo killed with SIGKILL cannot stop its simulator; the orphan notices its new parent.
        parent = os.getppid()

        def watch_parent() -> None:
            while not stopping.is_set():
                if os.getppid() != parent:
                    stop(signal.SIGTERM, None)
                    return
                time.sleep(0.5)

        threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()

    print(f"simulator listening on {server.url}", flush=True)
    print(f"  {len(org.jira_issues)} Jira issues, {sum(len(s.pulls) for s in org.repos.values())} pull requests\n"
          + "".join(f"  {prefix:<10}{server.url}/{prefix}\n" for prefix in server.mounts)
          + f"  ready in {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    if args.outcomes_dir:
        write_outcome_files(org, args.outcomes_dir)
    if args.url_file:
        tmp = args.url_file.with_name(args.url_file.name + ".tmp")
        tmp.write_text(server.url + "\n")
        os.replace(tmp, args.url_file)
    server.serve_forever()
    # Frozen objects are never collected at exit; an extension module that a mounted API may import
    # (nanobind-based duckdb reports each object it still holds as a leak) would complain: hand them back.
    gc.unfreeze()
    print("simulator stopped", file=sys.stderr, flush=True)
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of wants a date as YYYY-MM-DD, not {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())
