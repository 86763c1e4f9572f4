"""Settings of the Twilio provider: environment variables ``MSGEVENTS_TWILIO_*``.

Which error codes make an undelivered/failed message a hard bounce is policy,
not provider data, so it is a setting.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

import msgevents

__all__ = ["DEFAULT_HARD_ERROR_CODES", "TwilioSettings"]

#: Unknown destination handset (30005), landline or unreachable carrier (30006),
#: invalid 'To' number (21211), unsubscribed recipient (21610), 'To' not a mobile number (21614).
DEFAULT_HARD_ERROR_CODES = "30005,30006,21211,21610,21614"


class TwilioSettings(msgevents.ProviderSettings):
    """``MSGEVENTS_TWILIO_HARD_ERROR_CODES``, ``…_AUTH_TOKEN`` (secret; to receive callbacks)
    and the identity file every provider has."""

    model_config = msgevents.settings_config("twilio")

    hard_error_codes: str = Field(
        DEFAULT_HARD_ERROR_CODES,
        description="Comma-separated Twilio error codes that make an undelivered or failed message "
        "a hard bounce; any other code (or none) is a soft bounce.",
    )

    auth_token: SecretStr | None = Field(
        None,
        description="The account's auth token: the key of the X-Twilio-Signature of status callbacks; "
        "needed only to receive them with msgevents serve.",
    )

    @field_validator("hard_error_codes")
    @classmethod
    def _codes(cls, value: str) -> str:
        codes = [code.strip() for code in value.split(",") if code.strip()]
        bad = [code for code in codes if not code.isdigit()]
        if bad:
            raise ValueError(f"error codes are numbers, got {', '.join(map(repr, bad))}")
        return ",".join(str(int(code)) for code in codes)

    @property
    def hard_codes(self) -> frozenset[str]:
        """The hard-bounce error codes as a set of digit strings."""
        return frozenset(code for code in self.hard_error_codes.split(",") if code)
