"""Helpers shared by tests (importable as ``support``: the tests folder is on pythonpath)."""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_PLUGINS = ROOT / "tests" / "fixtures" / "plugins"


def write_records(path: Path, records: list[dict]) -> Path:
    """Write fake-provider records as JSON Lines."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for running ``msgevents`` as a subprocess with the fixture plugins installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env["PYTHONPATH"] = str(FIXTURE_PLUGINS)
    env["XDG_CACHE_HOME"] = str(tmp_path / ".cache")
    env.update(extra)
    return env
