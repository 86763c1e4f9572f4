"""The plugin as the core sees it: entry points, registration, declarations."""

from __future__ import annotations

from datetime import timedelta
from importlib.metadata import entry_points

import msgevents
from msgevents.plugins import list_providers, load_provider, validate_provider_class
from msgevents_episerver import EpiserverProvider


def test_both_entry_point_names_load_the_same_provider():
    names = {ep.name: ep.value for ep in entry_points(group="msgevents.providers")}

    assert names["episerver"] == names["optimizely"] == "msgevents_episerver"
    assert load_provider("episerver") is load_provider("optimizely") is EpiserverProvider


def test_declarations_pass_the_core_checks():
    validate_provider_class(EpiserverProvider, "test")

    assert EpiserverProvider.name == "episerver"
    assert EpiserverProvider.aliases == ("optimizely",)
    assert EpiserverProvider.streams == ("recipients", "opens", "clicks", "responses", "unsubscribes")
    assert EpiserverProvider.settle == timedelta(0)
    assert EpiserverProvider.restatement == timedelta(hours=2)
    assert EpiserverProvider.retention == timedelta(days=30)


def test_never_delivered_never_spam():
    """Optimizely has no delivery receipts; spam complaints exist only through webhooks."""
    events = EpiserverProvider.supported_events
    T = msgevents.EventType

    assert events == {T.SENT, T.VIEWED, T.CLICKED, T.UNSUBSCRIBED, T.SOFT_BOUNCED, T.HARD_BOUNCED}
    assert T.DELIVERED not in events
    assert T.MARKED_AS_SPAM not in events


def test_listed_once_with_its_alias():
    (listing,) = [p for p in list_providers() if p.name == "episerver"]

    assert listing.status == "ok"
    assert listing.aliases == ["optimizely"]
    assert listing.distribution == "msgevents-episerver"
    assert "Message Delivered" not in listing.events
    assert not [p for p in list_providers() if p.name == "optimizely"]


def test_about_describes_inputs_and_windows():
    about = EpiserverProvider.describe()

    assert "recipients_" in about["input"]
    assert ".gz" in about["input"]
    assert (about["settle_seconds"], about["restatement_seconds"], about["retention_days"]) == (0, 7200, 30)
    assert about["not_supported"] == ["Message Delivered", "Message marked_as_spam"]
