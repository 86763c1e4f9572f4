"""Black-box: servers that echo the request's credentials back never make ``msgevents`` leak them.

One loopback server plays both Optimizely REST and CrossEngage, and answers every
request with an error whose body quotes the request headers (``Authorization:
Basic <base64 of user:password>``, ``X-XNG-AuthToken: <key>``) and, as a login
form echo would, the password URL-encoded. ``msgevents collect`` runs as a
subprocess at ``-vv`` with ``--report``; then no secret, nor any form derived
from one, may be found in stdout, stderr, the report, any byte of the state
database or the quarantine files.
"""

from __future__ import annotations

import base64
import html
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from blackbox.test_collect_cli import MSGEVENTS
from support import subprocess_env

pytestmark = pytest.mark.slow

USER = "api-user@example.com"
PASSWORD = "Pa$$ w/rd+Zq:9&x%<y>"
API_KEY = "ce-echo-key-5d1e7c9a02"


class EchoServer:
    """Answers every request with ``status`` and a body echoing its headers."""

    def __init__(self, status: int) -> None:
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(handler) -> None:  # ``self`` is the EchoServer
                length = int(handler.headers.get("Content-Length") or 0)
                if length:
                    handler.rfile.read(length)
                self.paths.append(handler.path)
                # what a client sent, credentials first (an error body is often cut at a few hundred bytes)
                sent = {"Authorization": handler.headers.get("Authorization"),
                        "X-XNG-AuthToken": handler.headers.get("X-XNG-AuthToken"),
                        "login": _form_echo(handler.headers.get("Authorization", ""))}  # fmt: skip
                body = json.dumps({"error": "denied", "request": sent, "headers": dict(handler.headers)})
                data = f"{body}\n{handler.headers}".encode()
                handler.send_response(status)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def _form_echo(authorization: str) -> str:
    """``user=…&password=…`` form-encoded, from a Basic header (as a login form echo shows it)."""
    if not authorization.startswith("Basic "):
        return ""
    user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
    return f"user={quote_plus(user)}&password={quote_plus(password)}"


@pytest.fixture
def echo_400() -> Iterator[EchoServer]:
    server = EchoServer(400)
    yield server
    server.close()


def forbidden_forms() -> dict[str, str]:
    forms = {
        "password": PASSWORD,
        "api key": API_KEY,
        "password url-encoded": quote(PASSWORD, safe=""),
        "password form-encoded": quote_plus(PASSWORD),
        "password html-escaped": html.escape(PASSWORD),
        "password json-escaped": json.dumps(PASSWORD)[1:-1],
    }
    for name, text in (("user:password", f"{USER}:{PASSWORD}"), ("api:key", f"api:{API_KEY}")):
        encoded = base64.b64encode(text.encode()).decode()
        forms[f"base64 of {name}"] = encoded
        forms[f"base64 of {name}, unpadded"] = encoded.rstrip("=")
        forms[f"the password part of base64 of {name}"] = encoded[-16:-4]
    return forms


