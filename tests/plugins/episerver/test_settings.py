"""Settings: environment variables, defaults, and errors that name the variable.

Credentials are required only when pulling; every invalid value is reported
with its MSGEVENTS_EPISERVER_* name and never with a secret's value.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import msgevents
from msgevents_episerver import EpiserverProvider, EpiserverSettings
from msgevents_episerver.settings import DEFAULT_COLUMNS

from .support import DAY_MS, window


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> EpiserverSettings:
    for name, value in env.items():
        monkeypatch.setenv(f"MSGEVENTS_EPISERVER_{name}", value)
    return msgevents.load_settings(EpiserverSettings)


def test_defaults(monkeypatch):
    settings = load(monkeypatch)

    assert settings.base_url == "https://api.campaign.episerver.net"
    assert (settings.identity, settings.channel, settings.message_type) == ("auto", "Email", None)
    assert settings.page_size == 1000
    assert settings.lookback == timedelta(days=7)
    assert settings.timestamp_format == "epoch_millis"
    assert settings.columns("clicks") == DEFAULT_COLUMNS["clicks"]
    assert settings.columns("clicks")[-2:] == ("link_id", "link_url")
    assert settings.columns("responses")[-1] == "category"
    assert settings.media_types() == ("GLOBAL", "EMAIL")  # the API's default list, and e-mail's own


def test_values_come_from_the_environment(monkeypatch):
    settings = load(
        monkeypatch,
        CLIENT_ID="123456",
        USERNAME="api-user@example.com",
        PASSWORD="pw-from-env",
        BASE_URL="http://127.0.0.1:8080/",
        IDENTITY="User_ID",
        MESSAGE_TYPE="Newsletter",
        COLUMNS_OPENS=" recipient_id , mailing_id,timestamp,x_mail_id ",
        PAGE_SIZE="250",
        LOOKBACK="P30D",
        TIMESTAMP_FORMAT="%Y-%m-%d %H:%M:%S",
    )

    assert settings.client_id == "123456"
    assert settings.password.get_secret_value() == "pw-from-env"
    assert "pw-from-env" not in repr(settings)
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.identity == "user_id"
    assert settings.columns("opens") == ("recipient_id", "mailing_id", "timestamp", "x_mail_id")
    assert (settings.page_size, settings.lookback) == (250, timedelta(days=30))
    assert settings.timestamp_format == "%Y-%m-%d %H:%M:%S"


def test_soap_credentials_default_to_the_rest_ones(monkeypatch):
    settings = load(monkeypatch, USERNAME="api-user@example.com", PASSWORD="rest-pw")
    assert settings.soap_credentials() == ("api-user@example.com", "rest-pw")

    settings = load(monkeypatch, SOAP_USERNAME="soap@example.com", SOAP_PASSWORD="soap-pw")
    assert settings.soap_credentials() == ("soap@example.com", "soap-pw")
    assert settings.rest_credentials() == ("api-user@example.com", "rest-pw")


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("IDENTITY", "foo", "'auto', 'user_id' or 'email'"),
        ("PAGE_SIZE", "5000", "less than or equal to 1000"),
        ("PAGE_SIZE", "0", "greater than or equal to 1"),
        ("COLUMNS_CLICKS", "mailing_id,recipient_id,timestamp,link", "unknown column(s) link"),
        ("COLUMNS_RESPONSES", "mailing_id,recipient_id,timestamp", "needs column(s) category"),
        ("COLUMNS_OPENS", "mailing_id,recipient_id,timestamp,timestamp", "named twice: timestamp"),
        ("COLUMNS_UNSUBSCRIBES", "mailing_id,,recipient_id,timestamp", "empty column name"),
        ("TIMESTAMP_FORMAT", "dd.mm.yyyy", "strftime pattern"),
        ("LOOKBACK", "P31D", "at most 30 days"),
        ("LOOKBACK", "PT0S", "must be positive"),
        ("CLIENT_ID", "acme", "client id is a number"),
        ("BASE_URL", "api.campaign.episerver.net", "must start with https://"),
        ("UNSUBSCRIBE_MEDIA_TYPES", "EMAIL,MAIL", "unknown media type(s) MAIL"),
        ("UNSUBSCRIBE_MEDIA_TYPES", "EMAIL,", "unknown media type(s) (empty)"),
        ("UNSUBSCRIBE_MEDIA_TYPES", "EMAIL,email", "named twice"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, variable, value, reason):
    with pytest.raises(msgevents.ConfigError) as info:
        load(monkeypatch, **{variable: value})

    message = str(info.value)
    assert f"MSGEVENTS_EPISERVER_{variable}" in message
    assert reason in message


def test_pulling_without_credentials_names_every_missing_variable():
    """--input needs nothing; a pull asks for exactly what is missing, before any request."""
    provider = EpiserverProvider(EpiserverSettings(base_url="http://127.0.0.1:9"))

    with pytest.raises(msgevents.ConfigError) as soap:
        next(iter(provider.pull("opens", window(DAY_MS, DAY_MS + 1000))))
    with pytest.raises(msgevents.ConfigError) as rest:
        next(iter(provider.pull("unsubscribes", window(DAY_MS, DAY_MS + 1000))))
    with pytest.raises(msgevents.ConfigError) as check:
        provider.check()

    for error in (soap, rest, check):
        for name in ("CLIENT_ID", "USERNAME", "PASSWORD"):
            assert f"MSGEVENTS_EPISERVER_{name}" in str(error.value)


def test_missing_password_is_named_without_leaking_the_user(monkeypatch):
    settings = load(monkeypatch, CLIENT_ID="123456", SOAP_USERNAME="soap-user@example.com")

    with pytest.raises(msgevents.ConfigError) as info:
        EpiserverProvider(settings).now()

    message = str(info.value)
    assert "MSGEVENTS_EPISERVER_PASSWORD" in message
    assert "CLIENT_ID" not in message
    assert "USERNAME" not in message
    assert "soap-user" not in message


def test_unknown_stream_is_a_config_error():
    provider = EpiserverProvider(EpiserverSettings())

    with pytest.raises(msgevents.ConfigError, match="unknown episerver stream 'bounces'"):
        next(iter(provider.pull("bounces", window(DAY_MS, DAY_MS + 1000))))


def test_every_setting_is_described():
    """`msgevents about episerver` shows a description for every variable; secrets are flagged."""
    settings = {s["env"]: s for s in EpiserverProvider.describe()["settings"]}

    assert all(s["description"] for s in settings.values())
    secret = {env for env, s in settings.items() if s["secret"]}
    assert secret == {"MSGEVENTS_EPISERVER_PASSWORD", "MSGEVENTS_EPISERVER_SOAP_PASSWORD"}
    assert not any(s["required"] for s in settings.values())
    assert "ASSUMED" in settings["MSGEVENTS_EPISERVER_COLUMNS_CLICKS"]["description"]
