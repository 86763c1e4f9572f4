"""Settings of the Mailgun provider: environment variables ``MSGEVENTS_MAILGUN_*``.

The domain and API key are optional here and required only when pulling from
the Events API: ``--input`` runs need neither.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator

import msgevents
from msgevents.settings_base import BaseUrl, PositiveDuration

__all__ = ["EU_BASE_URL", "US_BASE_URL", "MailgunSettings"]

US_BASE_URL = "https://api.mailgun.net"
EU_BASE_URL = "https://api.eu.mailgun.net"


class MailgunSettings(msgevents.ProviderSettings):
    """``MSGEVENTS_MAILGUN_DOMAIN``, ``…_API_KEY`` (secret), ``…_BASE_URL``, ``…_USER_ID_VARIABLE``,
    ``…_WEBHOOK_SIGNING_KEY`` (secret), ``…_WEBHOOK_MAX_AGE``."""

    model_config = msgevents.settings_config("mailgun")

    domain: str | None = Field(
        None, description="Sending domain whose events are pulled (e.g. mg.example.com); the account."
    )
    api_key: SecretStr | None = Field(
        None, description="Mailgun private API key (HTTP Basic user 'api'); needed only to pull."
    )
    base_url: BaseUrl = Field(
        US_BASE_URL,
        description=f"API host: {US_BASE_URL} (US region) or {EU_BASE_URL} for domains in the EU region.",
    )
    user_id_variable: str = Field(
        "user_id",
        description="The user variable (v:<name> / X-Mailgun-Variables) holding the CrossEngage user id.",
    )
    page_limit: int = Field(300, ge=1, le=300, description="Events per Events API page (Mailgun allows 300).")
    lookback: timedelta = Field(
        timedelta(days=3),
        description="Where the first live run starts: now minus this. Mailgun keeps events "
        "1 to 30 days depending on the plan.",
    )

    webhook_signing_key: SecretStr | None = Field(
        None,
        description="Mailgun's HTTP webhook signing key (Sending > Webhooks); needed only to receive "
        "webhooks with msgevents serve.",
    )
    webhook_max_age: PositiveDuration | None = Field(
        None,
        description="Refuse webhooks whose signature timestamp is further than this from the time "
        "received (seconds or ISO 8601, e.g. PT15M); unset = no freshness check (a replay is "
        "delivered once anyway).",
    )

    @field_validator("domain", "user_id_variable")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or "/" in value or any(c.isspace() for c in value):
            raise ValueError("must be one word without '/' or spaces")
        return value
