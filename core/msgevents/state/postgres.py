"""Connecting to a PostgreSQL state (``--state postgresql://…``), with psycopg 3.

psycopg is the PostgreSQL project's recommended Python driver (libpq underneath, so
every libpq connection setting and ``PG*`` variable works: ``PGHOST``, ``PGPASSWORD``,
``PGSSLMODE``, ``~/.pgpass`` …). It is an optional dependency (``msgevents[postgres]``):
imported only when the state is a URL.

The password — from the URL or ``PGPASSWORD`` — is registered with
:mod:`msgevents.redact` before connecting, and messages show the URL without it.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from msgevents import redact
from msgevents.errors import ConfigError
from msgevents.paths import STATE_SETTING
from msgevents.state.db import POSTGRES, SCHEMA_VERSION, Database
from msgevents.state.location import describe_location

__all__ = ["application_name", "connect", "connect_readonly", "register_password"]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            f"a postgresql:// state (set by {STATE_SETTING}) needs psycopg: pip install 'msgevents[postgres]'"
        ) from None
    return psycopg


def register_password(url: str) -> None:
    """Register the password of ``url`` (and ``PGPASSWORD``) as secrets, so no output shows them."""
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"invalid PostgreSQL URL {describe_location(url)!r} (set by {STATE_SETTING}): {exc}"
        ) from None
    for password in (params.get("password"), os.environ.get("PGPASSWORD")):
        if password:
            redact.add_secret(str(password))


def application_name(role: str) -> str:
    """What ``pg_stat_activity`` shows for this process's sessions (at most 63 bytes)."""
    return f"msgevents {role} pid {os.getpid()} on {socket.gethostname()}"[:63]


def open_connection(url: str, role: str, **settings: Any) -> Any:
    """An autocommit connection to ``url``; a failure is a :class:`ConfigError` without the password."""
    psycopg = _psycopg()
    register_password(url)
    settings.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(url, autocommit=True, application_name=application_name(role), **settings)
    except psycopg.Error as exc:
        reason = redact.redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise ConfigError(
            f"cannot connect to the PostgreSQL state {describe_location(url)!r} "
            f"(set by {STATE_SETTING}): {reason}"
        ) from None


def connect(url: str) -> Database:
    """A read-write state database; :func:`~msgevents.state.db.migrate` then brings its schema up."""
    return Database(open_connection(url, "state"), url, readonly=False, dialect=POSTGRES,
                    identity=describe_location(url))  # fmt: skip


def connect_readonly(url: str) -> Database:
    """Reading only (``--dry-run``): read-only transactions; a database without the schema reads as empty."""
    conn = open_connection(url, "state", options="-c default_transaction_read_only=on")
    version = POSTGRES.schema_version(conn)
    if version == 0 and conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
        conn.close()
        return Database(None, url, readonly=True, dialect=POSTGRES, identity=describe_location(url))
    if version != SCHEMA_VERSION:
        conn.close()
        raise ConfigError(
            f"state {describe_location(url)!r} has schema {version}, this msgevents uses "
            f"{SCHEMA_VERSION}; run once without --dry-run to migrate it"
        )
    return Database(conn, url, readonly=True, dialect=POSTGRES, identity=describe_location(url))
