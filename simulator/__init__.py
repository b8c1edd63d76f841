"""A loopback double of the APIs Throughline reads (Jira, GitHub, GitLab, Jenkins, CircleCI, PagerDuty,
Opsgenie) over a deterministic synthetic organisation, plus the outcome files.

Used by `make demo` (no credentials, no Docker), by connector tests (with fault injection) and by
benchmarks. Start with SimulatorServer (server.py), Org (model.py), generate_org (generator.py) and
tiny_org (scenarios.py); each API world is one ``<system>_api.py`` mounted by mounts.py.
"""

from connectors.kit.faults import KINDS as FAULT_KINDS

from .generator import generate_org
from .model import Org, RepoStore
from .scenarios import tiny_org
from .server import SimulatorServer

__all__ = ["FAULT_KINDS", "Org", "RepoStore", "SimulatorServer", "generate_org", "tiny_org"]
