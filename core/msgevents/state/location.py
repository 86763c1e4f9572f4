"""Where the state lives: a file path (SQLite, the default) or a ``postgresql://`` URL.

``--state`` / ``MSGEVENTS_STATE`` takes either. A URL is kept as text (a ``Path``
would fold its ``//``); anything else is a path. What is written on this machine
besides the state (quarantine files, the run locks of a SQLite state) goes beside a
state file, or into ``./.msgevents/`` when the state is a database server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BeforeValidator

__all__ = [
    "POSTGRES_SCHEMES",
    "StateLocation",
    "describe_location",
    "is_postgres",
    "local_directory",
    "state_location",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: object) -> bool:
    """Whether ``location`` is a PostgreSQL URL (``postgresql://…`` or ``postgres://…``)."""
    return isinstance(location, str) and location.lower().startswith(POSTGRES_SCHEMES)


def state_location(value: str | os.PathLike[str]) -> Path | str:
    """A ``--state`` value as the state store takes it: the URL text, or a :class:`Path`."""
    if is_postgres(value):
        return str(value)
    return Path(value)


#: The type of a setting or option holding a state location.
StateLocation = Annotated[Path | str, BeforeValidator(state_location)]


def local_directory(location: Path | str) -> Path:
    """Where files of this machine go (quarantine, locks): beside the state file, or ``./.msgevents``."""
    if is_postgres(location):
        return Path(".msgevents")
    return Path(location).parent


def describe_location(location: Path | str) -> str:
    """The location as shown to users: a URL without its password (in the authority or the query)."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
