"""Fixtures: simulators on loopback ports, over the hand-built and the generated organisations."""

from __future__ import annotations

import pytest
import requests

from simulator import SimulatorServer, generate_org, tiny_org


@pytest.fixture
def tiny_sim():
    """A fresh tiny organisation per test: tests may mutate it or add faults freely."""
    with SimulatorServer(tiny_org()) as sim:
        yield sim


@pytest.fixture(scope="module")
def generated_org():
    return generate_org(seed=7, scale=1)


@pytest.fixture(scope="module")
def gen_sim(generated_org):
    """The demo-sized organisation, shared by a module: tests must not mutate it."""
    with SimulatorServer(generated_org) as sim:
        yield sim


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session
