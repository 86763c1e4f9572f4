"""``msgevents new-provider``: the generated plugin is lint clean, passes the contract suite and runs.

The skeleton is generated into temporary folders only. Its package is imported
from there (``sys.path``) for the in-process checks; the end-to-end run gives
it a ``*.dist-info`` on ``PYTHONPATH`` (as ``tests/fixtures/plugins`` does) so
that ``python -m msgevents collect --provider NAME`` finds it like an
installed plugin.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from support import ROOT, subprocess_env

from msgevents import AuthError, ConfigError, Window, load_settings
from msgevents.cli import cli
from msgevents.http import RetriesExhaustedError
from msgevents.scaffold import MAX_NAME_LENGTH, provider_names, write_provider
from msgevents.testing.contract import ProviderContract

LONG_NAME = "a" * 10 + "-" + "b" * 10 + "-" + "c" * (MAX_NAME_LENGTH - 22)
WORKSPACE_FILES = [
    "plugins/acme/pyproject.toml",
    "plugins/acme/README.md",
    "plugins/acme/msgevents_acme/__init__.py",
    "plugins/acme/msgevents_acme/settings.py",
    "plugins/acme/msgevents_acme/provider.py",
    "plugins/acme/msgevents_acme/mapping.py",
    "examples/acme/sample.jsonl",
    "tests/plugins/acme/test_acme.py",
]
SAMPLE_EVENTS = {
    "Message Sent": 1,
    "Message Delivered": 1,
    "Message Viewed": 1,
    "Message Clicked": 1,
    "Message hard_bounced": 1,
    "Message Unsubscribed": 1,
}


def relative(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the plugins ``acme`` and the longest allowed name, and a standalone one."""
    root = tmp_path_factory.mktemp("workspace")
    write_provider("acme", root)
    write_provider(LONG_NAME, root)
    write_provider("acme-mail", root / "standalone", standalone=True)
    return root


@pytest.fixture(scope="module")
def acme(workspace: Path) -> Iterator[ModuleType]:
    """The generated package ``msgevents_acme``, imported from the workspace."""
    path = str(workspace / "plugins" / "acme")
    sys.path.insert(0, path)
    try:
        yield importlib.import_module("msgevents_acme")
    finally:
        sys.path.remove(path)
        for module in [m for m in sys.modules if m == "msgevents_acme" or m.startswith("msgevents_acme.")]:
            del sys.modules[module]


# -- names and files ------------------------------------------------------------------------------


def test_every_name_derives_from_the_provider_name():
    names = provider_names("acme-mail")
    assert (names.package, names.dist, names.cls, names.title, names.env_prefix) == (
        "msgevents_acme_mail",
        "msgevents-acme-mail",
        "AcmeMail",
        "Acme Mail",
        "MSGEVENTS_ACME_MAIL_",
    )


