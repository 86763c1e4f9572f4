"""One settings base: core, sink and provider settings read ``MSGEVENTS_<NAME>_…`` the same way."""

from __future__ import annotations

import pytest
from pydantic import Field, TypeAdapter, ValidationError

import msgevents
from msgevents.plugins import load_provider
from msgevents.settings import CoreSettings
from msgevents.settings_base import BaseUrl, PositiveDuration, SettingsBase, settings_config
from msgevents.sinks.crossengage import CrossEngageSettings
from msgevents.sinks.feed import FeedSettings

MODELS = {
    "MSGEVENTS_": CoreSettings,
    "MSGEVENTS_FEED_": FeedSettings,
    "MSGEVENTS_CROSSENGAGE_": CrossEngageSettings,
}


@pytest.mark.parametrize("name", ["episerver", "mailgun", "ses", "twilio"])
def test_every_provider_plugin_uses_the_base(name):
    settings = load_provider(name).Settings
    assert issubclass(settings, SettingsBase)
    assert settings.model_config["env_prefix"] == f"MSGEVENTS_{name.upper()}_"


@pytest.mark.parametrize(("prefix", "model"), MODELS.items())
def test_core_and_sinks_use_the_base(prefix, model):
    assert issubclass(model, SettingsBase)
    assert model.model_config["env_prefix"] == prefix
    assert model.model_config["env_file"] == ".env"
    assert model.model_config["extra"] == "ignore"
    assert model.model_config["env_ignore_empty"] is True


def test_env_name_and_reading_follow_the_prefix(monkeypatch, tmp_path):
    class AcmeSettings(msgevents.ProviderSettings):
        model_config = settings_config("acme-mail")
        region: str = Field("eu")

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MSGEVENTS_ACME_MAIL_REGION=us\nMSGEVENTS_OTHER_THING=x\n")
    assert AcmeSettings.env_name("region") == "MSGEVENTS_ACME_MAIL_REGION"
    assert AcmeSettings().region == "us"
    monkeypatch.setenv("MSGEVENTS_ACME_MAIL_REGION", "")  # empty counts as unset: .env decides
    assert AcmeSettings().region == "us"
    assert CrossEngageSettings.env_name("api_key") == "MSGEVENTS_CROSSENGAGE_API_KEY"
    assert CoreSettings.env_name("state") == "MSGEVENTS_STATE"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.eu.mailgun.net/", "https://api.eu.mailgun.net"),
        ("  http://127.0.0.1:8080/prefix/ ", "http://127.0.0.1:8080/prefix"),
    ],
)
def test_a_base_url_is_kept_without_its_trailing_slash(given, expected):
    assert TypeAdapter(BaseUrl).validate_python(given) == expected


@pytest.mark.parametrize(
    "given", ["api.crossengage.io", "ftp://host", "https://", "https://host/?key=1", "https://host/#x"]
)
def test_a_base_url_without_scheme_or_host_or_with_a_query_is_refused(given):
    with pytest.raises(ValidationError, match="must start with https://"):
        TypeAdapter(BaseUrl).validate_python(given)


@pytest.mark.parametrize("value", ["PT0S", 0, "-PT1M"])
def test_a_positive_duration_refuses_zero_and_negative(value):
    with pytest.raises(ValidationError, match="must be a positive duration"):
        TypeAdapter(PositiveDuration).validate_python(value)
    assert TypeAdapter(PositiveDuration).validate_python("PT15M").total_seconds() == 900


@pytest.mark.parametrize("name", ["mailgun", "ses", "onesignal"])
def test_every_webhook_max_age_refuses_zero_naming_its_variable(name):
    settings = load_provider(name).Settings
    with pytest.raises(msgevents.ConfigError, match=f"MSGEVENTS_{name.upper()}_WEBHOOK_MAX_AGE"):
        msgevents.load_settings(settings, _env_file=None, webhook_max_age="PT0S")
