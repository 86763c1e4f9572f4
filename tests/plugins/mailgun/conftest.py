"""Fixtures of the Mailgun tests: cassette config, provider factory, recording switch.

Replay (the default, ``--record-mode=none``): the provider talks to ``https://api.mailgun.net``
with the placeholder domain and key and vcrpy answers from
``cassettes/mailgun/<module>/<test>.yaml``.

Re-recording: ``pytest tests/plugins/mailgun --record-mode=rewrite``. The ``mailgun`` factory then
starts the emulator (``emulator.py``) with the recording domain and key, lets the test fill it,
and ``recording.py`` scrubs what is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from msgevents_mailgun import MailgunProvider, MailgunSettings

from .emulator import MailgunEmulator
from .recording import PLACEHOLDER, REAL_BASE_URL, RECORDING
from .recording import vcr_config as _vcr_config


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return _vcr_config()


@pytest.fixture
def recording(record_mode: str) -> bool:
    """True when cassettes are being (re)recorded against the emulator."""
    return record_mode != "none"


@pytest.fixture
def sleeps() -> list[float]:
    """Every retry wait the provider asked for (nothing actually sleeps)."""
    return []


@pytest.fixture
def emulator(recording: bool) -> Iterator[MailgunEmulator | None]:
    """The emulator while recording (the test fills it and moves its clock); ``None`` on replay."""
    if not recording:
        yield None
        return
    with MailgunEmulator(**RECORDING) as running:
        yield running


@pytest.fixture
def mailgun(emulator: MailgunEmulator | None, sleeps: list[float]) -> Callable[..., MailgunProvider]:
    """``mailgun(**settings)``: a provider pointed at the emulator (recording) or the placeholder
    account (replay), with retry waits recorded instead of slept."""
    made: list[MailgunProvider] = []

    def make(**settings: Any) -> MailgunProvider:
        if emulator is not None:
            config = {"base_url": emulator.base_url, **RECORDING}
        else:
            config = {"base_url": REAL_BASE_URL, **PLACEHOLDER}
        provider = MailgunProvider(
            MailgunSettings(**{**config, **settings, "_env_file": None}), sleep=sleeps.append
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()
