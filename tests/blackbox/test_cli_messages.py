"""What the CLI says: every error once, honest install advice, aliases as aliases, window options.

Runs ``msgevents`` as a subprocess with the fixture plugins (``fake``, alias
``fake-alias``; ``broken``) beside the installed ones (``episerver``, alias
``optimizely``). The fake provider's clock is pinned (``MSGEVENTS_FAKE_NOW``) far
from the machine's, so a relative ``--since`` resolved on the wrong clock shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import subprocess_env

pytestmark = pytest.mark.slow

PROVIDER_NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "msgevents", *args],
        cwd=tmp_path,
        env=subprocess_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_error_after_the_run_started_is_printed_once(tmp_path):
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "quarantine").write_text("in the way\n")
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "kind": "sent", "email": "a@example.com", "ts": 1715000000}\n')

    result = cli(tmp_path, "collect", "--provider", "fake", "--input", str(source), "--state", "st/state.db")

    assert result.returncode == 2
    assert result.stderr.count("is a file, not a directory") == 1, result.stderr
    assert "msgevents collect --provider fake" in result.stderr  # the summary still comes


def test_an_error_before_the_run_is_printed_once(tmp_path):
    result = cli(tmp_path, "collect", "--provider", "nope", "--since", "1d")
    assert result.returncode == 2
    assert result.stderr.count("Unknown provider 'nope'") == 1


def test_the_unknown_provider_message_gives_advice_that_works(tmp_path):
    result = cli(tmp_path, "collect", "--provider", "nope", "--since", "1d")

    assert "pip install msgevents-nope" not in result.stderr  # not published: that command fails
    assert "pip install -e" in result.stderr
    assert "episerver (alias optimizely)" in result.stderr
    assert "fake (alias fake-alias)" in result.stderr
    assert ", optimizely" not in result.stderr  # not a second installed provider
    assert "msgevents providers" in result.stderr


def test_providers_lists_an_alias_as_an_alias_not_a_second_provider(tmp_path):
    listed = json.loads(cli(tmp_path, "providers", "--json").stdout)
    names = [item["name"] for item in listed]
    text = cli(tmp_path, "providers").stdout

    assert "optimizely" not in names
    assert "fake-alias" not in names
    assert next(item for item in listed if item["name"] == "episerver")["aliases"] == ["optimizely"]
    assert not any(line.startswith(("optimizely", "fake-alias")) for line in text.splitlines())
    assert "episerver (alias: optimizely)" in text


@pytest.mark.parametrize(
    ("since", "until"),
    [("2024-05-02", "2024-05-01"), ("1h", "2h"), ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z")],
)
def test_an_inverted_range_is_refused_before_settings_or_login(tmp_path, since, until):
    """No credentials are set: an inverted range must be what is reported, not the missing settings."""
    for provider in ("episerver", "fake"):
        result = cli(tmp_path, "collect", "--provider", provider, "--since", since, "--until", until)

        assert result.returncode == 2, result.stderr
        assert "is not after --since" in result.stderr
        assert "MSGEVENTS_" not in result.stderr  # no settings complaint came first
        assert "Traceback" not in result.stderr


def live(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    data = tmp_path / "data.jsonl"
    data.write_text("")
    result = cli(
        tmp_path,
        "collect", "--provider", "fake", "--to", f"feed:{tmp_path / 'feeds'}", "--state", "st/state.db",
        "--report", "report.json", *args,
        MSGEVENTS_FAKE_DATA=str(data), MSGEVENTS_FAKE_NOW=str(PROVIDER_NOW.timestamp()),
    )  # fmt: skip
    return result, json.loads((tmp_path / "report.json").read_text())


def test_a_relative_since_counts_back_from_the_providers_clock(tmp_path):
    result, report = live(tmp_path, "--since", "3h")

    assert result.returncode == 0, result.stderr
    expected = (PROVIDER_NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {window["since"] for window in report["windows"].values()} == {expected}
    assert set(report["windows"]) == {"alpha", "beta"}


def test_a_since_after_the_providers_clock_is_reported_not_silent(tmp_path):
    result, report = live(tmp_path, "--since", "2025-01-01")

    assert result.returncode == 0, result.stderr
    assert report["windows"] == {}
    assert any("is not before the provider's clock" in warning for warning in report["warnings"])
    assert "nothing to read yet" in result.stderr
