"""Settings of the SES provider: environment variables ``MSGEVENTS_SES_*``.

SES has no API to pull events from, so there are no credentials: every run
reads files (``--input``). The settings say which message tags carry the
customer id and the campaign id.
"""

from __future__ import annotations

from pydantic import Field, field_validator

import msgevents

__all__ = ["SesSettings"]


class SesSettings(msgevents.ProviderSettings):
    """``MSGEVENTS_SES_USER_ID_TAG`` and ``MSGEVENTS_SES_CAMPAIGN_ID_TAG``."""

    model_config = msgevents.settings_config("ses")

    user_id_tag: str = Field(
        "user_id",
        description="Message tag (mail.tags) holding the CrossEngage user id; "
        "without it the event is keyed by the recipient's e-mail address.",
    )
    campaign_id_tag: str = Field(
        "campaign_id", description="Message tag (mail.tags) holding the campaign id."
    )

    @field_validator("user_id_tag", "campaign_id_tag")
    @classmethod
    def _tag_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a tag name must not be blank")
        return value
