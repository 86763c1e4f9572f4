"""Settings of the Episerver provider: environment variables ``MSGEVENTS_EPISERVER_*``.

Credentials are optional here and required only when pulling (``--input`` runs
need none). The closed-loop row layout is not published by Optimizely, so every
column list is a setting (see the plugin README, "ASSUMPTIONS: the closed-loop row layout").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

import msgevents
from msgevents.settings_base import BaseUrl

__all__ = [
    "COLUMN_NAMES",
    "DEFAULT_COLUMNS",
    "EXPORT_STREAMS",
    "MEDIA_TYPES",
    "REQUIRED_COLUMNS",
    "STREAMS",
    "EpiserverSettings",
    "parse_columns",
]

#: Every stream, in the order a live run pulls them.
STREAMS = ("recipients", "opens", "clicks", "responses", "unsubscribes")
#: Streams read from the SOAP ClosedLoopWebservice (``unsubscribes`` comes from REST).
EXPORT_STREAMS = STREAMS[:4]

_BASE = ("mailing_id", "recipient_list_id", "recipient_id", "timestamp")
#: The default row layouts (the plugin README's assumptions; Optimizely publishes none).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "recipients": _BASE,
    "opens": _BASE,
    "clicks": (*_BASE, "link_id", "link_url"),
    "responses": (*_BASE, "category"),
    "unsubscribes": _BASE,
}
#: Column names the mapping understands; ``x_<anything>`` names a column it ignores.
COLUMN_NAMES = frozenset({*_BASE, "link_id", "link_url", "category"})
#: Columns a stream cannot be mapped without.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "recipients": ("mailing_id", "recipient_id", "timestamp"),
    "opens": ("mailing_id", "recipient_id", "timestamp"),
    "clicks": ("mailing_id", "recipient_id", "timestamp"),
    "responses": ("mailing_id", "recipient_id", "timestamp", "category"),
    "unsubscribes": ("recipient_id", "timestamp"),
}
#: The unsubscribe lists of ``GET /unsubscribes``: GLOBAL (no ``mediaType``, the API's default)
#: and the ``mediaType`` values of Optimizely's OpenAPI.
MEDIA_TYPES = ("GLOBAL", "EMAIL", "SMS", "PUSH", "FAX", "LETTER", "PRINT")
#: Optimizely keeps closed-loop data 30 days after dispatch.
RETENTION = timedelta(days=30)
EPOCH_FORMATS = ("epoch_millis", "epoch_seconds", "iso8601")


def parse_columns(stream: str, value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate a column list of ``stream``; raise ``ValueError`` saying what is wrong."""
    names = value.split(",") if isinstance(value, str) else list(value)
    columns = tuple(name.strip().lower() for name in names)
    if any(not name for name in columns):
        raise ValueError(f"empty column name in {','.join(columns)!r}")
    unknown = [n for n in columns if n not in COLUMN_NAMES and not n.startswith("x_")]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)}; known: {', '.join(sorted(COLUMN_NAMES))} "
            "(name a column you want ignored x_<anything>)"
        )
    duplicates = sorted({n for n in columns if columns.count(n) > 1})
    if duplicates:
        raise ValueError(f"column(s) named twice: {', '.join(duplicates)}")
    missing = [n for n in REQUIRED_COLUMNS[stream] if n not in columns]
    if missing:
        raise ValueError(f"the {stream} layout needs column(s) {', '.join(missing)}")
    return columns


def _columns_field(stream: str, meaning: str) -> Any:
    return Field(
        ",".join(DEFAULT_COLUMNS[stream]),
        description=(
            f"Comma-separated column names of {meaning}, in the order the rows hold them "
            "(an ASSUMED layout: Optimizely does not publish it). "
            f"Known names: {', '.join(sorted(COLUMN_NAMES))}; x_<anything> = ignored column."
        ),
    )


class EpiserverSettings(msgevents.ProviderSettings):
    """Settings of the ``episerver`` provider (alias ``optimizely``)."""

    model_config = msgevents.settings_config("episerver")

    client_id: str | None = Field(
        None,
        description="Optimizely Campaign client id (mandatorId); required to pull. "
        "Also the event account, so set it for --input runs too if the same account is pulled.",
    )
    username: str | None = Field(None, description="API user (REST HTTP Basic and SOAP login).")
    password: SecretStr | None = Field(None, description="Password of the API user.")
    base_url: BaseUrl = Field(
        "https://api.campaign.episerver.net",
        description="API host; SOAP at {base}/soap11/Rpc<Service>, REST at {base}/rest/{clientId}.",
    )
    soap_username: str | None = Field(
        None, description="SOAP login user when it differs from USERNAME (needs INTERFACE_WEBSERVICE)."
    )
    soap_password: SecretStr | None = Field(None, description="SOAP login password; default PASSWORD.")
    identity: Literal["auto", "user_id", "email"] = Field(
        "auto",
        description="How recipient_id becomes the CrossEngage identity: auto (contains '@' → email, "
        "else user_id), user_id or email.",
    )
    message_type: str | None = Field(None, description="Event 'type' property, e.g. Newsletter.")
    channel: str = Field("Email", description="Event 'channel' property.")
    columns_recipients: str = _columns_field("recipients", "getRecipients rows (Message Sent)")
    columns_opens: str = _columns_field("opens", "getOpens rows (Message Viewed)")
    columns_clicks: str = _columns_field("clicks", "getClicks rows (Message Clicked)")
    columns_responses: str = _columns_field("responses", "getResponses rows (bounces)")
    columns_unsubscribes: str = _columns_field(
        "unsubscribes", "unsubscribes export files without a header row"
    )
    timestamp_format: str = Field(
        "epoch_millis",
        description="How the timestamp column is written: epoch_millis, epoch_seconds, iso8601, "
        "or a strftime pattern such as %Y-%m-%d %H:%M:%S (read as UTC).",
    )
    campaign_id: Literal["mailing", "smart_campaign"] = Field(
        "mailing",
        description="The events' campaign_id: mailing = the mailing id (as message_id); smart_campaign "
        "= the id of the Smart Campaign holding the mailing, looked up through REST GET /smartcampaigns "
        "(needs CLIENT_ID, USERNAME and PASSWORD, also for --input), the mailing id when it is in none.",
    )
    file_link_lookup: Literal["auto", "never"] = Field(
        "auto",
        description="Clicks in --input files with an empty link_url: auto = look link_id up through "
        "REST tracking links (as a pull does, so the event id is the same) when CLIENT_ID, USERNAME "
        "and PASSWORD are set; never = read files offline and deliver such clicks without url.",
    )
    unsubscribe_media_types: str = Field(
        "GLOBAL,EMAIL",
        description="The unsubscribe lists read from REST GET /unsubscribes, comma-separated: GLOBAL "
        "(asked without mediaType, Optimizely's default: unsubscribed from everything) and the "
        "channels' own lists EMAIL, SMS, PUSH, FAX, LETTER, PRINT (asked with mediaType=…).",
    )
    page_size: int = Field(1000, ge=1, le=1000, description="Rows per SOAP/REST page (at most 1000).")
    lookback: timedelta = Field(
        timedelta(days=7),
        description="Where the first live run starts (now minus this); at most 30 days, "
        "Optimizely's closed-loop retention.",
    )

    @field_validator("client_id")
    @classmethod
    def _numeric_client_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value and not value.isdigit():
            raise ValueError("the client id is a number (the mandatorId of the SOAP login)")
        return value or None

    @field_validator("identity", "file_link_lookup", "campaign_id", mode="before")
    @classmethod
    def _lower_choice(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "columns_recipients", "columns_opens", "columns_clicks", "columns_responses",
        "columns_unsubscribes",
    )  # fmt: skip
    @classmethod
    def _valid_columns(cls, value: str, info: ValidationInfo) -> str:
        stream = info.field_name.removeprefix("columns_")
        return ",".join(parse_columns(stream, value))

    @field_validator("unsubscribe_media_types")
    @classmethod
    def _known_media_types(cls, value: str) -> str:
        names = [name.strip().upper() for name in value.split(",")]
        unknown = [name or "(empty)" for name in names if name not in MEDIA_TYPES]
        if unknown:
            raise ValueError(f"unknown media type(s) {', '.join(unknown)}; known: {', '.join(MEDIA_TYPES)}")
        if len(set(names)) != len(names):
            raise ValueError("a media type is named twice")
        return ",".join(names)

    @field_validator("timestamp_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in EPOCH_FORMATS:
            return value.lower()
        if "%" not in value:
            raise ValueError(
                f"expected {', '.join(EPOCH_FORMATS)} or a strftime pattern containing %, got {value!r}"
            )
        return value

    @field_validator("lookback")
    @classmethod
    def _within_retention(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        if value > RETENTION:
            raise ValueError("at most 30 days: Optimizely keeps closed-loop data 30 days")
        return value

    # -- derived values ---------------------------------------------------------------

    def columns(self, stream: str) -> tuple[str, ...]:
        """The column names of ``stream`` rows, in order."""
        return tuple(getattr(self, f"columns_{stream}").split(","))

    def media_types(self) -> tuple[str, ...]:
        """The unsubscribe lists to read, in order (``GLOBAL`` = without ``mediaType``)."""
        return tuple(self.unsubscribe_media_types.split(","))

    def soap_credentials(self) -> tuple[str, str]:
        """(user, password) of the SOAP login: the SOAP_* ones, else the REST ones."""
        user = self.soap_username or self.username or ""
        secret = self.soap_password or self.password
        return user, secret.get_secret_value() if secret else ""

    def rest_credentials(self) -> tuple[str, str]:
        return self.username or "", self.password.get_secret_value() if self.password else ""

    def has_rest_credentials(self) -> bool:
        """True when every setting the REST API needs is set (``require_rest`` would pass)."""
        return bool(self.client_id and self.username and self.password)

    def require_soap(self) -> None:
        """Raise ``ConfigError`` naming every variable the SOAP login needs but is unset."""
        self.require(
            "client_id",
            "soap_username" if self.soap_username else "username",
            "soap_password" if self.soap_password else "password",
        )

    def require_rest(self) -> None:
        """Raise ``ConfigError`` naming every variable the REST API needs but is unset."""
        self.require("client_id", "username", "password")
