"""Settings of the ``crossengage`` sink, from the environment or ``.env`` (other variables are ignored).

- ``MSGEVENTS_CROSSENGAGE_API_KEY`` (required): the Master API key, sent as
  ``X-XNG-AuthToken``; never logged, shown or stored (the ledger names the
  tenant by base URL and a hash of the key).
- ``MSGEVENTS_CROSSENGAGE_BASE_URL`` (``https://api.crossengage.io``).
- ``MSGEVENTS_CROSSENGAGE_CONCURRENCY`` (8, 1..64): requests in flight.
- ``MSGEVENTS_CROSSENGAGE_RATE_LIMIT`` (unset): at most this many requests per
  second, retries included (a token bucket shared by every worker).
- ``MSGEVENTS_CROSSENGAGE_MAX_EVENTS_PER_REQUEST`` (50, 1..50).
- ``MSGEVENTS_CROSSENGAGE_TIMEOUT`` (30): read timeout per request, seconds.
- ``MSGEVENTS_CROSSENGAGE_RETRIES`` (6): attempts per request, the first included.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field, SecretStr

from msgevents.errors import ConfigError
from msgevents.formats import MAX_EVENTS_PER_REQUEST
from msgevents.provider import load_settings
from msgevents.settings_base import BaseUrl, SettingsBase, settings_config

__all__ = ["API_KEY_ENV", "ENV_PREFIX", "CrossEngageSettings"]

ENV_PREFIX = "MSGEVENTS_CROSSENGAGE_"
API_KEY_ENV = ENV_PREFIX + "API_KEY"


class CrossEngageSettings(SettingsBase):
    """Settings of the ``crossengage`` sink (env ``MSGEVENTS_CROSSENGAGE_…``, ``.env`` read)."""

    model_config = settings_config("crossengage")

    api_key: SecretStr | None = Field(None, description="Master API key (X-XNG-AuthToken)")
    base_url: BaseUrl = Field("https://api.crossengage.io", description="events API base URL")
    concurrency: int = Field(8, ge=1, le=64, description="requests in flight")
    rate_limit: float | None = Field(None, gt=0, description="max requests per second")
    max_events_per_request: int = Field(MAX_EVENTS_PER_REQUEST, ge=1, le=MAX_EVENTS_PER_REQUEST)
    timeout: float = Field(30.0, gt=0, description="read timeout per request, seconds")
    retries: int = Field(6, ge=1, le=20, description="attempts per request, the first included")

    @classmethod
    def load(cls, **overrides: Any) -> CrossEngageSettings:
        """Read the settings; :class:`~msgevents.ConfigError` names any missing or invalid variable."""
        settings = cast(CrossEngageSettings, load_settings(cls, **overrides))
        settings.require_key()
        return settings

    def require_key(self) -> str:
        key = self.api_key.get_secret_value().strip() if self.api_key else ""
        if not key:
            raise ConfigError(
                f"missing setting: {API_KEY_ENV} (the CrossEngage Master API key, "
                "found in CrossEngage under Settings → System setup → API keys)"
            )
        if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
            # an HTTP header cannot carry it; say so instead of failing every request
            raise ConfigError(
                f"invalid setting: {API_KEY_ENV} holds a space, a line break or a character outside "
                "ASCII (copy the key again, without quotes or a trailing newline)"
            )
        return key
