"""A real PostgreSQL server for the tests, started from the binaries installed on the machine.

One server per test session (``initdb`` into a temporary directory, ``postgres`` listening on
127.0.0.1 only, on a free port, no Unix socket); each test gets a fresh database from it
(``CREATE DATABASE`` is a file copy of ``template1``, a few milliseconds).

PostgreSQL refuses to run as root. Run as root (CI), ``initdb`` and ``postgres`` run as the
``postgres`` system user (``subprocess`` switches user in the child: no ``su``/``runuser``
wrapper between the test and the server, so stopping it signals the server itself) and the
data directory is owned by it; a developer who is not root runs them as themself. The server
gets SIGINT (a fast shutdown) when the test process dies however it dies (``setpriv
--pdeathsig``, util-linux), so a killed test run leaves no server behind.

Password authentication (SCRAM) is on, with a random password per session, so the tests
exercise the password path of the URL (and that it never shows).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

__all__ = ["PostgresServer", "find_binaries"]

USER = "msgevents"


def find_binaries() -> Path | None:
    """The ``bin`` directory of the newest PostgreSQL installed (Debian layout or on PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """``start()``, then ``create_database()`` per test (returns its URL), ``stop()`` at the end."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        """``durable``: PostgreSQL's default fsync and commit settings (benchmarks), not the tests'
        throw-away ones."""
        self.bin_dir = bin_dir
        self.durable = durable
        self.password = secrets.token_urlsafe(18)
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="msgevents-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._numbers = count(1)
        self._process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as the postgres system user
            account = pwd.getpwnam("postgres")
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.root.chmod(0o700)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=self.root, **self._as)

    def start(self, timeout: float = 60.0) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        log = open(self.log, "wb")  # noqa: SIM115 - handed to the server process
        command = [
            str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", "max_connections=100", "-c", "shared_buffers=32MB",
        ]  # fmt: skip
        if not self.durable:  # a throw-away server: no crash safety needed, so no waiting for the disk
            command += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        setpriv = shutil.which("setpriv")
        if setpriv:  # a test run killed outright (a timeout's SIGKILL) takes its server with it
            command = [setpriv, "--pdeathsig", "INT", "--", *command]
        self._process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            **self._as,
        )
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text()[-3000:]}")
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self) -> str:
        """A new empty database; returns its URL (with the password)."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: ends every session
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)


def query(location: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    """Run ``sql`` (``?`` placeholders) on the state at ``location`` directly, not through the store;
    committed. Rows as tuples (``bytes`` for keys on both backends)."""
    from msgevents.state.location import is_postgres

    if is_postgres(location):
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    import sqlite3

    conn = sqlite3.connect(location)
    try:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()
