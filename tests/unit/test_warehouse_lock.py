"""The line a command refused the warehouse prints names the run that holds it, even when both started together."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from operations.processes import WarehouseInUseError, hold_warehouse, lock_path

HOLDER = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(0.3)  # its details written late, as when two runs start together
os.ftruncate(fd, 0)
os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": "run",
                         "started_at": "2026-12-07T12:00:00+00:00"}).encode())
sys.stdin.read()
"""


def test_the_refused_command_waits_for_the_holders_details(tmp_path):
    """The holder has the lock but its file still names the run before it (a process gone since): the refused
    command reads again until the holder's own details are there."""
    warehouse = tmp_path / "w.duckdb"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock_path(warehouse).write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname(),
                                                "command": "run", "started_at": "2026-12-06T12:00:00+00:00"}))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_path(warehouse))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(WarehouseInUseError) as refused, hold_warehouse(warehouse, "run"):
            pass
        assert (f"in use by another run (`throughline run`, pid {holder.pid} on {socket.gethostname()}, "
                f"started 2026-12-07T12:00:00+00:00)") in str(refused.value)
    finally:
        holder.communicate("")
