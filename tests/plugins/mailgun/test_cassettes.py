"""Guard: no Mailgun cassette holds the recording API key in any form, a real Basic value, the
recording domain or a real e-mail address."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from .recording import EMAIL, PLACEHOLDER_AUTH, RECORDING, allowed_email

CASSETTES = Path(__file__).resolve().parents[3] / "cassettes" / "mailgun"
BASIC = re.compile(r"Basic\s+(?!realm=)([A-Za-z0-9+/=_.-]{4,})")
FILES = sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def _base64_forms(secret: str) -> list[str]:
    """The base64 of ``secret`` at each of the three alignments it can take inside a longer
    text (e.g. ``api:<key>``), trimmed to the characters that do not depend on the neighbours."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
        start = (shift * 4 + 2) // 3 + (1 if shift else 0)
        forms.append(encoded[start : len(encoded) - 4])
    return [form for form in forms if len(form) >= 8]


def problems_in(text: str) -> list[str]:
    found = []
    key = RECORDING["api_key"]
    secrets = [key, RECORDING["domain"], *_base64_forms(key), *_base64_forms(f"api:{key}")]
    secrets += [s.replace("+", "-").replace("/", "_") for s in _base64_forms(key)]
    found += [f"recording credential {s[:4]}…" for s in secrets if s in text]
    found += [f"Basic {v[:4]}…" for v in BASIC.findall(text) if f"Basic {v}" != PLACEHOLDER_AUTH]
    found += [f"address at {m.group(1)}" for m in EMAIL.finditer(text) if not allowed_email(m.group(1))]
    return found


def test_there_are_mailgun_cassettes_to_scan():
    assert len(FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CASSETTES)) for p in FILES])
def test_cassette_holds_no_credential_or_real_address(path):
    assert problems_in(path.read_bytes().decode("utf-8", errors="replace")) == []


def test_the_guard_finds_what_it_looks_for():
    key = RECORDING["api_key"]
    token = base64.b64encode(f"api:{key}".encode()).decode()
    assert problems_in(f"Authorization: Basic {token}")
    assert problems_in(f'{{"echo": "{token}"}}')  # the Basic value without the word Basic
    assert problems_in("x" + base64.b64encode(f"user api:{key} end".encode()).decode())  # other alignment
    assert problems_in(f"/v3/{RECORDING['domain']}/events")
    assert problems_in(f"?key={key}")
    assert problems_in("recipient: jane.doe@gmail.com")
    assert problems_in("Authorization: Basic REDACTED person1@example.com") == []
