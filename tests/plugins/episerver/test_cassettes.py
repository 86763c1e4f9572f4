"""Guard: no cassette holds a credential, a real Basic auth value or a real e-mail address.

Scans every file under ``cassettes/`` (all providers). The recording
credentials of these tests (``recording.RECORDING``) must never appear; a
``Basic`` value must be the placeholder; every e-mail address must be at
example.com/.org/.net.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from .recording import EMAIL, PLACEHOLDER_AUTH, RECORDING, allowed_email

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes"
BASIC = re.compile(r"Basic\s+(?!realm=)([A-Za-z0-9+/=_.-]{4,})")  # not WWW-Authenticate's realm
FILES = sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_episerver_cassettes_to_scan():
    assert len([p for p in FILES if "episerver" in p.parts]) >= 20


def problems_in(text: str) -> list[str]:
    found = []
    secrets = [*RECORDING.values(), base64.b64encode(f"{RECORDING['username']}:".encode()).decode()[:16]]
    found += [f"recording credential {s[:3]}…" for s in secrets if s in text]
    found += [f"Basic {v[:4]}…" for v in BASIC.findall(text) if f"Basic {v}" != PLACEHOLDER_AUTH]
    found += [f"address at {m.group(1)}" for m in EMAIL.finditer(text) if not allowed_email(m.group(1))]
    return found


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CASSETTES)) for p in FILES])
def test_cassette_holds_no_secret_or_real_address(path):
    text = path.read_bytes().decode("utf-8", errors="replace")

    assert problems_in(text) == []


def test_the_guard_finds_what_it_looks_for():
    """The scan itself works: each kind of leak is reported."""
    user, password = RECORDING["username"], RECORDING["password"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()

    assert problems_in(f"<in2>{password}</in2>")
    assert problems_in(f"Authorization: Basic {token}")
    assert problems_in("recipientId: jane.doe@gmail.com")
    assert problems_in(f"/rest/{RECORDING['client_id']}/unsubscribes")
    assert problems_in("Authorization: Basic REDACTED  jane@example.org  ops@mail.example.net") == []
    assert problems_in('WWW-Authenticate: Basic realm="api"') == []
