"""Running ``msgevents serve`` as a subprocess in tests, and signing requests to it.

The receiver listens on a free port (``--port 0``) and says which on stderr; its
stderr is read by a thread so the test can look at it while it runs and after it ends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from support import subprocess_env

WEBHOOK_KEY = "fake-webhook-key-5d1e8c"
_LISTENING = re.compile(r"listening on (http://[\d.]+:\d+)")


def sign(body: bytes, key: str = WEBHOOK_KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def fake_body(rows: list[dict]) -> bytes:
    return json.dumps(rows).encode()


class Receiver:
    """``msgevents serve`` in a subprocess; ``with Receiver(...) as r: r.post(...)``."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        self.args = args
        self.env = subprocess_env(tmp_path, MSGEVENTS_FAKE_WEBHOOK_KEY=WEBHOOK_KEY, **(env or {}))
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.stdout = ""
        self.url = ""
        self.session = requests.Session()

    def start(self, timeout: float = 30.0) -> Receiver:
        command = [sys.executable, "-m", "msgevents", "serve", "--port", "0", *self.args]
        self.proc = subprocess.Popen(
            command,
            cwd=self.tmp_path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.lines.append(line)
                match = _LISTENING.search(line)
                if match:
                    self.url = match.group(1)
                    found.set()
            found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        found.wait(timeout)
        if not self.url:
            self.wait(10)
            raise AssertionError(f"serve did not start (exit {self.proc.returncode}): {self.stderr}")
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.session.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("serve never became healthy: " + self.stderr)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def post(self, provider: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        url = f"{self.url}/webhooks/{provider}"
        return self.session.post(url, data=body, headers=headers or {}, timeout=30)

    def post_fake(self, rows: list[dict], *, signature: str | None = None) -> requests.Response:
        body = fake_body(rows)
        headers = {"X-Fake-Signature": signature or sign(body), "Content-Type": "application/json"}
        return self.post("fake", body, headers)

    def health(self) -> dict:
        return self.session.get(self.url + "/healthz", timeout=10).json()

    def metrics(self) -> str:
        return self.session.get(self.url + "/metrics", timeout=10).text

    def wait_for(self, predicate, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; stderr: {self.stderr}")

    def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.wait(timeout)  # serve writes nothing to stdout: the pipe never fills
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            self.stdout += self.proc.stdout.read()
            self.proc.stdout.close()
        self._reader.join(5)
        return self.proc.returncode

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> int:
        assert self.proc is not None
        self.proc.kill()
        return self.wait(10)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.wait(10)
