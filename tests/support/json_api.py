"""A loopback JSON API for the POST and GraphQL endpoint tests: it answers with a script, in order, and keeps
every request as it arrived (method, path, query, JSON body, headers), so a test asserts what went on the wire."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Answer:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


class JsonApi:
    """``with JsonApi([Answer(...), ...]) as api``: ``api.url`` to call, ``api.requests`` what came in."""

    def __init__(self, answers: list[Answer]):
        self.answers = list(answers)
        self.requests: list[Request] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                split = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                api.requests.append(Request(self.command, split.path, dict(parse_qsl(split.query)),
                                            json.loads(raw) if raw else None, dict(self.headers)))
                answer = api.answers.pop(0) if api.answers else Answer({"message": "script ended"}, 599)
                data = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # quiet: pytest shows the assertions
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JsonApi:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
