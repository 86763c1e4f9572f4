"""The docs: every hook and Provider/Sink method is on the plugin author page; the repository stands alone."""

from __future__ import annotations

import inspect
import re
import subprocess

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


# -- the repository stands alone ------------------------------------------------------------------

#: Documents outside the repository that a reader of it does not have (built so this file is clean).
_OUTSIDE = re.compile(
    r"DESIGN(?:\.md| ?§)|\breference/(?:crossengage|episerver|providers|anchors|style)\.md"
    r"|/work/" + "shared|\\bshared/(?:reference|seed)/"
    r"|\boptimizely-campaign-rest-" + r"openapi\.json|\boutbound-" + r"events\.md"
)


def tracked_files() -> list[str]:
    """The files git tracks (or, outside a git checkout, every file but the virtualenv and caches)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        return [name for name in listing.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "out"}
        return [
            path.relative_to(ROOT).as_posix()
            for path in ROOT.rglob("*")
            if path.is_file() and not skip.intersection(path.relative_to(ROOT).parts)
        ]


def test_no_file_cites_documents_outside_the_repository():
    citations = []
    for name in tracked_files():
        try:
            text = (ROOT / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):  # binary, or deleted in the work tree
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if _OUTSIDE.search(line):
                citations.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not citations, "write what a reader needs into docs/ or cite a public URL:\n" + "\n".join(
        citations
    )


@pytest.mark.parametrize(
    "line",
    # split so that this file does not cite them itself
    [
        "as in DESIGN" + " §2",
        "see DESIGN" + ".md",
        "``reference/" + "episerver.md`` §7",
        "/work/" + "shared" + "/seed/x.md",
        "the spec in optimizely-campaign-rest-" + "openapi.json",
        "seed outbound-" + "events.md",
    ],
)
def test_the_citation_check_finds_citations(line):
    assert _OUTSIDE.search(line)


def test_the_citation_check_leaves_ordinary_text_alone():
    assert not _OUTSIDE.search("the design of §4.4.1 of SOAP 1.1; reference counting; docs/crossengage.md")
