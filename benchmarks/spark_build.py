"""The marts on a local Apache Spark at size: the measured note of docs/DEPLOY.md (context, not a goal).

    .venv/bin/python -m benchmarks.spark_build --warehouse W --work DIR [--driver-memory 8g]

W is a warehouse holding a raw layer: the copy `dbt/throughline.duckdb` that `benchmarks.build --issues N --work
D` leaves under D (the 1M tier), or a demo's. The raw layer is copied to Parquet as `throughline copy-raw
--target spark` does (timed), then `dbt seed` and `dbt run` of every ported model run on the `spark` target
(profiles.yml: the `session` method, local[THROUGHLINE_SPARK_CORES]), each timed with the peak of the summed
RSS of its process tree (the dbt process and the Spark JVM it starts, sampled every half second: GNU time does
not count the JVM, which is never waited for). Prints one JSON line; nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from operations.spark_copy import PORTED_SELECTION, SPARK_DIR_VAR, copy_raw

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


def _tree_rss_kib(root: int) -> int:
    """The summed RSS (KiB) of `root` and its descendants, from /proc."""
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of the command's process tree."""
    started = time.monotonic()
    process = subprocess.Popen(cmd, env=env, cwd=DBT_PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.communicate()[0]
    sampler.join()
    if process.returncode != 0:
        sys.stdout.write(output.decode(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(cmd[:3])} failed")
    return time.monotonic() - started, peak[0] // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark_build")
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--driver-memory", default="8g", help="the Spark driver's heap (local mode: all of Spark)")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    spark_dir = args.work / "spark"
    started = time.monotonic()
    copied = copy_raw(args.warehouse, spark_dir)
    copy_seconds = time.monotonic() - started
    env = {**os.environ, SPARK_DIR_VAR: str(spark_dir), "THROUGHLINE_WAREHOUSE": str(args.warehouse),
           "THROUGHLINE_SPARK_DRIVER_MEMORY": args.driver_memory}
    dbt = str(Path(sys.executable).parent / "dbt")
    common = ["--target", "spark", "--profiles-dir", str(DBT_PROJECT), "--target-path", str(args.work / "target"),
              "--log-path", str(args.work / "logs")]
    seed_seconds, seed_peak = _run([dbt, "seed", *common], env)
    # PORTED_SELECTION is ["--select", <seeds and models>, "--exclude", ...]: the models, less what is not ported
    run_seconds, run_peak = _run([dbt, "run", "--select", "resource_type:model", *PORTED_SELECTION[2:], *common], env)
    print(json.dumps({"warehouse": str(args.warehouse), "raw_tables": len(copied),
                      "copy_raw_seconds": round(copy_seconds, 1), "seed_seconds": round(seed_seconds, 1),
                      "seed_peak_mib": seed_peak, "run_seconds": round(run_seconds, 1), "run_peak_mib": run_peak,
                      "driver_memory": args.driver_memory, "load_average": [round(x, 2) for x in os.getloadavg()]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
