"""The one settings base of msgevents: core, sinks and providers read ``MSGEVENTS_…`` the same way.

Every settings model reads the environment and ``.env`` (unknown variables are
ignored, so one ``.env`` serves every provider and sink; an empty variable counts
as unset) under its own prefix, set with :func:`settings_config`, and names a
field's variable with :meth:`SettingsBase.env_name` (for error messages and
``msgevents about``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BaseUrl", "PositiveDuration", "SettingsBase", "settings_config"]


def _base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            "must start with https:// (or http:// for a local test server) and name a host, "
            "with no query: e.g. https://api.example.com or https://host/prefix"
        )
    return value


#: A ``…_BASE_URL`` setting: an http(s) URL naming a host, without query, trailing ``/`` dropped.
BaseUrl = Annotated[str, AfterValidator(_base_url)]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration (e.g. PT15M or 900 seconds)")
    return value


#: A duration setting that must be longer than zero (seconds or ISO 8601, e.g. ``PT15M``),
#: such as a webhook's ``…_WEBHOOK_MAX_AGE``.
PositiveDuration = Annotated[timedelta, AfterValidator(_positive)]


def settings_config(name: str = "", **extra: Any) -> SettingsConfigDict:
    """The settings config of ``name`` (a provider or sink): variables ``MSGEVENTS_<NAME>_…``
    (``MSGEVENTS_…`` for the core's own, ``name=""``), ``.env`` read, unknown variables ignored."""
    prefix = "MSGEVENTS_" + (name.upper().replace("-", "_") + "_" if name else "")
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", extra="ignore", env_ignore_empty=True, **extra
    )


class SettingsBase(BaseSettings):
    """Base of every msgevents settings model; subclasses set ``model_config = settings_config(name)``."""

    model_config = settings_config()

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        prefix = cls.model_config.get("env_prefix", "")
        return f"{prefix}{field}".upper()
