"""GitHub App authentication against the simulator: installation found through the scope, token minted
from the app's key, renewed before it expires, refused apps fail at once without leaking the key."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors import github
from connectors.config import parse_config
from connectors.core.errors import AuthError, ConfigError
from connectors.core.raw import RawStore
from connectors.github.app import REFRESH_MARGIN_SECONDS
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer

APP_ID, INSTALLATION = "12345", 777


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def sim():
    # No personal token is accepted: only installation tokens the app mints.
    with SimulatorServer(tiny_org(), github_tokens=set(), github_apps={APP_ID: INSTALLATION}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def app_source(url: str, pem: str, app_id: str = APP_ID):
    return parse_config({"sources": [{
        "type": "github", "name": "g", "base_url": f"{url}/github", "scope": {"repos": ["acme/checkout"]},
        "auth": {"app_id": app_id, "private_key": pem}, "options": {"backoff_seconds": 0, "start_date": "2026-01-01"},
    }]}, env={}).sources[0]


def test_app_finds_its_installation_and_reads_with_an_installation_token(sim, store, pem):
    [result] = github.extract("pull_requests", app_source(sim.url, pem), store)
    assert result.records == 3
    assert sim.request_count("/github/repos/acme/checkout/installation") == 1
    assert sim.request_count(f"/github/app/installations/{INSTALLATION}/access_tokens", method="POST") == 1
    assert len(sim.github_app_tokens) == 1


def test_installation_token_is_renewed_before_it_expires(sim, store, pem):
    now = [time.time()]
    config = app_source(sim.url, pem)
    pool = github.token_pool(config, clock=lambda: now[0])
    github.extract("commits", config, store, tokens=pool)
    now[0] += 3600 - REFRESH_MARGIN_SECONDS - 1  # still valid for a little over the margin: kept
    github.extract("releases", config, store, tokens=pool)
    assert len(sim.github_app_tokens) == 1
    now[0] += 2  # inside the margin: a new token before the old one expires
    github.extract("issues", config, store, tokens=pool)
    assert len(sim.github_app_tokens) == 2
    assert sim.request_count("/github/repos/acme/checkout/installation") == 1  # the installation id is kept


def test_an_unknown_app_is_one_clear_error_without_the_key(sim, store, pem):
    with pytest.raises(AuthError) as err:
        github.extract("pull_requests", app_source(sim.url, pem, app_id="999"), store)
    message = str(err.value)
    assert "GitHub App 999" in message and "auth.app_id and auth.private_key of source 'g'" in message
    assert "PRIVATE KEY" not in message and pem.splitlines()[1] not in message


def test_app_config_needs_both_parts_and_a_pem_key():
    base = {"type": "github", "name": "g", "scope": {"repos": ["acme/checkout"]}}
    with pytest.raises(ConfigError, match="needs both app_id and private_key"):
        parse_config({"sources": [{**base, "auth": {"app_id": "1"}}]}, env={})
    with pytest.raises(ConfigError, match="not a PEM private key"):
        parse_config({"sources": [{**base, "auth": {"app_id": "1", "private_key": "hunter2"}}]}, env={})