@pytest.mark.parametrize(
    "name",
    ["Acme", "1acme", "acme_mail", "acme--mail", "acme-", "-acme", "acme mail", "ac.me", "", "é", "a" * 33],
)
def test_invalid_names_are_refused(name, tmp_path):
    with pytest.raises(ConfigError, match="invalid provider name"):
        write_provider(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_workspace_layout(tmp_path):
    written = write_provider("acme", tmp_path)
    assert relative(written, tmp_path) == WORKSPACE_FILES
    project = tomllib.loads((tmp_path / "plugins/acme/pyproject.toml").read_text())
    assert project["project"]["name"] == "msgevents-acme"
    assert project["project"]["dependencies"] == ["msgevents"]
    assert project["project"]["entry-points"]["msgevents.providers"] == {"acme": "msgevents_acme"}
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["msgevents_acme"]
    assert project["build-system"]["build-backend"] == "hatchling.build"
    readme = (tmp_path / "plugins/acme/README.md").read_text()
    for text in ("MSGEVENTS_ACME_API_KEY", "MSGEVENTS_ACME_BASE_URL", "| `clicked` | Message Clicked"):
        assert text in readme
    assert "msgevents collect --provider acme --input examples/acme/sample.jsonl --to jsonl:-" in readme


def test_dashes_become_underscores_in_the_package(tmp_path):
    written = write_provider("acme-mail", tmp_path)
    assert "plugins/acme-mail/msgevents_acme_mail/provider.py" in relative(written, tmp_path)
    assert "tests/plugins/acme-mail/test_acme_mail.py" in relative(written, tmp_path)
    project = tomllib.loads((tmp_path / "plugins/acme-mail/pyproject.toml").read_text())
    assert project["project"]["entry-points"]["msgevents.providers"] == {"acme-mail": "msgevents_acme_mail"}
    settings = (tmp_path / "plugins/acme-mail/msgevents_acme_mail/settings.py").read_text()
    assert 'msgevents.settings_config("acme-mail")' in settings


def test_the_standalone_layout(tmp_path):
    written = write_provider("acme", tmp_path, standalone=True)
    assert relative(written, tmp_path / "acme") == [
        "pyproject.toml",
        "README.md",
        "msgevents_acme/__init__.py",
        "msgevents_acme/settings.py",
        "msgevents_acme/provider.py",
        "msgevents_acme/mapping.py",
        "examples/sample.jsonl",
        "tests/test_acme.py",
    ]


def test_existing_folders_are_refused_unless_forced(tmp_path):
    write_provider("acme", tmp_path)
    mapping = tmp_path / "plugins/acme/msgevents_acme/mapping.py"
    mapping.write_text("# the author's work\n")
    extra = tmp_path / "plugins/acme/msgevents_acme/api.py"
    extra.write_text("# also the author's\n")
    with pytest.raises(
        ConfigError, match=r"plugins/acme, .*examples/acme, .*tests/plugins/acme already exist;"
    ):
        write_provider("acme", tmp_path)
    assert mapping.read_text() == "# the author's work\n"
    write_provider("acme", tmp_path, force=True)
    assert "def map_record" in mapping.read_text()
    assert extra.read_text() == "# also the author's\n"


# -- the command ----------------------------------------------------------------------------------


def test_the_command_writes_the_workspace_layout_and_says_what_next(tmp_path):
    result = CliRunner().invoke(cli, ["new-provider", "acme"])
    assert result.exit_code == 0, result.output
    for path in WORKSPACE_FILES:
        assert (tmp_path / path).is_file()
        assert f"  {path}\n" in result.output
    assert "pip install -e core -e plugins/acme" in result.output
    assert "grep -rn ADAPT plugins/acme" in result.output


def test_the_command_refuses_existing_folders_unless_forced(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["new-provider", "acme"]).exit_code == 0
    again = runner.invoke(cli, ["new-provider", "acme"])
    assert again.exit_code == 2
    assert "already exist; use --force" in again.output
    assert runner.invoke(cli, ["new-provider", "acme", "--force"]).exit_code == 0


def test_the_command_refuses_an_invalid_name_as_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["new-provider", "Acme_Mail"])
    assert result.exit_code == 2
    assert "Invalid value for 'NAME'" in result.output
    assert "lower-case letters, digits and single dashes" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_command_with_a_directory_writes_a_standalone_project(tmp_path):
    result = CliRunner().invoke(cli, ["new-provider", "acme", "--directory", "elsewhere"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere/acme/msgevents_acme/provider.py").is_file()
    assert (tmp_path / "elsewhere/acme/examples/sample.jsonl").is_file()
    assert not (tmp_path / "plugins").exists()
    assert "cd elsewhere/acme" in result.output


# -- the generated code ---------------------------------------------------------------------------


def test_the_generated_code_is_ruff_clean_and_formatted(workspace):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (make dev)")
    config = ["--no-cache", "--config", str(ROOT / "pyproject.toml")]
    for command in (["check", *config, "."], ["format", "--check", *config, "."]):
        result = subprocess.run(
            [ruff, *command], cwd=workspace, capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_provider_passes_the_contract_suite(acme, workspace, monkeypatch, tmp_path):
    contract = ProviderContract(acme.AcmeProvider, inputs=[workspace / "examples/acme/sample.jsonl"])
    contract.check_declarations()
    assert contract.check_mapping() == SAMPLE_EVENTS
    contract.check_missing_settings(monkeypatch)
    contract.check_two_collects(tmp_path)


def test_the_generated_reader_quarantines_broken_lines(acme, workspace):
    provider = acme.AcmeProvider(load_settings(acme.AcmeSettings))
    records = [r for batch in provider.read_input(workspace / "examples/acme/sample.jsonl") for r in batch]
    assert len(records) == 9
    assert [(r.source, r.error.split(":")[0]) for r in records if r.error] == [("sample.jsonl:9", "not JSON")]
    with pytest.raises(ConfigError, match="does not exist"):
        provider.read_input(workspace / "missing.jsonl")


class EventsApi(BaseHTTPRequestHandler):
    """``GET /v1/events``: two pages joined by a cursor; 401 for any other key."""

    requests: ClassVar[list[tuple[str, dict[str, list[str]], str | None]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.requests.append((url.path, query, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer good-key":
            self.send_response(401)
            self.end_headers()
            return
        if "cursor" not in query:
            body = {"items": [{"id": "e1", "event": "sent"}, {"id": "e2", "event": "opened"}], "next": "p2"}
        else:
            body = {"items": [{"id": "e3", "event": "clicked"}], "next": None}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def events_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EventsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MSGEVENTS_ACME_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    EventsApi.requests = []
    try:
        yield EventsApi.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_generated_pull_pages_through_the_placeholder_api(acme, events_api, monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_API_KEY", "good-key")
    provider = acme.AcmeProvider(load_settings(acme.AcmeSettings))
    window = Window(datetime(2024, 11, 4, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC))
    try:
        pages = list(provider.pull("events", window))
        assert provider.check() == "GET /v1/events accepted the API key"
    finally:
        provider.close()
    assert [[r.data["id"] for r in page] for page in pages] == [["e1", "e2"], ["e3"]]
    assert [r.source for r in pages[1]] == ["GET /v1/events page 2"]
    path, query, auth = events_api[0]
    assert (path, auth) == ("/v1/events", "Bearer good-key")
    assert query == {"begin": ["2024-11-04T00:00:00Z"], "end": ["2024-11-05T00:00:00Z"], "limit": ["300"]}
    assert events_api[1][1]["cursor"] == ["p2"]


def test_the_generated_pull_reports_a_refused_key(acme, events_api, monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_API_KEY", "bad-key")
    provider = acme.AcmeProvider(load_settings(acme.AcmeSettings))
    window = Window(datetime(2024, 11, 4, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC))
    with pytest.raises(AuthError, match=r"HTTP 401\): check MSGEVENTS_ACME_API_KEY") as refused:
        list(provider.pull("events", window))
    provider.close()
    assert "bad-key" not in str(refused.value)


def test_the_generated_tests_pass(workspace):
    env = subprocess_env(workspace)
    env["PYTHONPATH"] = str(workspace / "plugins" / "acme")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/plugins/acme"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def install_in_place(project: Path, dist: str, name: str, package: str) -> None:
    """Make ``project`` an installed distribution while it is on PYTHONPATH: a dist-info beside it."""
    info = project / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[msgevents.providers]\n{name} = {package}\n")
    (info / "RECORD").write_text("")


def test_the_generated_plugin_collects_its_sample_end_to_end(tmp_path):
    write_provider("acme-mail", tmp_path)
    project = tmp_path / "plugins" / "acme-mail"
    install_in_place(project, "msgevents-acme-mail", "acme-mail", "msgevents_acme_mail")
    env = subprocess_env(tmp_path, PYTHONPATH=str(project))
    command = ["collect", "--provider", "acme-mail", "--input", "examples/acme-mail/sample.jsonl"]
    result = subprocess.run(
        [sys.executable, "-m", "msgevents", *command, "--to", "jsonl:-"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert Counter(e["event"] for e in events) == SAMPLE_EVENTS
    assert {e["provider"] for e in events} == {"acme-mail"}
    assert "queued 1" in result.stderr  # not modelled
    quarantine = sorted((tmp_path / ".msgevents" / "quarantine").glob("*.jsonl"))
    assert len([line for path in quarantine for line in path.read_text().splitlines()]) == 2


# -- the generated provider's HTTP goes through Provider.http_client ------------------------------


class ScriptedApi(BaseHTTPRequestHandler):
    """``GET /v1/events`` answering ``script`` in order (then one empty page), after ``delay`` seconds."""

    script: ClassVar[list[int]] = []
    delay: ClassVar[float] = 0.0
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        time.sleep(self.delay)
        status = self.script.pop(0) if self.script else 200
        data = json.dumps({"items": [], "next": None}).encode() if status == 200 else b"busy"
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client timed out and went away
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted_api() -> Iterator[tuple[str, type[ScriptedApi]]]:
    ScriptedApi.script, ScriptedApi.delay, ScriptedApi.seen = [], 0.0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedApi)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ScriptedApi
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _pull_all(acme: ModuleType) -> tuple[object, BaseException | None]:
    provider = acme.AcmeProvider(load_settings(acme.AcmeSettings))
    window = Window(datetime(2024, 11, 4, tzinfo=UTC), datetime(2024, 11, 5, tzinfo=UTC))
    try:
        list(provider.pull("events", window))
    except RetriesExhaustedError as exc:
        return provider, exc
    finally:
        provider.close()
    return provider, None


def test_the_generated_provider_honours_the_http_retries_setting(acme, scripted_api, monkeypatch):
    url, api = scripted_api
    api.script = [503] * 10
    monkeypatch.setenv("MSGEVENTS_ACME_BASE_URL", url)
    monkeypatch.setenv("MSGEVENTS_ACME_API_KEY", "good-key")
    monkeypatch.setenv("MSGEVENTS_ACME_HTTP_RETRIES", "2")
    provider, error = _pull_all(acme)
    assert isinstance(error, RetriesExhaustedError)
    assert "failed 2 times" in str(error)
    assert len(api.seen) == 2  # not the default 6
    assert (provider.stats.requests, provider.stats.retries) == (2, 1)  # counted for the report


def test_the_generated_provider_honours_the_http_timeout_setting(acme, scripted_api, monkeypatch):
    url, api = scripted_api
    api.delay = 6.0
    monkeypatch.setenv("MSGEVENTS_ACME_BASE_URL", url)
    monkeypatch.setenv("MSGEVENTS_ACME_API_KEY", "good-key")
    monkeypatch.setenv("MSGEVENTS_ACME_HTTP_RETRIES", "1")
    monkeypatch.setenv("MSGEVENTS_ACME_HTTP_TIMEOUT", "0.2")
    started = time.monotonic()
    _provider, error = _pull_all(acme)
    assert isinstance(error, RetriesExhaustedError)
    assert "read timeout" in str(error)
    assert time.monotonic() - started < 5.0  # gave up after 0.2 s, not the default 60 s


def test_the_generated_provider_s_requests_are_in_the_run_report(tmp_path, scripted_api):
    url, api = scripted_api
    api.script = [503]  # one retry, then an empty page
    write_provider("acme-mail", tmp_path)
    project = tmp_path / "plugins" / "acme-mail"
    install_in_place(project, "msgevents-acme-mail", "acme-mail", "msgevents_acme_mail")
    env = subprocess_env(
        tmp_path,
        PYTHONPATH=str(project),
        MSGEVENTS_ACME_MAIL_BASE_URL=url,
        MSGEVENTS_ACME_MAIL_API_KEY="good-key",
        MSGEVENTS_ACME_MAIL_HTTP_RETRIES="3",
    )
    result = subprocess.run(
        [sys.executable, "-m", "msgevents", "collect", "--provider", "acme-mail", "--to", "jsonl:-",
         "--report", "report.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(api.seen) == 2
    assert report["provider_http"]["requests"] == 2
    assert report["provider_http"]["retries"] == 1
