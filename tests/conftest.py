"""Shared fixtures: cassette location and scrubbing, isolated working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

# Property tests: on a developer's machine hypothesis explores new examples every run (and
# replays the failures it saved in .hypothesis/); under CI (CI=true) it runs a fixed,
# derandomised set, so a red CI run is a regression of the change, not a new draw. Failures it
# prints can be pasted as @example(...) regressions.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """Cassettes live at ``cassettes/<provider>/<test module>/<test name>.yaml``.

    ``<provider>`` is the folder under ``tests/plugins/`` (``core`` for core tests).
    """
    path = Path(request.node.fspath).resolve()
    parts = path.relative_to(ROOT / "tests").parts
    provider = parts[1] if parts[0] == "plugins" and len(parts) > 2 else "core"
    return str(CASSETTES / provider / path.stem)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test runs in an empty directory with no MSGEVENTS_* variables from the caller."""
    import os

    for name in list(os.environ):
        if name.startswith("MSGEVENTS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- the fake provider plugin (tests/fixtures/plugins) -------------------------------------------

FIXTURE_PLUGINS = ROOT / "tests" / "fixtures" / "plugins"


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Make the fixture plugins (``fake`` and the un-importable ``broken``) installed, in-process.

    They are real distributions (``*.dist-info`` with entry points) on ``sys.path``;
    stevedore's caches are pointed at an empty directory so it sees them.
    """
    import stevedore

    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    stevedore.ExtensionManager.ENTRY_POINT_CACHE.clear()
    yield FIXTURE_PLUGINS
    stevedore.ExtensionManager.ENTRY_POINT_CACHE.clear()


# -- a local S3 server (moto server mode, real HTTP on 127.0.0.1) --------------------------------


@pytest.fixture(scope="module")
def s3_server():
    """One local S3 server per test module; buckets and objects are whatever the tests put."""
    from s3server import S3Server

    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch: pytest.MonkeyPatch):
    """The module's S3 server, with boto3 in this process pointed at it (dummy credentials)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


# -- a real PostgreSQL server (tests/pg.py), once per session -----------------------------------


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server on 127.0.0.1 for the whole session (skipped only without its binaries)."""
    from pg import PostgresServer, find_binaries

    bin_dir = find_binaries()
    if bin_dir is None:
        reason = "no PostgreSQL server binaries (initdb) found: install PostgreSQL to run these tests"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI machines have them: never skip silently there
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL (with its password) of a new, empty database for this test."""
    url = pg_server.create_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's state lives, once per backend: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "state" / "state.db"
    return request.getfixturevalue("pg_url")
