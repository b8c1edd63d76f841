"""`make dev` without a config of one's own, as the README gives it (`throughline dev` is what the target runs):
the UI opens on the demo's configuration with the simulator beside it and its schedules stopped, and one
SIGTERM stops everything it started, even when it was started in the background (`make dev &`), where the
shell ignores SIGINT for it and dagster dev maps SIGTERM onto that ignored handler."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.e2e import private_dagster_home

ROOT = Path(__file__).resolve().parents[2]
THROUGHLINE = ROOT / ".venv" / "bin" / "throughline"

REPOSITORY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name scheduleState { status } }
    assetNodes { assetKey { path } } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def ignore_sigint() -> None:
    """What a non-interactive shell does to a command it starts with `&`."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.skipif(not THROUGHLINE.exists(), reason="needs the project's .venv (make install)")
def test_dev_opens_on_the_demo_config_with_schedules_stopped_and_stops_on_sigterm(tmp_path):
    if (ROOT / "throughline.yml").exists():
        pytest.skip("this checkout has a throughline.yml of its own: `make dev` would open on it")
    ui, simulator = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key != "THROUGHLINE_CONFIG"}
    env["DAGSTER_HOME"] = str(private_dagster_home(tmp_path))
    log = (tmp_path / "dev.log").open("w")
    dev = subprocess.Popen(
        [str(THROUGHLINE), "dev", "--warehouse", str(tmp_path / "wh" / "warehouse.duckdb"), "--port", str(ui),
         "--simulator-port", str(simulator)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=ignore_sigint,
    )
    try:
        deadline = time.monotonic() + 300
        while not listening(ui):
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the UI did not open in 5 minutes"
            time.sleep(1)
        [repository] = graphql(ui, REPOSITORY)["repositoriesOrError"]["nodes"]
        # the demo's config: its raw assets are there, and nothing runs on a schedule until a config of one's own
        assert ["raw", "jira__issues"] in [node["assetKey"]["path"] for node in repository["assetNodes"]]
        assert {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]} == {
            "nightly_schedule": "STOPPED", "compact_schedule": "STOPPED"}
        assert listening(simulator)
        pid = int((tmp_path / "wh" / "demo" / "simulator.pid").read_text())

        dev.send_signal(signal.SIGTERM)
        assert dev.wait(timeout=90) == 0 or dev.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)
        deadline = time.monotonic() + 30
        while listening(ui) or listening(simulator):
            assert time.monotonic() < deadline, "the UI or the simulator outlived `throughline dev`"
            time.sleep(1)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
        log.close()
