"""Core settings (``MSGEVENTS_…`` in the environment or ``.env``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from msgevents.provider import load_settings
from msgevents.state import DEFAULT_STATE_PATH

__all__ = ["CoreSettings", "core_settings"]


class CoreSettings(BaseSettings):
    """Settings of the core itself; provider and sink settings live with them."""

    model_config = SettingsConfigDict(
        env_prefix="MSGEVENTS_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    state: Path = Field(DEFAULT_STATE_PATH, description="state file (positions, ledger, outbox, runs)")
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

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"MSGEVENTS_{field}".upper()


def core_settings() -> CoreSettings:
    return load_settings(CoreSettings)  # type: ignore[arg-type,return-value]
