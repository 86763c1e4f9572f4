"""Black-box tests of ``msgevents serve``: real HTTP on 127.0.0.1 to the receiver in a subprocess.

The provider is the fixture plugin ``fake`` (its webhooks are signed with HMAC-SHA256 of the
body, ``X-Fake-Signature``); the sink is a feed directory or the CrossEngage emulator.
Each test checks what reached the sink (exactly once), the answers, and what was stored.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serve_support import WEBHOOK_KEY, Receiver, fake_body, sign
from support import subprocess_env, write_records

from msgevents.lock import RunLock
from msgevents.testing.crossengage_emulator import CrossEngageEmulator

pytestmark = pytest.mark.slow

API_KEY = "ce-secret-key-serve-4b7d"
BASE = 1_715_000_000


def rows(n: int, *, start: int = 0, kind: str = "sent") -> list[dict]:
    return [
        {"id": i, "kind": kind, "email": f"user{i % 5}@example.com", "ts": BASE + i, "mailing": f"{i}"}
        for i in range(start, start + n)
    ]


def feed_lines(directory: Path) -> list[dict]:
    """Every event line of the renamed feed files in ``directory``."""
    lines = []
    for path in sorted(directory.glob("event_history_*.json")):
        lines.extend(json.loads(path.read_text()))
    return lines


def fed(directory: Path) -> Counter:
    return Counter((line["email"], line["message_id"]) for line in feed_lines(directory))


def expected(items: list[dict]) -> Counter:
    return Counter((r["email"], r["mailing"]) for r in items)


def outbox_count(state: Path) -> int:
    with sqlite3.connect(state) as conn:
        return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def metric(text: str, name: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name)))


def serve_args(tmp_path: Path, *extra: str, sink: str | None = None) -> tuple[str, ...]:
    state = str(tmp_path / "st" / "state.db")
    return ("--provider", "fake", "--state", state, "--to", sink or "feed:feeds", *extra)


FAST = {"MSGEVENTS_SERVE_BATCH_AGE": "0.2", "MSGEVENTS_SERVE_RETRY_MAX": "0.5"}


# -- authenticity --------------------------------------------------------------------------------------


def test_signed_request_is_delivered_and_a_forged_one_is_refused_and_stored_nowhere(tmp_path):
    with Receiver(tmp_path, *serve_args(tmp_path), env=FAST) as receiver:
        forged = receiver.post_fake(rows(1, start=50), signature=sign(b"something else"))
        assert forged.status_code == 401
        assert "signature does not match" in forged.json()["error"]
        unsigned = receiver.post("fake", fake_body(rows(1, start=60)))
        assert unsigned.status_code == 401
        answer = receiver.post_fake(rows(3))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"accepted": 3, "quarantined": 0, "not_modelled": 0}
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 3, what="3 events in the feed")
        delivered = 'msgevents_serve_events_total{outcome="delivered",provider="fake"} 3.0'
        # the file is renamed into place just before the pass counts its outcome: wait for the count
        receiver.wait_for(lambda: delivered in receiver.metrics(), what="3 delivered in /metrics")
        assert 'msgevents_serve_requests_total{provider="fake",status="401"} 2.0' in receiver.metrics()
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected(rows(3))
    assert outbox_count(tmp_path / "st" / "state.db") == 0
    quarantine = tmp_path / "st" / "quarantine"
    assert not quarantine.exists() or not any(quarantine.iterdir())


def test_unknown_provider_path_and_wrong_method(tmp_path):
    with Receiver(tmp_path, *serve_args(tmp_path)) as receiver:
        assert receiver.post("nope", b"{}").status_code == 404
        assert receiver.session.get(receiver.url + "/webhooks/fake").status_code == 405
        body = fake_body(rows(1))
        alias = receiver.post("fake-alias", body, {"X-Fake-Signature": sign(body)})
        assert alias.status_code == 200


# -- bad bodies ---------------------------------------------------------------------------------------------


def test_oversized_body_is_413_and_garbage_is_quarantined_whole_or_refused(tmp_path):
    env = {**FAST, "MSGEVENTS_SERVE_MAX_BODY": "2048"}
    with Receiver(tmp_path, *serve_args(tmp_path), env=env) as receiver:
        big = fake_body(rows(40))
        assert len(big) > 2048
        assert receiver.post("fake", big, {"X-Fake-Signature": sign(big)}).status_code == 413
        garbage = b"\x00\xffnot json at all {"
        assert receiver.post("fake", garbage, {"X-Fake-Signature": "00" * 32}).status_code == 401
        answer = receiver.post("fake", garbage, {"X-Fake-Signature": sign(garbage)})
        assert answer.status_code == 200  # authentic but unreadable: quarantined whole, not retried
        assert answer.json()["quarantined"] == 1
        mixed = [*rows(2), {"id": 99, "kind": "broken"}, {"id": 98, "kind": "other", "ts": 1}]
        answer = receiver.post_fake(mixed)
        assert answer.json() == {"accepted": 2, "quarantined": 1, "not_modelled": 1}
        again = receiver.post_fake(mixed)  # a retry quarantines nothing twice
        assert again.json() == {"accepted": 2, "quarantined": 0, "not_modelled": 1}
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 2, what="2 events")
    lines = [json.loads(line) for f in (tmp_path / "st" / "quarantine").glob("*.jsonl") for line in f.open()]
    reasons = sorted(line["reason"] for line in lines)
    assert len(lines) == 2, lines
    assert reasons[0] == "record 99 is broken on purpose"
    assert reasons[1].startswith("unreadable webhook body: body is not JSON")
    whole = next(line for line in lines if line["reason"].startswith("unreadable"))
    assert "not json at all" in whole["record"]["body"]


# -- exactly once --------------------------------------------------------------------------------------


def test_provider_retries_are_delivered_once(tmp_path):
    batch = rows(4)
    with Receiver(tmp_path, *serve_args(tmp_path), env=FAST) as receiver:
        for _ in range(3):
            assert receiver.post_fake(batch).status_code == 200
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) >= 4, what="delivery")
        for _ in range(2):  # retried after its delivery: the ledger drops it
            assert receiver.post_fake(batch).status_code == 200
        receiver.wait_for(lambda: outbox_count(tmp_path / "st" / "state.db") == 0, what="empty outbox")
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected(batch)


def test_same_event_by_webhook_and_by_collect_input_is_delivered_once(tmp_path):
    first, second = rows(5), rows(5, start=5)
    write_records(tmp_path / "dump.jsonl", first + second)
    with Receiver(tmp_path, *serve_args(tmp_path), env=FAST) as receiver:
        assert receiver.post_fake(first).status_code == 200
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 5, what="webhook delivery")
        result = subprocess.run(
            [sys.executable, "-m", "msgevents", "collect", "--provider", "fake", "--input", "dump.jsonl",
             "--to", "feed:feeds", "--state", str(tmp_path / "st" / "state.db")],
            cwd=tmp_path, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        # the second half came by file first; the same events by webhook now are not sent again
        assert receiver.post_fake(second).status_code == 200
        receiver.wait_for(lambda: outbox_count(tmp_path / "st" / "state.db") == 0, what="empty outbox")
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected(first + second)


def test_the_receiver_delivers_while_a_collect_of_the_account_holds_its_run_lock(tmp_path):
    # The receiver takes no run lock (claims keep concurrent runs apart), so neither waits for the
    # other and a collect started during a delivery pass never exits 6 because of it.
    state = tmp_path / "st" / "state.db"
    with Receiver(tmp_path, *serve_args(tmp_path, "-v"), env=FAST) as receiver:
        lock = RunLock(state, "fake", "acct-1")  # what a running collect of this account holds
        lock.acquire()
        try:
            assert receiver.post_fake(rows(3)).status_code == 200
            receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 3, what="delivery")
            assert outbox_count(state) == 0
        finally:
            lock.release()
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected(rows(3))


def test_concurrent_collect_of_the_same_events_delivers_each_once(tmp_path):
    batches = [rows(10, start=i * 10) for i in range(12)]
    write_records(tmp_path / "dump.jsonl", [r for b in batches for r in b])
    env = {**FAST, "MSGEVENTS_SERVE_BATCH_SIZE": "5", "MSGEVENTS_SERVE_BATCH_AGE": "0.05"}
    with Receiver(tmp_path, *serve_args(tmp_path, "-v"), env=env) as receiver:
        collect = subprocess.Popen(
            [sys.executable, "-m", "msgevents", "collect", "--provider", "fake", "--input", "dump.jsonl",
             "--to", "feed:feeds", "--state", str(tmp_path / "st" / "state.db")],
            cwd=tmp_path, env=subprocess_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for batch in batches:
            assert receiver.post_fake(batch).status_code == 200
        _, err = collect.communicate(timeout=120)
        assert collect.returncode == 0, err
        receiver.wait_for(lambda: outbox_count(tmp_path / "st" / "state.db") == 0, what="empty outbox")
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected([r for b in batches for r in b])


def test_kill_9_after_2xx_while_crossengage_is_down_loses_and_repeats_nothing(tmp_path):
    batches = [rows(6, start=i * 6) for i in range(10)]
    env = {**FAST, "MSGEVENTS_CROSSENGAGE_API_KEY": API_KEY, "MSGEVENTS_CROSSENGAGE_RETRIES": "1"}
    with CrossEngageEmulator(api_key=API_KEY, fault_rates={"503": 1.0}) as down:
        env["MSGEVENTS_CROSSENGAGE_BASE_URL"] = down.base_url
        receiver = Receiver(tmp_path, *serve_args(tmp_path, "-v", sink="crossengage"), env=env).start()
        try:
            with ThreadPoolExecutor(5) as pool:
                answers = list(pool.map(receiver.post_fake, batches))
            assert [a.status_code for a in answers] == [200] * 10
            receiver.wait_for(lambda: receiver.health()["sink"].startswith("down"), what="sink down")
            assert receiver.kill() == -9
        finally:
            receiver.__exit__()
        assert down.accepted == []
    port = int(env["MSGEVENTS_CROSSENGAGE_BASE_URL"].rsplit(":", 1)[1])  # the same tenant, up again
    with CrossEngageEmulator(api_key=API_KEY, port=port) as emulator:
        with Receiver(tmp_path, *serve_args(tmp_path, "-v", sink="crossengage"), env=env) as receiver:
            receiver.wait_for(lambda: len(emulator.accepted) >= 60, what="60 events after the restart")
            assert receiver.terminate() == 0
        received = Counter((event["properties"]["message_id"]) for _identity, event in emulator.accepted)
    assert received == Counter(str(r["id"]) for b in batches for r in b)
    assert emulator.violations == []


def test_sigterm_drains_the_outbox_and_exits_0(tmp_path):
    env = {"MSGEVENTS_SERVE_BATCH_AGE": "30", "MSGEVENTS_SERVE_BATCH_SIZE": "100000"}  # only the drain sends
    with Receiver(tmp_path, *serve_args(tmp_path), env=env) as receiver:
        for i in range(5):
            assert receiver.post_fake(rows(4, start=i * 4)).status_code == 200
        assert fed(tmp_path / "feeds") == Counter()
        assert receiver.terminate() == 0
    assert fed(tmp_path / "feeds") == expected(rows(20))
    assert outbox_count(tmp_path / "st" / "state.db") == 0
    assert "20 events delivered" in receiver.stderr


def test_a_burst_of_concurrent_requests_is_committed_in_groups_and_delivered_once(tmp_path):
    batches = [rows(2, start=i * 2) for i in range(150)]
    with Receiver(tmp_path, *serve_args(tmp_path), env=FAST) as receiver:
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda b: Receiver.post_fake(receiver, b), batches))
        assert all(a.status_code == 200 for a in answers)
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 300, what="300 events")
        metrics = receiver.metrics()
        assert receiver.terminate() == 0
    groups = metric(metrics, "msgevents_serve_commit_group_requests_count")
    requests_in_groups = metric(metrics, "msgevents_serve_commit_group_requests_sum")
    assert requests_in_groups >= 150
    assert groups < requests_in_groups  # some transactions carried several requests
    assert fed(tmp_path / "feeds") == expected([r for b in batches for r in b])


# -- operation ---------------------------------------------------------------------------------------------


def test_a_second_receiver_on_the_same_state_exits_6_naming_the_first(tmp_path):
    with Receiver(tmp_path, *serve_args(tmp_path)) as first:
        second = subprocess.run(
            [sys.executable, "-m", "msgevents", "serve", "--port", "0", *serve_args(tmp_path)],
            cwd=tmp_path, env=first.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 6, second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
        assert first.health()["status"] == "ok"


def test_missing_webhook_secret_of_a_named_provider_exits_2_naming_it(tmp_path):
    env = subprocess_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "msgevents", "serve", "--port", "0", *serve_args(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "MSGEVENTS_FAKE_WEBHOOK_KEY" in result.stderr


def test_healthz_is_503_when_the_state_cannot_be_written(tmp_path):
    with Receiver(tmp_path, *serve_args(tmp_path)) as receiver:
        assert receiver.health()["status"] == "ok"
        blocker = sqlite3.connect(tmp_path / "st" / "state.db", timeout=0.1, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the state past the busy timeout
        try:
            env_timeout = threading.Event()
            answer = receiver.session.get(receiver.url + "/healthz", timeout=60)
            env_timeout.set()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert answer.status_code == 503, answer.text
        assert answer.json()["status"] == "unavailable"
        assert receiver.health()["status"] == "ok"


def test_secrets_and_signatures_never_appear_in_any_output(tmp_path):
    body = fake_body(rows(2))
    signature = sign(body)
    garbage = b'{"broken": true, "token": "' + WEBHOOK_KEY.encode() + b'"}'
    env = {**FAST, "MSGEVENTS_FAKE_TOKEN": "fake-token-secret-91c2"}
    with Receiver(tmp_path, *serve_args(tmp_path, "-v"), env=env) as receiver:
        assert receiver.post("fake", body, {"X-Fake-Signature": signature}).status_code == 200
        assert receiver.post("fake", b"[]", {"X-Fake-Signature": signature}).status_code == 401
        assert receiver.post("fake", garbage, {"X-Fake-Signature": sign(garbage)}).status_code == 200
        receiver.wait_for(lambda: sum(fed(tmp_path / "feeds").values()) == 2, what="delivery")
        health, metrics = json.dumps(receiver.health()), receiver.metrics()
        assert receiver.terminate() == 0
    assert "POST /webhooks/fake 200" in receiver.stderr  # the -v request log is there
    texts = [receiver.stderr, receiver.stdout, health, metrics]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and ".cache" not in p.parts]
    texts += [p.read_bytes().decode("latin-1") for p in files]
    for secret in (WEBHOOK_KEY, signature, sign(garbage), "fake-token-secret-91c2"):
        for text in texts:
            assert secret not in text
