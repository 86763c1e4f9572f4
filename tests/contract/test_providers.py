"""The shipped contract suite (msgevents.testing.contract) run over every installed provider.

Sample inputs come from ``examples/<provider>/``; the fixture provider ``fake``
is checked too, with records written here.
"""

from __future__ import annotations

import pytest
from support import ROOT, write_records

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
