"""Settings of the OneSignal provider: environment variables ``MSGEVENTS_ONESIGNAL_*``.

OneSignal signs nothing: an Event Stream authenticates itself with a header whose
value you set on the stream in the OneSignal dashboard. ``webhook_token`` is that
secret and ``webhook_header`` the header's name; both matter only to
``msgevents serve`` (``--input`` runs need no setting at all). Which failure
reasons make a failed message a hard bounce is policy, not provider data, so it
is a setting too.
"""

from __future__ import annotations

import re

from pydantic import Field, SecretStr, field_validator

import msgevents
from msgevents.settings_base import PositiveDuration

__all__ = ["DEFAULT_HARD_FAILURE_REASONS", "DEFAULT_WEBHOOK_HEADER", "OneSignalSettings"]

DEFAULT_WEBHOOK_HEADER = "Authorization"
#: Failure reasons that say the push token (the recipient's address) is gone or invalid, as the push
#: services word them: APNs BadDeviceToken / Unregistered, FCM UNREGISTERED / NotRegistered /
#: InvalidRegistration, web push 404 Not Found / 410 Gone (the subscription endpoint no longer exists).
DEFAULT_HARD_FAILURE_REASONS = (
    "BadDeviceToken,Unregistered,NotRegistered,InvalidRegistration,404 Not Found,410 Gone"
)
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# headers OneSignal does not let a stream set (https://documentation.onesignal.com/docs/en/event-streams)
_DISALLOWED = ("content-length", "referer", "metadata-flavor", "x-google-metadata-request", "host")


class OneSignalSettings(msgevents.ProviderSettings):
    """``MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN`` (secret), ``…_WEBHOOK_HEADER``, ``…_WEBHOOK_MAX_AGE``,
    ``…_HARD_FAILURE_REASONS`` (and the identity file every provider has)."""

    model_config = msgevents.settings_config("onesignal")

    webhook_token: SecretStr | None = Field(
        None,
        description="The shared secret the Event Stream sends in its authentication header "
        "(msgevents serve refuses every OneSignal request without it); needed only to receive webhooks.",
    )
    webhook_header: str = Field(
        DEFAULT_WEBHOOK_HEADER,
        description="The header carrying the secret, as configured on the Event Stream: "
        "'Authorization' expects 'Bearer <token>', any other header (e.g. X-Msgevents-Token) the bare token.",
    )
    webhook_max_age: PositiveDuration | None = Field(
        None,
        description="Refuse a webhook whose event is older than this (by its event time); unset = no "
        "freshness check (a replayed event is delivered once anyway).",
    )
    hard_failure_reasons: str = Field(
        DEFAULT_HARD_FAILURE_REASONS,
        description="Comma-separated texts; a failed message whose failure reason contains one of them "
        "(case-insensitive) is a hard bounce, any other failure a soft bounce.",
    )

    @field_validator("webhook_header")
    @classmethod
    def _header(cls, value: str) -> str:
        value = value.strip()
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits, '-'), e.g. Authorization")
        lower = value.lower()
        if lower in _DISALLOWED or lower.startswith("x-onesignal"):
            raise ValueError(f"OneSignal does not let an Event Stream set the header {value!r}")
        return value

    @field_validator("hard_failure_reasons")
    @classmethod
    def _reasons(cls, value: str) -> str:
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    @property
    def hard_reasons(self) -> tuple[str, ...]:
        """The hard-failure texts, case-folded, for substring matching."""
        return tuple(part.casefold() for part in self.hard_failure_reasons.split(",") if part)
