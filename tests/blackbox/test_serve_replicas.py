"""Black-box: two ``msgevents serve`` replicas on one PostgreSQL state (``--state postgresql://…``).

Each replica runs in a directory of its own, as on two machines, and delivers to the
CrossEngage emulator. Requests are spread over both, and every batch is also retried
at the other replica (as a provider retries where its load balancer sends it): each
answer is ``200`` only after that replica committed the events, delivery is shared
(each sends only the events it claimed), and CrossEngage receives every event
exactly once.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from pg import query
from serve_support import Receiver

from msgevents.testing.crossengage_emulator import CrossEngageEmulator

pytestmark = pytest.mark.slow

API_KEY = "ce-secret-key-replicas-2c9f"
BASE = 1_715_000_000
FAST = {"MSGEVENTS_SERVE_BATCH_AGE": "0.2", "MSGEVENTS_SERVE_RETRY_MAX": "0.5"}


def rows(n: int, *, start: int = 0) -> list[dict]:
    return [
        {"id": i, "kind": "sent", "email": f"user{i}@example.com", "ts": BASE + i, "mailing": f"{i}"}
        for i in range(start, start + n)
    ]


def test_two_receivers_on_one_postgres_state_each_acknowledge_and_share_delivery_once(tmp_path, pg_url):
    places = [tmp_path / "replica-a", tmp_path / "replica-b"]
    for place in places:
        place.mkdir()
    batches = [rows(3, start=i * 3) for i in range(40)]
    with CrossEngageEmulator(api_key=API_KEY) as emulator:
        env = {
            **FAST,
            "MSGEVENTS_CROSSENGAGE_API_KEY": API_KEY,
            "MSGEVENTS_CROSSENGAGE_BASE_URL": emulator.base_url,
        }
        args = ("--provider", "fake", "--state", pg_url, "--to", "crossengage")
        with Receiver(places[0], *args, env=env) as first, Receiver(places[1], *args, env=env) as second:
            replicas = [first, second]

            def post(number: int) -> list[int]:
                batch = batches[number]
                here, there = replicas[number % 2], replicas[(number + 1) % 2]
                return [here.post_fake(batch).status_code, there.post_fake(batch).status_code]

            with ThreadPoolExecutor(8) as pool:
                answers = [code for codes in pool.map(post, range(len(batches))) for code in codes]
            assert answers == [200] * (2 * len(batches))
            first.wait_for(lambda: len(emulator.accepted) >= 120, what="120 events at CrossEngage")
            first.wait_for(
                lambda: query(pg_url, "SELECT COUNT(*) FROM outbox") == [(0,)], what="an empty outbox"
            )
            healths = [first.health(), second.health()]
            assert first.terminate() == 0
            assert second.terminate() == 0
        assert emulator.violations == []
        got = Counter(identity[1] for identity, _event in emulator.accepted)
    assert got == Counter(r["email"] for batch in batches for r in batch)  # every event exactly once
    assert all(health["status"] == "ok" for health in healths), healths
    assert query(pg_url, "SELECT COUNT(*) FROM ledger") == [(120,)]
    for place in places:  # nothing of the state is on either "machine"
        assert not (place / ".msgevents" / "state.db").exists()
