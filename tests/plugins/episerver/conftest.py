"""Fixtures of the Episerver tests: cassette config, provider factory, recording switch.

Replay (the default, ``--record-mode=none``): the provider talks to
``https://api.campaign.episerver.net`` with placeholder credentials and vcrpy
answers from ``cassettes/episerver/<module>/<test>.yaml``.

Re-recording: ``pytest tests/plugins/episerver --record-mode=rewrite`` (or
``once`` for missing cassettes only). The ``episerver`` factory then starts
the emulator with the test's dataset and faults and the recording credentials;
``recording.py`` scrubs what is written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from msgevents_episerver import EpiserverProvider, EpiserverSettings

from .emulator import Dataset, EpiserverEmulator, Fault
from .recording import PLACEHOLDER, REAL_BASE_URL, RECORDING
from .recording import vcr_config as _vcr_config

__all__ = ["Dataset", "Fault"]


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return _vcr_config()


@pytest.fixture
def sleeps() -> list[float]:
    """Every retry wait the provider asked for (nothing actually sleeps)."""
    return []


class FakeClock:
    """A monotonic clock the test moves by hand (SOAP session age)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recording(record_mode: str) -> bool:
    """True when cassettes are being (re)recorded against the emulator."""
    return record_mode != "none"


@pytest.fixture
def episerver(
    recording: bool, sleeps: list[float], clock: FakeClock
) -> Iterator[Callable[..., EpiserverProvider]]:
    """Factory ``episerver(dataset=None, faults=(), emulator_options=None, **settings)``.

    Returns an :class:`EpiserverProvider` with zeroed sleeps and the fake
    clock. While recording it points at a fresh emulator serving ``dataset``
    with ``faults``; on replay those arguments are unused (the cassette answers).
    """
    emulators: list[EpiserverEmulator] = []

    def make(
        dataset: Dataset | None = None,
        faults: tuple[Fault, ...] | list[Fault] = (),
        emulator_options: dict[str, Any] | None = None,
        **settings: Any,
    ) -> EpiserverProvider:
        if recording:
            emulator = EpiserverEmulator(dataset, faults, **RECORDING, **(emulator_options or {}))
            emulators.append(emulator.start())
            base_url, credentials = emulator.base_url, RECORDING
        else:
            base_url, credentials = REAL_BASE_URL, PLACEHOLDER
        config = {"base_url": base_url, **credentials, **settings}
        return EpiserverProvider(EpiserverSettings(**config), sleep=sleeps.append, clock=clock)

    yield make
    for emulator in emulators:
        emulator.stop()


def call_name(request: Any) -> str:
    """``login`` / ``getOpens`` for a SOAP request, ``GET /unsubscribes`` for REST."""
    if "/soap11/" in request.path:
        body = ET.fromstring(request.body)
        call = next(iter(next(iter(body))))
        return call.tag.rsplit("}", 1)[-1]
    path = request.path.split("/", 3)[-1]
    return f"{request.method} /{path}"


@pytest.fixture
def played(vcr: Any, recording: bool) -> Callable[[], list[str]]:
    """The calls in this test's cassette, in order; on replay, all of them must have played."""

    def calls() -> list[str]:
        if not recording:
            assert vcr.all_played, "the provider made fewer requests than the cassette holds"
        return [call_name(r) for r in vcr.requests]

    return calls


@pytest.fixture
def live_emulator() -> Iterator[Callable[..., EpiserverEmulator]]:
    """Factory of emulators for tests that talk to it directly (no cassette)."""
    started: list[EpiserverEmulator] = []

    def make(*args: Any, **kwargs: Any) -> EpiserverEmulator:
        emulator = EpiserverEmulator(*args, **kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
