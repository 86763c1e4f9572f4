"""The one settings base of msgevents: core, sinks and providers read ``MSGEVENTS_…`` the same way.

Every settings model reads the environment and ``.env`` (unknown variables are
ignored, so one ``.env`` serves every provider and sink; an empty variable counts
as unset) under its own prefix, set with :func:`settings_config`, and names a
field's variable with :meth:`SettingsBase.env_name` (for error messages and
``msgevents about``).
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SettingsBase", "settings_config"]


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
