"""Provider settings and the provider base class (``msgevents.provider``).

Covers ``settings_config`` (the ``MSGEVENTS_<NAME>_`` prefix, ``.env`` read,
foreign variables ignored), ``require`` naming every missing variable,
``secret_values``, ``load_settings`` turning validation errors into a
:class:`ConfigError` that names the variable but not its value, the shape of
``Provider.describe()`` (``msgevents about``), ``Window`` checks and the base
class defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from msgevents.errors import ConfigError
from msgevents.events import Event, EventType
from msgevents.provider import (
    NotModelled,
    Provider,
    ProviderSettings,
    Record,
    Window,
    load_settings,
    settings_config,
)


class AcmeSettings(ProviderSettings):
    model_config = settings_config("acme-mail")

    api_user: str | None = Field(None, description="API user")
    api_key: SecretStr | None = Field(None, description="API key")
    base_url: str = Field("https://api.acme.example", description="endpoint")
    page_size: int = Field(500, ge=1, le=1000)
    streams_wanted: list[str] = Field(default_factory=lambda: ["opens", "clicks"])


class StrictSettings(ProviderSettings):
    model_config = settings_config("strict")

    token: SecretStr


class AcmeProvider(Provider):
    name = "acme-mail"
    title = "Acme Mail"
    aliases = ("acme",)
    supported_events = frozenset({EventType.SENT, EventType.CLICKED, EventType.VIEWED})
    Settings = AcmeSettings
    streams = ("opens", "clicks")
    settle = timedelta(minutes=30)
    restatement = timedelta(hours=2)
    retention = timedelta(days=30)
    input_help = "Acme webhook dumps (JSON Lines)"

    def map_record(self, record: Record) -> Sequence[Event] | NotModelled:
        return NotModelled(record.data.get("type", "?"))


# -- settings --------------------------------------------------------------------------------------


def test_env_prefix_comes_from_the_provider_name():
    assert AcmeSettings.env_name("api_key") == "MSGEVENTS_ACME_MAIL_API_KEY"
    assert AcmeSettings.env_name("lookback") == "MSGEVENTS_ACME_MAIL_LOOKBACK"


def test_values_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_API_USER", "robot")
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_API_KEY", "k-123456")
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_PAGE_SIZE", "250")
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_LOOKBACK", "P3D")
    settings = load_settings(AcmeSettings)
    assert settings.api_user == "robot"
    assert settings.api_key.get_secret_value() == "k-123456"
    assert settings.page_size == 250
    assert settings.lookback == timedelta(days=3)


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "MSGEVENTS_ACME_MAIL_API_USER=from-dotenv\n"
        "MSGEVENTS_ACME_MAIL_BASE_URL=http://127.0.0.1:9999\n"
        "MSGEVENTS_EPISERVER_CLIENT_ID=123\n"  # another provider's: ignored
        "MSGEVENTS_CROSSENGAGE_API_KEY=xyz\n"
        "SOMETHING_ELSE=1\n"
    )
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_API_USER", "from-env")
    settings = load_settings(AcmeSettings)
    assert settings.api_user == "from-env"
    assert settings.base_url == "http://127.0.0.1:9999"


def test_unknown_variables_with_our_prefix_are_ignored(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_NO_SUCH_SETTING", "x")
    monkeypatch.setenv("MSGEVENTS_OTHER_API_KEY", "y")
    assert load_settings(AcmeSettings).api_user is None


def test_empty_variables_count_as_unset(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_PAGE_SIZE", "")
    assert load_settings(AcmeSettings).page_size == 500


def test_require_names_every_missing_variable(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_BASE_URL", "http://x")
    settings = load_settings(AcmeSettings)
    with pytest.raises(ConfigError) as caught:
        settings.require("api_user", "api_key", "base_url")
    message = str(caught.value)
    assert "MSGEVENTS_ACME_MAIL_API_USER" in message
    assert "MSGEVENTS_ACME_MAIL_API_KEY" in message
    assert "BASE_URL" not in message


def test_require_counts_an_empty_secret_as_missing():
    settings = AcmeSettings(api_user="robot", api_key=SecretStr(""))
    with pytest.raises(ConfigError, match="MSGEVENTS_ACME_MAIL_API_KEY"):
        settings.require("api_user", "api_key")
    AcmeSettings(api_user="robot", api_key="k-1").require("api_user", "api_key")  # nothing missing


def test_secret_values_lists_set_secrets_only():
    assert AcmeSettings().secret_values() == []
    assert AcmeSettings(api_user="robot", api_key="k-123456").secret_values() == ["k-123456"]


def test_invalid_values_name_the_variable_but_not_the_value(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_PAGE_SIZE", "lots-and-lots")
    with pytest.raises(ConfigError) as caught:
        load_settings(AcmeSettings)
    message = str(caught.value)
    assert "MSGEVENTS_ACME_MAIL_PAGE_SIZE" in message
    assert "lots-and-lots" not in message


def test_a_missing_required_setting_names_the_variable():
    with pytest.raises(ConfigError, match="MSGEVENTS_STRICT_TOKEN"):
        load_settings(StrictSettings)


def test_an_invalid_secret_is_never_shown(monkeypatch):
    class Numeric(ProviderSettings):
        model_config = settings_config("numeric")
        pin: int

    monkeypatch.setenv("MSGEVENTS_NUMERIC_PIN", "s3cr3t-pin")
    with pytest.raises(ConfigError) as caught:
        load_settings(Numeric)
    assert "s3cr3t-pin" not in str(caught.value)
    assert "MSGEVENTS_NUMERIC_PIN" in str(caught.value)


def test_overrides_beat_the_environment(monkeypatch):
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_PAGE_SIZE", "250")
    assert load_settings(AcmeSettings, page_size=10).page_size == 10


# -- describe --------------------------------------------------------------------------------------


def test_describe_shape():
    described = AcmeProvider.describe()
    assert described["name"] == "acme-mail"
    assert described["title"] == "Acme Mail"
    assert described["aliases"] == ["acme"]
    assert described["events"] == ["Message Sent", "Message Viewed", "Message Clicked"]  # canonical order
    assert described["not_supported"] == [
        "Message Delivered",
        "Message Unsubscribed",
        "Message soft_bounced",
        "Message hard_bounced",
        "Message marked_as_spam",
    ]
    assert described["streams"] == ["opens", "clicks"]
    assert described["input"] == "Acme webhook dumps (JSON Lines)"
    assert described["settle_seconds"] == 1800
    assert described["restatement_seconds"] == 7200
    assert described["retention_days"] == 30


def test_describe_settings_list_env_names_required_and_secret():
    settings = {item["name"]: item for item in AcmeProvider.describe()["settings"]}
    # every field is listed (the base class's own, such as lookback, included)
    assert set(settings) >= {"lookback", "api_user", "api_key", "base_url", "page_size", "streams_wanted"}
    assert set(settings) == set(AcmeSettings.model_fields)
    for item in settings.values():
        assert set(item) >= {"name", "env", "required", "secret", "default", "description"}
    assert settings["api_key"]["env"] == "MSGEVENTS_ACME_MAIL_API_KEY"
    assert settings["api_key"]["secret"] is True
    assert settings["api_key"]["required"] is False
    assert settings["api_key"]["description"] == "API key"
    assert settings["api_user"]["secret"] is False
    assert settings["base_url"]["default"] == "https://api.acme.example"
    assert settings["page_size"]["default"] == 500
    assert settings["lookback"]["default"] == "7d"
    assert settings["streams_wanted"]["default"] == "['opens', 'clicks']"  # a default factory, called


def test_describe_marks_required_settings():
    class Strict(AcmeProvider):
        name = "strict"
        Settings = StrictSettings

    [token] = [s for s in Strict.describe()["settings"] if s["name"] == "token"]
    assert token == {
        "name": "token",
        "env": "MSGEVENTS_STRICT_TOKEN",
        "required": True,
        "secret": True,
        "default": None,
        "description": "",
    }


# -- windows, records and the base class -----------------------------------------------------------


def test_window_needs_aware_ends_in_order():
    start = datetime(2024, 5, 1, tzinfo=UTC)
    assert Window(start, start).until == start  # empty but valid
    with pytest.raises(ValueError, match="since"):
        Window(datetime(2024, 5, 1), start)
    with pytest.raises(ValueError, match="until"):
        Window(start, datetime(2024, 5, 2))
    with pytest.raises(ValueError, match="before"):
        Window(start, start - timedelta(seconds=1))


def test_record_defaults():
    record = Record("opens", {"a": 1})
    assert (record.source, record.error) == ("", None)


def test_base_class_defaults_say_what_is_missing():
    provider = AcmeProvider(AcmeSettings())
    assert provider.account == ""
    now = provider.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    window = Window(now - timedelta(hours=1), now)
    with pytest.raises(ConfigError, match=r"'acme-mail'.*--input"):
        list(provider.pull("opens", window))
    with pytest.raises(ConfigError, match="'acme-mail' reads no input files"):
        list(provider.read_input(Path("x.json")))
    with pytest.raises(ConfigError, match="'acme-mail' has no API to check"):
        provider.check()
    provider.close()
    assert provider.map_record(Record("opens", {"type": "stored"})) == NotModelled("stored")
