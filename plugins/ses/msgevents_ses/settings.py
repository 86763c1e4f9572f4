"""Settings of the SES provider: environment variables ``MSGEVENTS_SES_*``.

SES has no API to pull events from, so there are no credentials: every run
reads files (``--input``). The settings say which message tags carry the
customer id and the campaign id.
"""

from __future__ import annotations

from pydantic import Field, field_validator

import msgevents
from msgevents.settings_base import PositiveDuration
from msgevents_ses.sns import DEFAULT_CERTIFICATE_HOSTS, HostAllowlist

__all__ = ["SesSettings"]


class SesSettings(msgevents.ProviderSettings):
    """``MSGEVENTS_SES_USER_ID_TAG``, ``…_CAMPAIGN_ID_TAG``; for SNS messages received by
    ``msgevents serve``: ``…_SNS_CERTIFICATE_HOSTS``, ``…_SNS_TOPIC_ARNS``, ``…_WEBHOOK_MAX_AGE``."""

    model_config = msgevents.settings_config("ses")

    user_id_tag: str = Field(
        "user_id",
        description="Message tag (mail.tags) holding the CrossEngage user id; "
        "without it the event is keyed by the recipient's e-mail address.",
    )
    campaign_id_tag: str = Field(
        "campaign_id", description="Message tag (mail.tags) holding the campaign id."
    )

    sns_certificate_hosts: str = Field(
        DEFAULT_CERTIFICATE_HOSTS,
        description="Hosts SNS signing certificates and subscription confirmations are fetched from, "
        "over https: comma-separated patterns, '*' for one DNS label. 'http://' is accepted only for "
        "a loopback host (a local test server).",
    )
    sns_topic_arns: str = Field(
        "",
        description="Comma-separated SNS topic ARNs whose messages are accepted; empty = any topic "
        "(the signature still has to be SNS's).",
    )
    webhook_max_age: PositiveDuration | None = Field(
        None,
        description="Refuse SNS messages whose Timestamp is further than this from the time received "
        "(seconds or ISO 8601, e.g. PT1H); unset = no freshness check.",
    )

    @field_validator("sns_certificate_hosts")
    @classmethod
    def _hosts(cls, value: str) -> str:
        HostAllowlist(value)  # raises ValueError saying what is wrong
        return value

    @property
    def topic_arns(self) -> frozenset[str]:
        """The accepted topic ARNs (empty: any)."""
        return frozenset(arn.strip() for arn in self.sns_topic_arns.split(",") if arn.strip())

    @field_validator("user_id_tag", "campaign_id_tag")
    @classmethod
    def _tag_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a tag name must not be blank")
        return value
