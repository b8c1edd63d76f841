"""A scripted requests.Session: each call pops the next canned answer (or raises it)."""

from __future__ import annotations

import json

import requests


def make_response(status: int = 200, body=None, headers: dict | None = None, raw: bytes | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    r.headers.update(headers or {})
    r.url = "https://fake.test/"
    return r


class ScriptedSession(requests.Session):
    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.calls: list[tuple[str, dict, dict]] = []

    def get(self, url, params=None, headers=None, timeout=None, **kw):  # noqa: D401
        self.calls.append((url, dict(params or {}), dict(headers or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
