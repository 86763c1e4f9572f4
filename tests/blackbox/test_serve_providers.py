"""Black-box: the real providers' signed webhooks through ``msgevents serve`` over real HTTP.

For each provider that receives webhooks, its signed sample requests (``tests/webhook_samples.py``,
built from ``examples/<provider>/``) are POSTed to the receiver running in a subprocess: every
authentic request is answered ``200``, every forgery ``401``. Then ``msgevents collect`` reads the
provider's sample files into the same state and feed: what the webhooks delivered is not delivered
again, so the feed holds exactly what a collect of the files alone delivers. No secret, token or
signature reaches the receiver's output, the state, the quarantine or the feed.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serve_support import Receiver
from support import ROOT, subprocess_env
from webhook_samples import PUBLIC_URL, webhook_samples

from msgevents import WebhookRequest, load_settings
from msgevents.plugins import load_provider

pytestmark = pytest.mark.slow

FAST = {"MSGEVENTS_SERVE_BATCH_AGE": "0.1", "MSGEVENTS_SERVE_RETRY_MAX": "0.5"}


def _env(name: str, settings: dict) -> dict[str, str]:
    cls = load_provider(name)
    env = {cls.Settings.env_name(key): str(value) for key, value in settings.items()}
    lookups = sorted((ROOT / "examples" / name / "lookup").glob("*.csv"))
    if lookups:
        env[cls.Settings.env_name("identity_file")] = str(lookups[0])
    return {**FAST, **env, "MSGEVENTS_SERVE_PUBLIC_URL": PUBLIC_URL}


def _feed(directory: Path) -> Counter:
    import json

    lines: Counter = Counter()
    for path in sorted(directory.glob("event_history_*.json")):
        # without the timestamp: a Twilio callback is timed by its receipt, which differs between
        # the live request and the dump; its event id (MessageSid:status) does not
        lines.update(
            json.dumps({k: v for k, v in line.items() if k != "timestamp"}, sort_keys=True)
            for line in json.loads(path.read_text())
        )
    return lines


def _inputs(name: str) -> list[str]:
    folder = ROOT / "examples" / name
    return [str(p) for p in sorted(folder.glob("*")) if p.suffix in (".gz", ".jsonl", ".json", ".csv")]


def _collect(tmp_path: Path, name: str, env: dict[str, str], state: Path, feed: str) -> None:
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", name, "--state", str(state)]
    for path in _inputs(name):
        command += ["--input", path]
    done = subprocess.run(
        [*command, "--to", f"feed:{feed}"],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: the samples' deliberate bad records


def _post(receiver: Receiver, name: str, request: WebhookRequest):
    """POST ``request``'s body and headers to the receiver, with the query string it was signed for."""
    query = urlsplit(request.url).query
    url = f"{receiver.url}/webhooks/{name}" + (f"?{query}" if query else "")
    return receiver.session.post(url, data=request.body, headers=dict(request.headers), timeout=30)


def _hidden(name: str, settings: dict, samples: list) -> list[str]:
    cls = load_provider(name)
    values = load_settings(cls.Settings, **settings).secret_values()
    for sample in samples:
        values.extend(sample.hidden)
        values.extend(
            v for k, v in sample.request.headers.items() if "signature" in k or k == "authorization"
        )
    return [v for v in values if len(v) >= 6]


@pytest.mark.parametrize("name", ["mailgun", "twilio", "ses", "onesignal"])
def test_signed_webhooks_are_accepted_forged_refused_and_a_later_collect_adds_nothing(name, tmp_path):
    state = tmp_path / "st" / "state.db"
    with webhook_samples(name) as (settings, samples):
        env = _env(name, settings)
        args = ("--provider", name, "--state", str(state), "--to", "feed:feeds", "-v")
        with Receiver(tmp_path, *args, env=env) as receiver:
            for sample in samples:
                answer = _post(receiver, name, sample.request)
                assert answer.status_code == 200, (sample.label, answer.text)
                for forged in sample.forgeries:
                    refused = _post(receiver, name, forged)
                    assert refused.status_code == 401, (sample.label, refused.text)
            receiver.wait_for(lambda: receiver.health()["outbox"] == 0, what="empty outbox")
            assert receiver.terminate() == 0
            output = receiver.stderr + receiver.stdout
        hidden = _hidden(name, settings, samples)
    by_webhook = _feed(tmp_path / "feeds")
    assert by_webhook, "the webhooks delivered nothing"
    _collect(tmp_path, name, env, state, "feeds")
    alone = tmp_path / "alone"
    alone.mkdir()
    _collect(alone, name, env, alone / "state.db", "feeds")
    assert _feed(tmp_path / "feeds") == _feed(alone / "feeds")  # each event once, either way
    stored = [output] + [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    for value in hidden:
        assert not any(value in text for text in stored), (
            f"a secret or signature of {name} was stored or shown"
        )


def test_an_sns_message_whose_certificate_host_is_down_is_answered_503_so_sns_retries(tmp_path):
    from msgevents_ses.testing import SnsEmulator

    state = tmp_path / "st" / "state.db"
    with SnsEmulator() as sns:
        settings = {k: v for k, v in sns.settings.items() if k != "_env_file"}
        mail = {"messageId": "m-1", "destination": ["a@example.com"], "timestamp": "2024-11-04T09:00:00.000Z"}
        message = sns.notification({"eventType": "Send", "mail": mail, "send": {}})
    # the emulator is gone: its host is still allowed, but nobody answers there
    args = ("--provider", "ses", "--state", str(state), "--to", "feed:feeds")
    with Receiver(tmp_path, *args, env=_env("ses", settings)) as receiver:
        answer = _post(receiver, "ses", sns.request(message))
        assert answer.status_code == 503, answer.text
        assert "could not fetch the signing certificate" in answer.json()["error"]
        assert receiver.health()["outbox"] == 0
        assert receiver.terminate() == 0