def run(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = subprocess_env(tmp_path, **env)
    return subprocess.run(
        [*MSGEVENTS, "collect", "--provider", "episerver", "-vv", "--report", "report.json", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_echoed_credentials_never_reach_output_report_state_or_quarantine(tmp_path, echo_400):
    clicks = tmp_path / "clicks_20240501.csv"
    clicks.write_text(
        "mailing_id;recipient_list_id;recipient_id;timestamp;link_id;link_url\n"
        "1001;7;someone@example.com;1714557600000;55;https://example.com/a\n"
        "1001;7;other@example.com;1714557601000;56;\n"
    )
    env = {
        "MSGEVENTS_EPISERVER_CLIENT_ID": "123",
        "MSGEVENTS_EPISERVER_USERNAME": USER,
        "MSGEVENTS_EPISERVER_PASSWORD": PASSWORD,
        "MSGEVENTS_EPISERVER_BASE_URL": echo_400.url,
        "MSGEVENTS_EPISERVER_HTTP_RETRIES": "1",
        "MSGEVENTS_CROSSENGAGE_API_KEY": API_KEY,
        "MSGEVENTS_CROSSENGAGE_BASE_URL": echo_400.url,
        "MSGEVENTS_CROSSENGAGE_RETRIES": "1",
    }
    # 1: the REST look-up of the empty link_url is answered 400 with the Basic header echoed
    looked_up = run(tmp_path, "--input", str(clicks), "--to", "crossengage", env=env)
    report_1 = (tmp_path / "report.json").read_text()
    # 2: offline file reading; CrossEngage answers 400 echoing X-XNG-AuthToken → events rejected
    rejected = run(
        tmp_path, "--input", str(clicks), "--to", "crossengage",
        env={**env, "MSGEVENTS_EPISERVER_FILE_LINK_LOOKUP": "never"},
    )  # fmt: skip
    report_2 = (tmp_path / "report.json").read_text()

    assert any(path.startswith("/rest/123/") for path in echo_400.paths)  # both servers were asked
    assert any(path.startswith("/events") for path in echo_400.paths)
    assert looked_up.returncode not in (0, 1), looked_up.stderr  # the echo made the run fail, not crash
    assert "HTTP 400" in looked_up.stderr
    assert "Authorization" in looked_up.stderr  # the echoed body was shown, masked
    quarantine = list(tmp_path.rglob("quarantine/*.jsonl"))
    assert quarantine, rejected.stderr  # the rejected events were written with the echoed reason
    assert "CrossEngage rejected the event" in quarantine[0].read_text()
    state = next(tmp_path.rglob("state.db"))
    haystacks = {
        "stdout/stderr of the look-up run": looked_up.stdout + looked_up.stderr,
        "stdout/stderr of the rejected run": rejected.stdout + rejected.stderr,
        "report of the look-up run": report_1,
        "report of the rejected run": report_2,
        "state database bytes": state.read_bytes().decode("utf-8", "replace"),
        **{f"quarantine file {p.name}": p.read_text() for p in quarantine},
    }
    for wal in state.parent.glob("state.db-*"):
        haystacks[wal.name] = wal.read_bytes().decode("utf-8", "replace")
    leaks = [
        f"{form} in {where}"
        for form, text in forbidden_forms().items()
        for where, haystack in haystacks.items()
        if text in haystack
    ]
    assert not leaks, leaks


MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def test_an_echoed_mailgun_api_key_never_reaches_output_report_or_state(tmp_path, echo_400):
    """Mailgun authenticates with Basic ``api:<key>``: its base64 is the derived form to mask."""
    env = {
        "MSGEVENTS_MAILGUN_DOMAIN": "mg.example.com",
        "MSGEVENTS_MAILGUN_API_KEY": MAILGUN_KEY,
        "MSGEVENTS_MAILGUN_BASE_URL": echo_400.url,
        "MSGEVENTS_MAILGUN_HTTP_RETRIES": "1",
    }
    environment = subprocess_env(tmp_path, **env)
    result = subprocess.run(
        [*MSGEVENTS, "collect", "--provider", "mailgun", "--to", "jsonl:-", "-vv", "--report", "report.json"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert any("/v3/mg.example.com/" in path for path in echo_400.paths)
    assert result.returncode not in (0, 1), result.stderr
    assert "Authorization" in result.stderr  # the echoed body was shown, masked
    encoded = base64.b64encode(f"api:{MAILGUN_KEY}".encode()).decode()
    forms = {"key": MAILGUN_KEY, "base64 of api:key": encoded, "its key part": encoded[8:-4]}
    haystacks = {
        "stdout/stderr": result.stdout + result.stderr,
        "report": (tmp_path / "report.json").read_text(),
    }
    for path in tmp_path.rglob("state.db*"):
        haystacks[path.name] = path.read_bytes().decode("utf-8", "replace")
    leaks = [
        f"{form} in {where}"
        for form, text in forms.items()
        for where, hay in haystacks.items()
        if text in hay
    ]
    assert not leaks, leaks
