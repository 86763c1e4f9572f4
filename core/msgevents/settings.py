"""Core settings (``MSGEVENTS_…`` in the environment or ``.env``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from msgevents.provider import load_settings
from msgevents.settings_base import SettingsBase, settings_config
from msgevents.state import DEFAULT_STATE_PATH
from msgevents.state.location import StateLocation

__all__ = ["CoreSettings", "core_settings"]


class CoreSettings(SettingsBase):
    """Settings of the core itself; provider and sink settings live with them."""

    model_config = settings_config()

    state: StateLocation = Field(
        DEFAULT_STATE_PATH,
        description="state file (positions, ledger, outbox, runs), or a postgresql:// URL",
    )
    ledger_retention: timedelta = Field(
        timedelta(days=90),
        description="how long delivered event ids are remembered; longer than every restatement window",
    )
    identity_file: Path | None = Field(
        None,
        description="identity lookup CSV (email,user_id or phone,user_id) for every provider; "
        "MSGEVENTS_<NAME>_IDENTITY_FILE takes precedence",
    )
    chunk_size: int = Field(5000, ge=1, le=100_000, description="events handed to the sink at once")


def core_settings() -> CoreSettings:
    return load_settings(CoreSettings)  # type: ignore[arg-type,return-value]
