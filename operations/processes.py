"""What a `throughline` command owns while it runs, and how it lets go even when it is killed.

- The warehouse: a run holds an exclusive lock on `<warehouse>.lock` (fcntl.flock) from start to end, so a
  second run stops at once with who holds it, instead of interleaving with the first step by step. The
  kernel drops the lock when the process dies, however it dies, so a crash never leaves it taken.
- Its child processes (dbt): every process a run starts inherits RUN_ENV_VAR=<the run's pid>. A small
  reaper process, started beside the run, waits on a pipe only the run holds; when the run ends or dies (even
  by SIGKILL) the pipe closes and the reaper kills every process still carrying that mark, so no dbt keeps
  the warehouse open after its run. The next run also kills what a dead run left, in case the reaper died
  too. (Not PR_SET_PDEATHSIG: dagster-dbt starts dbt itself, with no hook to set it in the child.)

Linux reads the marks from /proc; elsewhere the lock still works and the reaping is skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from connectors.core.errors import ThroughlineError

RUN_ENV_VAR = "THROUGHLINE_RUN_PID"
# Tags of a run the `throughline` command executes in its own process: the next command marks it failed once
# that process is gone (operations/cli.py), and the failure sensor leaves its alert to the command
# (pipelines/monitoring.py).
RUN_PID_TAG = "throughline/pid"
RUN_HOST_TAG = "throughline/host"


class WarehouseInUseError(ThroughlineError):
    """Another `throughline` command holds the warehouse for its whole run."""


def lock_path(warehouse: Path) -> Path:
    return Path(f"{warehouse}.lock")


@contextmanager
def hold_warehouse(warehouse: Path, command: str) -> Iterator[None]:
    """Own the warehouse until the block ends; raise WarehouseInUseError at once if another command owns it."""
    path = lock_path(warehouse)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's details stay readable until we hold the lock ourselves.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ThroughlineError(
            f"cannot create the lock file {path} beside the warehouse ({exc.strerror}): set warehouse.path in "
            f"throughline.yml (or THROUGHLINE_WAREHOUSE) to a file in a folder this user can write"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseInUseError(
                f"warehouse {warehouse} is in use by another run ({_holder(fd)}): this {command} did not start. "
                f"Wait for that run to finish, or stop it; its lock goes with its process."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                                 "started_at": datetime.now(UTC).isoformat(timespec="seconds")}).encode())
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with a waiting opener)


# How long a command refused the warehouse waits for the holder's details: the holder writes them just after it
# takes the lock, so a command started at the same moment can read the file empty, half written, or still naming
# the run before (seen in CI: "details unknown" for two runs started together).
HOLDER_DETAILS_WAIT_SECONDS = 1.0


def _holder(fd: int, wait_seconds: float = HOLDER_DETAILS_WAIT_SECONDS) -> str:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            if holder.get("host") != socket.gethostname() or alive(int(holder["pid"])):
                return (f"`throughline {holder.get('command', 'run')}`, pid {holder['pid']} on "
                        f"{holder.get('host', '?')}, started {holder.get('started_at', '?')}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        if time.monotonic() >= deadline:
            return "details unknown"
        time.sleep(0.02)


# Blocks until the run's end of the pipe closes (the run ended, or died), then kills what the run left.
_REAPER = """
import os, signal, sys
fd, run_pid = int(sys.argv[1]), sys.argv[2]
signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the terminal is for the run, not for the reaper
os.read(fd, 1)
sys.path.insert(0, sys.argv[3])
from operations.processes import kill_marked
kill_marked(int(run_pid))
"""

_reaper_pipe: int | None = None


def start_reaper() -> None:
    """Mark this process's future children and start the reaper that kills them if this process dies."""
    global _reaper_pipe
    os.environ[RUN_ENV_VAR] = str(os.getpid())
    if _reaper_pipe is not None or not sys.platform.startswith("linux"):
        return
    read_end, write_end = os.pipe()  # both not inheritable: only the reaper gets the read end (pass_fds)
    subprocess.Popen(
        [sys.executable, "-c", _REAPER, str(read_end), str(os.getpid()), str(Path(__file__).resolve().parents[1])],
        pass_fds=(read_end,), start_new_session=True, stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != RUN_ENV_VAR},  # never a target of itself
    )
    os.close(read_end)
    _reaper_pipe = write_end


def stop_reaper() -> None:
    """The run ended (or is unwinding from an error or a Ctrl-C): the reaper kills whatever it left, then exits."""
    global _reaper_pipe
    if _reaper_pipe is not None:
        os.close(_reaper_pipe)
        _reaper_pipe = None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def marked(run_pid: int) -> list[int]:
    """Processes (other than this one) started by the run with pid ``run_pid``: they carry its mark."""
    mark = f"{RUN_ENV_VAR}={run_pid}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), run_pid):
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or another user's
    return found


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"multiprocessing.resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def kill_marked(run_pid: int) -> list[int]:
    """SIGKILL every process left by the run ``run_pid`` (its dbt, with the warehouse open); their pids.

    While the run itself still lives (it ended normally and is exiting), Python's multiprocessing resource
    tracker is its own to stop: killed, it is relaunched at exit with a traceback on the terminal. It holds
    no warehouse, and it ends by itself when the run's process does."""
    killed = []
    spare_tracker = alive(run_pid)
    for pid in marked(run_pid):
        if spare_tracker and _is_resource_tracker(pid):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed
