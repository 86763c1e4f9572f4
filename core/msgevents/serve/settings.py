"""Settings of ``msgevents serve`` (``MSGEVENTS_SERVE_…`` in the environment or ``.env``).

The command line (``--to``, ``--provider``, ``--state``) wins over these; an operator
who runs the application factory under their own process manager sets them instead.
"""

from __future__ import annotations

from pydantic import Field

from msgevents.provider import load_settings
from msgevents.settings_base import BaseUrl, SettingsBase, settings_config

__all__ = ["DEFAULT_SINK", "ServeSettings", "serve_settings"]

DEFAULT_SINK = "feed:./feeds"


class ServeSettings(SettingsBase):
    """How the receiver takes requests in and hands events on."""

    model_config = settings_config("serve")

    public_url: BaseUrl | None = Field(
        None,
        description="The public base URL providers call (scheme://host[:port][/prefix]) when a "
        "reverse proxy sits in front; signatures over the URL (Twilio) are checked against it.",
    )
    to: str = Field(
        DEFAULT_SINK, description="Sink, as --to of collect (feed:DIR | crossengage | jsonl:PATH)."
    )
    providers: str = Field(
        "",
        description="Comma-separated providers to receive (default: every installed provider with webhooks).",
    )
    max_body: int = Field(1 << 20, ge=1024, description="Largest request body accepted, bytes (413 beyond).")
    drain_timeout: float = Field(
        10.0, ge=0, description="On SIGTERM: seconds to keep delivering the outbox before exiting."
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="Delivery batch: events, or …")
    batch_age: float = Field(
        1.0, gt=0, description="… seconds since the first waiting event, whichever first."
    )
    commit_group: int = Field(
        256, ge=1, description="Most requests committed in one transaction (1 turns group commit off)."
    )
    retry_max: float = Field(
        60.0, gt=0, description="Longest pause between delivery attempts while the sink is down, seconds."
    )

    def provider_names(self) -> list[str]:
        return [name.strip() for name in self.providers.split(",") if name.strip()]


def serve_settings() -> ServeSettings:
    return load_settings(ServeSettings)  # type: ignore[no-any-return]
