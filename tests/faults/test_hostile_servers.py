"""Servers that misbehave in ways waiting cannot fix, or that try to take a credential elsewhere: redirects
and next-page links to another host (a second loopback port is another host: credentials are bound to scheme,
host and port), https down to http, a certificate nobody trusts, a body dripped a byte at a time, a server
that never answers, connections refused or reset. Each test asserts what the user is told and, where a
credential is at stake, that the other server received nothing at all."""

from __future__ import annotations

import base64
import importlib
import ipaddress
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connectors.config import parse_config
from connectors.core.errors import CertificateError, ForeignHostError, RetriesExhaustedError, WaitLimitError
from connectors.core.http import HttpClient, RequestStats, RetryPolicy
from connectors.core.paginators import LinkHeaderPaginator, NextUrlPaginator
from connectors.core.source import engine_for

SECRET = "s3cret-hostile-token"


class Loopback:
    """A server on 127.0.0.1 whose every GET is answered by ``answer(handler)``; it records each request's
    path and headers, and counts connections (a failed TLS handshake is a connection without a request)."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None], tls: ssl.SSLContext | None = None):
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests.append((self.path, dict(self.headers)))
                try:
                    answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a slow answer, as it should

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, address = self.socket.accept()
                outer.connections += 1
                if tls is not None:
                    try:
                        sock = tls.wrap_socket(sock, server_side=True)
                    except (ssl.SSLError, OSError):
                        sock.close()
                        raise OSError("TLS handshake refused by the client") from None
                return sock, address

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> Loopback:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int = 200, body: bytes = b"[]", headers: dict | None = None):
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


# How each source sends its credential (connectors/<type>/auth_headers), as the run builds its client.
SOURCES = {
    "github": ({"auth": {"token": "${T}"}, "scope": {"org": "acme"}}, "Authorization", f"Bearer {SECRET}"),
    "gitlab": ({"auth": {"token": "${T}"}, "scope": {"groups": ["acme"]}}, "PRIVATE-TOKEN", SECRET),
    "circleci": ({"auth": {"token": "${T}"}, "scope": {"org": "gh/acme"}}, "Circle-Token", SECRET),
    "jira": ({"auth": {"email": "me@acme.test", "api_token": "${T}"}, "scope": {"projects": ["PAY"]}},
             "Authorization", "Basic " + base64.b64encode(f"me@acme.test:{SECRET}".encode()).decode()),
}


def run_client(kind: str, base_url: str) -> HttpClient:
    """The HTTP client a run of this source type uses (connectors.core.source.engine_for)."""
    entry, _, _ = SOURCES[kind]
    source = parse_config({"sources": [{"type": kind, "name": f"{kind}-src", "base_url": base_url, **entry}]},
                          env={"T": SECRET}).sources[0]
    module = importlib.import_module(f"connectors.{kind}")
    extra = {"tokens": module.token_pool(source)} if kind == "github" else {}
    return engine_for(source, None, module.auth_headers(source), sleep=lambda s: None, **extra).client


def credential_of(kind: str, headers: dict[str, str]) -> str | None:
    _, header, _ = SOURCES[kind]
    return {k.lower(): v for k, v in headers.items()}.get(header.lower())


@pytest.fixture
def foreign():
    """The other host: it must never see a request, let alone a credential."""
    with Loopback(lambda h: reply(h, 200, b'{"stolen": true}')) as server:
        yield server


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_to_another_host_is_refused_and_the_credential_stays_home(kind, status, foreign):
    with Loopback(lambda h: reply(h, status, b"", {"Location": f"{foreign.url}/collect?from=home"})) as home:
        client = run_client(kind, home.url)
        with pytest.raises(ForeignHostError) as failure:
            client.get_json("/api/items")
    _, _, sent = SOURCES[kind]
    assert credential_of(kind, home.requests[0][1]) == sent  # the configured host got it, as it should
    assert foreign.connections == 0 and foreign.requests == []
    message = str(failure.value)
    assert message.startswith(f"{kind}-src: GET /api/items was redirected ({status}) to {foreign.url}, which is not "
                              f"the configured host {home.url} of source '{kind}-src' (base_url)")
    assert f"nothing was sent to {foreign.url}" in message and "set base_url in throughline.yml" in message
    assert SECRET not in message and sent not in message
    assert len(home.requests) == 1  # refused at once: not retried


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_next_link_to_another_host_is_not_followed(kind, foreign):
    link = f'<{foreign.url}/api/items?page=2>; rel="next"'
    with Loopback(lambda h: reply(h, 200, b"[1]", {"Link": link})) as home:
        client = run_client(kind, home.url)
        body, response = client.get_json("/api/items")
        next_url, _ = LinkHeaderPaginator().next_request({}, body, response, 1, 1)
        with pytest.raises(ForeignHostError) as failure:
            client.get_json(next_url)
    assert foreign.connections == 0 and len(home.requests) == 1
    assert str(failure.value).startswith(
        f"{kind}-src: GET /api/items: refused to follow a link to {foreign.url}, which is not the configured host "
        f"{home.url} of source '{kind}-src' (base_url); credentials are sent only there, and nothing was sent to "
        f"{foreign.url}.")


def test_a_next_url_in_the_body_to_another_host_is_not_followed(foreign):
    with Loopback(lambda h: reply(h, 200, f'{{"data": [1], "paging": {{"next": "{foreign.url}/v2/alerts?offset=1"}}}}'
                                  .encode())) as home:
        client = run_client("gitlab", home.url)
        body, response = client.get_json("/v2/alerts")
        next_url, _ = NextUrlPaginator(next_path="paging.next").next_request({}, body, response, 1, 1)
        with pytest.raises(ForeignHostError, match=f"refused to follow a link to {foreign.url}"):
            client.get_json(next_url)
    assert foreign.connections == 0


def test_a_redirect_on_the_same_host_is_followed_with_the_credential():
    # GitHub answers a renamed repository's old name with 301 to the new one: same host, so followed.
    def answer(h):
        if h.path.startswith("/repos/acme/old"):
            reply(h, 301, b"", {"Location": "/repos/acme/new"})  # relative, as servers often send it
        else:
            reply(h, 200, b'{"full_name": "acme/new"}')

    with Loopback(answer) as home:
        body, _ = run_client("gitlab", home.url).get_json("/repos/acme/old")
    assert body == {"full_name": "acme/new"}
    assert [(path, credential_of("gitlab", headers)) for path, headers in home.requests] == [
        ("/repos/acme/old", SECRET), ("/repos/acme/new", SECRET)]


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A throwaway self-signed certificate for 127.0.0.1: (cert PEM path, server context)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "throughline test 127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


def client_for(base_url: str, **kw) -> tuple[HttpClient, list[float]]:
    """A client sending a GitLab-style token, its sleeps recorded instead of slept."""
    waits: list[float] = []
    kw.setdefault("retry", RetryPolicy(max_retries=6))
    client = HttpClient(source="gl", base_url=base_url, auth_headers=lambda: {"PRIVATE-TOKEN": SECRET},
                        sleep=waits.append, **kw)
    return client, waits


def test_an_untrusted_certificate_fails_the_source_at_once(certificate, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    _, context = certificate
    with Loopback(lambda h: reply(h), tls=context) as server:
        client, waits = client_for(server.url)
        started = time.monotonic()
        with pytest.raises(CertificateError) as failure:
            client.get_json("/api/v4/projects")
        took = time.monotonic() - started
    # One connection, no retry, no wait: six retries with backoff cost 169 s before.
    assert server.connections == 1 and server.requests == [] and waits == [] and took < 5
    message = str(failure.value)
    assert message.startswith(f"gl: the TLS certificate of 127.0.0.1:{server.port} was refused (certificate verify "
                              "failed: self-signed certificate)")
    assert "options.ca_bundle of source 'gl' (or set REQUESTS_CA_BUNDLE)" in message and SECRET not in message


def test_ca_bundle_trusts_a_private_ca_and_https_down_to_http_is_refused(certificate, foreign):
    cert_file, context = certificate

    def answer(h):
        if h.path == "/ok":
            reply(h, 200, b'{"ok": true}')
        else:
            reply(h, 302, b"", {"Location": f"{foreign.url}/plain"})  # http://: the token would travel in clear

    with Loopback(answer, tls=context) as server:
        client, _ = client_for(server.url, ca_bundle=str(cert_file))
        assert client.get_json("/ok")[0] == {"ok": True}
        with pytest.raises(ForeignHostError) as failure:
            client.get_json("/moved")
    assert f"was redirected (302) to {foreign.url} (down from https to plain http)" in str(failure.value)
    assert foreign.connections == 0


def test_requests_ca_bundle_from_the_environment_trusts_a_private_ca(certificate, monkeypatch):
    cert_file, context = certificate
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    with Loopback(lambda h: reply(h, 200, b'{"ok": true}'), tls=context) as server:
        client, _ = client_for(server.url)  # no options.ca_bundle
        assert client.get_json("/ok")[0] == {"ok": True}
        assert client.get_json("/ok")[0] == {"ok": True}
    assert server.connections == 1  # the second request reused the verified connection


PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


def test_the_environments_proxy_carries_the_requests_and_no_proxy_bypasses_it(monkeypatch):
    """HTTP_PROXY as users set it for a network that needs one: every request goes through the proxy (an
    absolute URL as its target); a host NO_PROXY names is reached directly."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with (Loopback(lambda h: reply(h, 200, b'{"via": "proxy"}')) as proxy,
          Loopback(lambda h: reply(h, 200, b'{"via": "direct"}')) as direct):
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client, _ = client_for("http://gitlab.acme.test")
        assert [client.get_json(path)[0] for path in ("/api/v4/projects", "/api/v4/groups")] == [{"via": "proxy"}] * 2
        assert [path for path, _ in proxy.requests] == ["http://gitlab.acme.test/api/v4/projects",
                                                         "http://gitlab.acme.test/api/v4/groups"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        client, _ = client_for(direct.url)
        assert client.get_json("/api/v4/projects")[0] == {"via": "direct"}
        assert [path for path, _ in direct.requests] == ["/api/v4/projects"] and len(proxy.requests) == 2


def test_a_netrc_entry_does_not_replace_the_sources_credentials(tmp_path, monkeypatch):
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login someone password other-secret\n")
    (tmp_path / ".netrc").chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
    with Loopback(lambda h: reply(h, 200, b"[]")) as server:
        client = HttpClient(source="jira", base_url=server.url,
                            auth_headers=lambda: {"Authorization": f"Bearer {SECRET}"})
        client.get_json("/rest/api/3/myself")
    [(_, headers)] = server.requests
    assert headers["Authorization"] == f"Bearer {SECRET}"


# ------------------------------------------------------------------ slow and silent servers


def drip(handler: BaseHTTPRequestHandler, every: float) -> None:
    """Promise 64 bytes and send one every ``every`` seconds: never silent for a whole read timeout."""
    handler.send_response(200)
    handler.send_header("Content-Length", "64")
    handler.end_headers()
    for _ in range(64):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(every)


def test_a_body_dripped_a_byte_at_a_time_trips_the_deadline_and_is_retried():
    # The first answer promises 64 bytes and sends one every 0.3 s: each read comes well within the 1 s
    # timeout, so only the 2 s deadline stops it (after about 2 / 0.3 = 7 bytes); the retry answers at once.
    def answer(h):
        if len(server.requests) > 1:
            return reply(h, 200, b'{"ok": true}')
        drip(h, every=0.3)

    with Loopback(answer) as server:
        client, waits = client_for(server.url, timeout_seconds=1.0, request_deadline_seconds=2.0)
        stats = RequestStats()
        started = time.monotonic()
        body, _ = client.get_json("/slow", stats=stats)
        took = time.monotonic() - started
    assert body == {"ok": True} and stats.requests == 2 and stats.retry_reasons == {"deadline": 1}
    assert 2.0 <= took < 2.0 + 1.0 + 0.5  # the deadline, at most one read timeout late, plus the retry


def test_a_drip_past_every_retry_fails_naming_the_host_and_the_deadline():
    with Loopback(lambda h: drip(h, every=0.2)) as server:
        client, _ = client_for(server.url, timeout_seconds=0.5, request_deadline_seconds=1.0,
                               retry=RetryPolicy(max_retries=0))
        started = time.monotonic()
        with pytest.raises(RetriesExhaustedError) as failure:
            client.get_json("/slow")
        assert time.monotonic() - started < 1.0 + 0.5 + 0.5
    assert f"(deadline: 127.0.0.1:{server.port} had sent " in str(failure.value)
    assert "and was still sending after 1s (options.request_deadline_seconds)" in str(failure.value)


def test_a_server_that_never_answers_stops_at_the_total_wait_budget():
    # Each attempt waits out the 0.4 s timeout (backoff 0): 0.4, 0.8, 1.2 s spent; the budget of 1.0 s is
    # passed after the third attempt, long before 1 + max_retries (7) attempts.
    silent = threading.Event()
    with Loopback(lambda h: silent.wait(10)) as server:
        client, waits = client_for(server.url, timeout_seconds=0.4, max_total_wait_seconds=1.0,
                                   retry=RetryPolicy(max_retries=6, backoff_seconds=0))
        stats = RequestStats()
        with pytest.raises(WaitLimitError) as failure:
            client.get_json("/never", stats=stats)
        silent.set()
    assert stats.requests == 3 and len(server.requests) == 3
    message = str(failure.value)
    assert message.startswith("gl: GET /never: source 'gl' has waited 1 s in this step")
    assert f"(after timeout: 127.0.0.1:{server.port} did not answer within 0.4s)" in message
    assert "would pass options.max_total_wait_seconds (1 s)" in message


# ------------------------------------------------------------------ connection errors name host and cause


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_names_the_host_and_the_cause():
    port = free_port()
    client, _ = client_for(f"http://127.0.0.1:{port}", retry=RetryPolicy(max_retries=0))
    with pytest.raises(RetriesExhaustedError) as failure:
        client.get_json("/x")
    assert (f"(connection error: 127.0.0.1:{port} refused the connection (nothing listens there): check "
            "base_url's host and port, and that the service is up)") in str(failure.value)
    assert "ConnectionError" not in str(failure.value)


def test_a_reset_connection_names_the_host_and_the_cause():
    def answer(h):
        # SO_LINGER 0: close with a TCP reset, no answer.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    with Loopback(answer) as server:
        client, _ = client_for(server.url, retry=RetryPolicy(max_retries=0))
        with pytest.raises(RetriesExhaustedError) as failure:
            client.get_json("/x")
    assert (f"(connection error: 127.0.0.1:{server.port} closed the connection without a complete answer "
            "(connection reset))") in str(failure.value)
