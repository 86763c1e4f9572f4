"""``msgevents serve`` receiving real Mailgun webhooks (the mailgun plugin's own hooks) over HTTP.

Bodies are signed as Mailgun signs them: hex HMAC-SHA256 of ``timestamp`` + ``token`` with the
domain's webhook signing key, in the body's ``signature`` object next to ``event-data``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from serve_support import Receiver
from support import subprocess_env

pytestmark = pytest.mark.slow

SIGNING_KEY = "mg-signing-key-0a9f3e77c1"
DOMAIN = "mg.example.com"
ENV = {
    "MSGEVENTS_MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    "MSGEVENTS_MAILGUN_DOMAIN": DOMAIN,
    "MSGEVENTS_SERVE_BATCH_AGE": "0.2",
}


def event(n: int) -> dict:
    return {
        "event": "delivered",
        "id": f"evt-{n:04d}",
        "timestamp": 1_715_000_000.25 + n,
        "recipient": f"user{n}@example.com",
        "message": {"headers": {"message-id": f"msg-{n}@example.org"}},
        "user-variables": {"user_id": f"C{n}"},
    }


def body(item: dict, *, token: str = "", key: str = SIGNING_KEY) -> bytes:
    token = token or "t" * 40 + item["id"]
    timestamp = "1715000000"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": item}
    ).encode()


def feed_users(directory: Path) -> Counter:
    return Counter(
        line["id"] for path in directory.glob("event_history_*.json") for line in json.loads(path.read_text())
    )


def args(tmp_path: Path, *extra: str) -> tuple[str, ...]:
    return (
        "--provider",
        "mailgun",
        "--state",
        str(tmp_path / "st" / "state.db"),
        "--to",
        "feed:feeds",
        *extra,
    )


def post(receiver: Receiver, raw: bytes):
    return receiver.post("mailgun", raw, {"Content-Type": "application/json"})


def test_mailgun_webhooks_signed_forged_retried_and_also_read_from_a_file(tmp_path):
    items = [event(n) for n in range(6)]
    (tmp_path / "hooks.jsonl").write_text("".join(body(i).decode() + "\n" for i in items[3:]))
    with Receiver(tmp_path, *args(tmp_path, "-v"), env=ENV) as receiver:
        forged = post(receiver, body(items[0], key="not-the-key-123"))
        assert forged.status_code == 401
        assert post(receiver, b'{"signature": {}, "event-data": {}}').status_code == 401
        for item in items[:4]:
            answer = post(receiver, body(item))
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 1
        assert post(receiver, body(items[0], token="a-retry-has-a-new-token-" + "x" * 20)).status_code == 200
        receiver.wait_for(lambda: sum(feed_users(tmp_path / "feeds").values()) == 4, what="4 deliveries")
        collect = subprocess.run(  # the dump holds items 3..5: item 3 came by webhook already
            [sys.executable, "-m", "msgevents", "collect", "--provider", "mailgun", "--input", "hooks.jsonl",
             "--to", "feed:feeds", "--state", str(tmp_path / "st" / "state.db")],
            cwd=tmp_path, env=subprocess_env(tmp_path, **ENV), capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert collect.returncode == 0, collect.stderr
        assert receiver.terminate() == 0
    assert feed_users(tmp_path / "feeds") == Counter(f"C{n}" for n in range(6))
    texts = [receiver.stderr, receiver.stdout, collect.stderr]
    texts += [
        p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".jsonl"
    ]
    texts += [p.read_text() for p in (tmp_path / "st").rglob("*.jsonl")]  # quarantine files
    signature = json.loads(body(items[0]))["signature"]["signature"]
    for text in texts:
        assert SIGNING_KEY not in text
        assert signature not in text
