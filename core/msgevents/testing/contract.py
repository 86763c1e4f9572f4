"""The provider contract suite: checks every provider plugin must pass.

Use it from a plugin's tests (pytest), with sample input files of the provider::

    from msgevents.testing.contract import ProviderContract

    contract = ProviderContract(MyProvider, inputs=[Path("examples/mine/events.jsonl")])

    def test_declarations():
        contract.check_declarations()

    def test_mapping():
        contract.check_mapping()

    def test_missing_settings(monkeypatch):
        contract.check_missing_settings(monkeypatch)

    def test_two_collects(tmp_path):
        contract.check_two_collects(tmp_path)

A provider that receives webhooks also gives sample requests, signed with the test secrets
in ``settings`` (and, when it has them, forgeries of each that must be refused)::

    contract = ProviderContract(
        MyProvider,
        settings={"webhook_signing_key": "test-key"},
        webhooks=[WebhookSample(signed_request, forgeries=(altered_body,), hidden=(token,))],
    )

    def test_webhooks():
        contract.check_webhooks()

What is checked: declared events are a non-empty subset of the eight; every
emitted event is a valid :class:`~msgevents.Event` of a declared type, of this
provider, with a UTC timestamp; mapping is deterministic (same ``event_id`` when
mapped twice, by a fresh provider instance); a pull with empty settings fails
with a :class:`~msgevents.ConfigError` naming the missing ``MSGEVENTS_<NAME>_…``
variables; two sequential collects of the same input deliver nothing the
second time. For webhooks (:meth:`ProviderContract.check_webhooks`): every
sample is authentic, parses to records that map like the file samples' (valid,
declared, deterministic, the same records from a fresh instance); each forgery,
the sample stripped of its headers and body, and the sample checked with any
secret setting changed are refused with :class:`~msgevents.WebhookRejected`,
whose message holds no secret setting, no credential header and no ``hidden``
string of the sample.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from msgevents.errors import ConfigError, MappingError
from msgevents.events import Event, EventType
from msgevents.plugins import validate_provider_class
from msgevents.provider import NotModelled, Provider, Record, Window, load_settings
from msgevents.testing.webhook_contract import WebhookSample, check_webhook_samples

__all__ = ["ContractFailure", "ProviderContract", "WebhookSample"]


class ContractFailure(AssertionError):
    """A provider broke the plugin contract; the message says how."""


@dataclass
class ProviderContract:
    """The contract checks for ``provider_class``, fed by sample ``inputs`` files."""

    provider_class: type[Provider]
    inputs: list[Path] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    webhooks: list[WebhookSample] = field(default_factory=list)

    def provider(self) -> Provider:
        return self.provider_class(load_settings(self.provider_class.Settings, **self.settings))

    def _records(self, provider: Provider) -> Iterator[Record]:
        for path in self.inputs:
            for page in provider.read_input(path):
                yield from page

    # -- the checks ---------------------------------------------------------------------

    def check_declarations(self) -> None:
        """Name, title, supported events ⊆ the eight (non-empty), settings, windows."""
        try:
            validate_provider_class(self.provider_class, f"provider {self.provider_class.__name__}")
        except Exception as exc:
            raise ContractFailure(str(exc)) from None
        cls = self.provider_class
        if not cls.supported_events <= set(EventType):
            raise ContractFailure(f"{cls.name}: supported_events outside the eight")
        for name in ("settle", "restatement"):
            if not isinstance(getattr(cls, name), timedelta) or getattr(cls, name) < timedelta(0):
                raise ContractFailure(f"{cls.name}: {name} must be a non-negative timedelta")
        if not cls.title:
            raise ContractFailure(f"{cls.name}: give the provider a human title")

    def check_mapping(self) -> Counter[str]:
        """Map every sample record twice; returns the count of events per type."""
        if not self.inputs:
            raise ContractFailure("check_mapping needs sample input files")
        first = self._map_all(self.provider())
        second = self._map_all(self.provider())
        if first != second:
            raise ContractFailure("mapping is not deterministic: event ids differ between two runs")
        emitted = Counter(str(event_type) for _key, event_type in first)
        if not emitted:
            raise ContractFailure("the sample inputs produced no events at all")
        return emitted

    def _map_all(self, provider: Provider) -> list[tuple[str, str]]:
        ids = []
        for record in self._records(provider):
            if record.error is not None:
                continue
            try:
                result = provider.map_record(record)
            except MappingError:
                continue
            if isinstance(result, NotModelled):
                continue
            for event in result:
                self._check_event(provider, event, record)
                ids.append((event.event_id, str(event.event)))
        return ids

    def _check_event(self, provider: Provider, event: Any, record: Record) -> None:
        where = f"record {record.source or record.data!r}"
        if not isinstance(event, Event):
            raise ContractFailure(f"{where}: map_record returned {type(event).__name__}, not an Event")
        if event.event not in provider.supported_events:
            raise ContractFailure(f"{where}: emitted undeclared event type {event.event.value!r}")
        if event.provider != provider.name:
            raise ContractFailure(f"{where}: event.provider {event.provider!r} is not {provider.name!r}")
        if event.timestamp.tzinfo is not UTC:
            raise ContractFailure(f"{where}: timestamp {event.timestamp!r} is not in UTC")
        if event.account != provider.account:
            raise ContractFailure(f"{where}: event.account {event.account!r} is not {provider.account!r}")

    def check_missing_settings(self, monkeypatch: Any) -> None:
        """A pull with empty settings fails naming the provider's missing variables."""
        cls = self.provider_class
        if not cls.streams:
            return
        prefix = cls.Settings.env_name("")
        import os

        for name in list(os.environ):
            if name.startswith(prefix):
                monkeypatch.delenv(name)
        provider = cls(load_settings(cls.Settings, _env_file=None))
        now = datetime.now(UTC)
        try:
            for _page in provider.pull(cls.streams[0], Window(now - timedelta(hours=1), now)):
                break
        except ConfigError as exc:
            if prefix not in str(exc):
                raise ContractFailure(f"the error does not name a {prefix}… variable: {exc}") from None
            return
        finally:
            provider.close()
        raise ContractFailure("pulling with empty settings did not raise ConfigError")

    def check_two_collects(self, tmp_path: Path) -> None:
        """Two collects of the samples into a feed directory: the second delivers nothing."""
        from msgevents.pipeline import CollectOptions, Collector
        from msgevents.sinks.feed import FeedSink

        if not self.inputs:
            raise ContractFailure("check_two_collects needs sample input files")
        options = CollectOptions(state_path=tmp_path / "state.db", inputs=list(self.inputs))
        first = Collector(self.provider(), FeedSink(str(tmp_path / "feed")), options).run()
        second = Collector(self.provider(), FeedSink(str(tmp_path / "feed")), options).run()
        if first.exit_code not in (0,):
            raise ContractFailure(f"the first collect ended with exit code {first.exit_code}: {first.errors}")
        if first.total("delivered") == 0:
            raise ContractFailure("the first collect delivered nothing")
        if second.total("delivered") != 0:
            raise ContractFailure(f"the second collect delivered {second.total('delivered')} events again")
        # ">=": an input may hold the same event twice (an SNS or webhook re-delivery); the first
        # run delivers it once, the second counts every copy as already delivered
        if second.total("already_delivered") < first.total("delivered"):
            raise ContractFailure("the second collect did not recognise every delivered event")

    def check_webhooks(self) -> Counter[str]:
        """Verify, parse and map every webhook sample; refuse its forgeries (module docstring).

        Returns the count of events per type the samples gave."""
        cls = self.provider_class
        if not cls.receives_webhooks():
            if self.webhooks:
                raise ContractFailure(
                    f"{cls.name}: webhook samples given, but parse_webhook is not implemented"
                )
            return Counter()
        if cls.verify_webhook is Provider.verify_webhook:
            raise ContractFailure(f"{cls.name}: parses webhooks but does not say how they are verified")
        if not self.webhooks:
            raise ContractFailure("check_webhooks needs sample webhook requests")
        return check_webhook_samples(self, self.webhooks)

    def _check_mapped(self, provider: Provider, record: Record) -> list[tuple[str, str]]:
        """The (event id, type) of one record's events, each checked like a file sample's."""
        try:
            result = provider.map_record(record)
        except MappingError:
            return []
        if isinstance(result, NotModelled):
            return []
        ids = []
        for event in result:
            self._check_event(provider, event, record)
            ids.append((event.event_id, str(event.event)))
        return ids
