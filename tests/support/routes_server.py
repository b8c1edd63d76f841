"""A loopback HTTP server answering from a route table: for contract tests on recorded objects."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

Handler = Callable[[dict[str, str], re.Match[str], str], tuple[int, dict[str, str], object]]


class RoutesServer:
    """``routes``: (regex over the path, handler(query, match, base_url) -> (status, headers, body))."""

    def __init__(self, routes: list[tuple[str, Handler]]):
        self.routes = [(re.compile(p), h) for p, h in routes]
        self.requests: list[str] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parsed = urlparse(self.path)
                outer.requests.append(self.path)
                query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
                for pattern, handler in outer.routes:
                    match = pattern.fullmatch(parsed.path)
                    if match:
                        status, headers, body = handler(query, match, outer.url)
                        break
                else:
                    status, headers, body = 404, {}, {"message": "Not Found"}
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> RoutesServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
