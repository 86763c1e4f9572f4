"""The shipped contract suite (msgevents.testing.contract) run over every installed provider.

Sample inputs come from ``examples/<provider>/``; signed webhook requests of the providers that
receive webhooks from ``tests/webhook_samples.py`` (built from the same examples); the fixture
provider ``fake`` is checked too, with records written here.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from support import ROOT, write_records
from webhook_samples import SAMPLES, webhook_samples

from msgevents import MappingError, NotModelled, load_settings
from msgevents.plugins import list_providers, load_provider
from msgevents.testing.contract import ContractFailure, ProviderContract

INSTALLED = [item.name for item in list_providers() if item.status == "ok"]


def contract_for(name: str) -> ProviderContract:
    inputs = sorted(
        p for p in (ROOT / "examples" / name).glob("*") if p.suffix in (".csv", ".gz", ".jsonl", ".json")
    )
    # a provider keyed by phone (SMS) needs its sample lookup file to deliver anything
    lookups = sorted((ROOT / "examples" / name / "lookup").glob("*.csv"))
    settings = {"identity_file": lookups[0]} if lookups else {}
    return ProviderContract(load_provider(name), inputs=inputs, settings=settings)


@pytest.mark.parametrize("name", INSTALLED)
def test_declarations(name):
    contract_for(name).check_declarations()


@pytest.mark.parametrize("name", INSTALLED)
def test_mapping_is_valid_declared_utc_and_deterministic(name):
    emitted = contract_for(name).check_mapping()
    assert emitted  # at least one event type seen in the samples


@pytest.mark.parametrize("name", INSTALLED)
def test_pull_with_empty_settings_names_the_missing_variables(name, monkeypatch):
    contract_for(name).check_missing_settings(monkeypatch)


@pytest.mark.parametrize("name", INSTALLED)
def test_second_collect_delivers_nothing(name, tmp_path):
    contract_for(name).check_two_collects(tmp_path)


def fake_records(kind: str = "sent") -> list[dict]:
    return [{"id": i, "kind": kind, "email": f"u{i}@example.com", "ts": 1_715_000_000 + i} for i in range(5)]


def test_the_fake_provider_passes(fake_plugins, tmp_path, monkeypatch):
    import msgevents_fake

    path = write_records(tmp_path / "in.jsonl", [*fake_records(), {"id": 9, "kind": "other", "ts": 1}])
    contract = ProviderContract(msgevents_fake.FakeProvider, inputs=[path])
    contract.check_declarations()
    assert contract.check_mapping() == {"Message Sent": 5}
    contract.check_missing_settings(monkeypatch)
    contract.check_two_collects(tmp_path / "run")


def test_the_suite_catches_an_undeclared_event_type(fake_plugins, tmp_path):
    import msgevents_fake

    path = write_records(tmp_path / "in.jsonl", fake_records("spam"))
    with pytest.raises(ContractFailure, match="undeclared event type 'Message marked_as_spam'"):
        ProviderContract(msgevents_fake.FakeProvider, inputs=[path]).check_mapping()


def test_the_suite_catches_nondeterministic_ids(fake_plugins, tmp_path, monkeypatch):
    import itertools

    import msgevents_fake

    counter = itertools.count()
    original = msgevents_fake.FakeProvider.map_record

    def unstable(self, record):
        return [e.model_copy(update={"event_id": f"id-{next(counter)}"}) for e in original(self, record)]

    monkeypatch.setattr(msgevents_fake.FakeProvider, "map_record", unstable)
    path = write_records(tmp_path / "in.jsonl", fake_records())
    with pytest.raises(ContractFailure, match="not deterministic"):
        ProviderContract(msgevents_fake.FakeProvider, inputs=[path]).check_mapping()


def test_every_installed_provider_has_samples():
    for name in INSTALLED:
        assert contract_for(name).inputs, f"examples/{name}/ has no sample inputs"


# -- webhooks ------------------------------------------------------------------------------------

RECEIVING = [name for name in INSTALLED if load_provider(name).receives_webhooks()]


@pytest.mark.parametrize("name", RECEIVING)
def test_webhook_samples_are_authentic_parse_map_and_their_forgeries_are_refused(name):
    with webhook_samples(name) as (settings, samples):
        contract = ProviderContract(load_provider(name), settings=settings, webhooks=samples)
        emitted = contract.check_webhooks()
    assert emitted, f"{name}: the webhook samples gave no events"


def _event_ids(provider, records) -> set[str]:
    ids = set()
    for record in records:
        if record.error is not None:
            continue
        try:
            result = provider.map_record(record)
        except (MappingError, ValidationError):
            continue
        if not isinstance(result, NotModelled):
            ids.update(event.event_id for event in result)
    return ids


@pytest.mark.parametrize("name", RECEIVING)
def test_webhook_events_have_the_event_ids_of_the_same_events_in_the_sample_files(name):
    cls = load_provider(name)
    with webhook_samples(name) as (settings, samples):
        provider = cls(load_settings(cls.Settings, **settings))
        by_webhook = _event_ids(provider, [r for s in samples for r in provider.parse_webhook(s.request)])
    from_files = _event_ids(
        provider, [r for path in contract_for(name).inputs for b in provider.read_input(path) for r in b]
    )
    assert by_webhook
    assert by_webhook <= from_files


def test_every_provider_that_receives_webhooks_has_webhook_samples():
    assert set(RECEIVING) <= set(SAMPLES), (
        f"no webhook samples in tests/webhook_samples.py for {set(RECEIVING) - set(SAMPLES)}"
    )
    assert {"mailgun", "twilio", "ses"} <= set(RECEIVING)


def test_a_provider_without_webhooks_passes_the_webhook_check_trivially():
    cls = load_provider("episerver")
    assert not cls.receives_webhooks()
    assert ProviderContract(cls).check_webhooks() == {}


def test_the_fake_provider_passes_the_webhook_check(fake_plugins):
    import hashlib
    import hmac
    import json
    from datetime import UTC, datetime

    import msgevents_fake
    from msgevents import WebhookRequest
    from msgevents.testing.contract import WebhookSample

    key = "fake-contract-key"
    body = json.dumps(fake_records()).encode()

    def post(raw: bytes, signed: bytes) -> WebhookRequest:
        signature = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-fake-signature": signature}
        return WebhookRequest(
            "POST", "https://hooks.example.com/webhooks/fake", headers, raw, datetime.now(UTC)
        )

    sample = WebhookSample(post(body, body), forgeries=(post(body.replace(b"u1@", b"u9@"), body),))
    contract = ProviderContract(msgevents_fake.FakeProvider, settings={"webhook_key": key}, webhooks=[sample])
    assert contract.check_webhooks() == {"Message Sent": 5}


def _mailgun_contract():
    return webhook_samples("mailgun")


def test_the_webhook_suite_catches_an_accepted_forgery(monkeypatch):
    from msgevents_mailgun import MailgunProvider

    monkeypatch.setattr(MailgunProvider, "verify_webhook", lambda self, request: None)
    with _mailgun_contract() as (settings, samples):
        contract = ProviderContract(MailgunProvider, settings=settings, webhooks=samples[:1])
        with pytest.raises(ContractFailure, match="forgery 1 was accepted"):
            contract.check_webhooks()


def test_the_webhook_suite_catches_a_secret_in_a_refusal(monkeypatch):
    from msgevents import WebhookRejected
    from msgevents_mailgun import MailgunProvider

    original = MailgunProvider.verify_webhook

    def leaky(self, request):
        try:
            original(self, request)
        except WebhookRejected:
            key = self.settings.webhook_signing_key.get_secret_value()
            raise WebhookRejected(f"signature does not match the one made with {key}") from None

    monkeypatch.setattr(MailgunProvider, "verify_webhook", leaky)
    with _mailgun_contract() as (settings, samples):
        contract = ProviderContract(MailgunProvider, settings=settings, webhooks=samples[:1])
        with pytest.raises(ContractFailure, match="refusal message shows a secret"):
            contract.check_webhooks()


def test_the_webhook_suite_catches_a_sample_that_does_not_verify():
    from msgevents_mailgun import MailgunProvider

    with _mailgun_contract() as (_settings, samples):
        contract = ProviderContract(
            MailgunProvider, settings={"webhook_signing_key": "another-key"}, webhooks=samples[:1]
        )
        with pytest.raises(ContractFailure, match="was refused: signature does not match"):
            contract.check_webhooks()


def test_the_webhook_suite_catches_an_impure_parse(monkeypatch):
    import itertools

    from msgevents_mailgun import MailgunProvider

    counter = itertools.count()
    original = MailgunProvider.parse_webhook

    def impure(self, request):
        return [r._replace(data={**r.data, "seen": next(counter)}) for r in original(self, request)]

    monkeypatch.setattr(MailgunProvider, "parse_webhook", impure)
    with _mailgun_contract() as (settings, samples):
        contract = ProviderContract(MailgunProvider, settings=settings, webhooks=samples[:1])
        with pytest.raises(ContractFailure, match="parse_webhook is not pure"):
            contract.check_webhooks()
