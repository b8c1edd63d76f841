"""A loopback double of Jira Cloud and GitHub REST over a deterministic synthetic organisation.

Used by `make demo` (no credentials, no Docker), by connector tests (with fault injection) and by
benchmarks. Start with SimulatorServer (server.py), Org (model.py), generate_org (generator.py) and
tiny_org (scenarios.py).
"""

from .faults import KINDS as FAULT_KINDS
from .generator import generate_org
from .model import Org, RepoStore
from .scenarios import tiny_org
from .server import SimulatorServer

__all__ = ["FAULT_KINDS", "Org", "RepoStore", "SimulatorServer", "generate_org", "tiny_org"]
