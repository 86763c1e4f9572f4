"""Every hook and every Provider/Sink method is documented on the plugin author page."""

from __future__ import annotations

import inspect
import re

import pytest
from support import ROOT

from msgevents import hookspecs
from msgevents.plugins import new_plugin_manager
from msgevents.provider import Provider
from msgevents.sink import Sink

DOC = (ROOT / "docs" / "plugin-authors.md").read_text()
HEADINGS = set(re.findall(r"^### (.+)$", DOC, flags=re.MULTILINE))


def hook_signatures() -> list[str]:
    pm = new_plugin_manager()
    return [
        f"{name}({', '.join(caller.spec.argnames)})"
        for name, caller in vars(pm.hook).items()
        if not name.startswith("_") and caller.spec is not None
    ]


def member_signatures(cls: type) -> list[str]:
    signatures = []
    for name, member in vars(cls).items():
        if name.startswith("_") or isinstance(member, type):
            continue
        if isinstance(member, property):
            signatures.append(name)
            continue
        function = member.__func__ if isinstance(member, classmethod) else member
        if not callable(function):
            continue
        params = [p for p in inspect.signature(function).parameters if p not in ("self", "cls")]
        signatures.append(f"{name}({', '.join(params)})")
    return signatures


def test_there_are_hooks_to_document():
    assert {"register_providers(register)", "register_sinks(register)"} <= set(hook_signatures())


@pytest.mark.parametrize("signature", hook_signatures())
def test_hook_is_documented(signature):
    assert signature in HEADINGS, f"docs/plugin-authors.md needs a heading '### {signature}'"


@pytest.mark.parametrize("signature", member_signatures(Provider) + member_signatures(Sink))
def test_provider_and_sink_members_are_documented(signature):
    assert signature in HEADINGS, f"docs/plugin-authors.md needs a heading '### {signature}'"


HOOKSPECS = [name for name in dir(hookspecs) if name.startswith("register_")]


@pytest.mark.parametrize("name", HOOKSPECS)
def test_hookspec_has_a_docstring(name):
    assert (getattr(hookspecs, name).__doc__ or "").strip()
