"""The receiver's parts put together: providers, intakes, committer, delivery loop, lock.

:class:`Service` is built from a :class:`ServeConfig` and started once (by the CLI before
the server listens, so a second receiver or a bad setting exits with its code; or by
the application's lifespan startup under an operator's own process manager). Stopping
commits what is queued, drains the outbox for a bounded time and releases the lock.

A provider whose webhook secret is missing: named with ``--provider`` (or
``MSGEVENTS_SERVE_PROVIDERS``) it stops the start with a configuration error naming
the variable (exit 2); found by discovery it is still routed, a warning is logged at
start, and its requests are answered ``500`` naming the variable (the provider
retries, so nothing is lost once the secret is set).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from msgevents.errors import ConfigError
from msgevents.lock import RunLock
from msgevents.plugins import Registry, list_providers, load_general_plugins, load_provider
from msgevents.provider import Provider
from msgevents.redact import redact
from msgevents.serve.committer import Committer
from msgevents.serve.delivery import DeliveryLoop
from msgevents.serve.intake import Intake
from msgevents.serve.metrics import Metrics
from msgevents.serve.settings import ServeSettings
from msgevents.sink import Sink
from msgevents.state import StateStore
from msgevents.state.location import is_postgres, local_directory
from msgevents.timestamps import UTC
from msgevents.values import WebhookRequest

__all__ = ["ServeConfig", "Service"]

log = logging.getLogger("msgevents.serve")


@dataclass
class ServeConfig:
    """Everything a receiver needs: where the state is, the sink, which providers, the settings."""

    state_path: Path | str  # a state file, or a postgresql:// URL
    sink_spec: str
    providers: list[str] = field(default_factory=list)  # empty: every installed one with webhooks
    settings: ServeSettings = field(default_factory=ServeSettings)
    identity_file: Path | None = None
    ledger_retention: timedelta = timedelta(days=90)


class Service:
    """Builds and runs the receiver's parts; :attr:`routes` maps provider names and aliases to intakes."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.settings = config.settings
        self.metrics = Metrics()
        self.routes: dict[str, Intake] = {}
        self.unconfigured: dict[str, str] = {}  # provider -> the missing setting's message
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="msgevents-verify")
        self.committer: Committer | None = None
        self.delivery: DeliveryLoop | None = None
        self.sink_key = ""
        self.started = False
        self.stopping = False
        # one receiver per state file; on a PostgreSQL state receivers run as replicas (each
        # commits before it answers, and delivery takes the lock of each (provider, account))
        self._lock = (
            None
            if is_postgres(config.state_path)
            else RunLock(Path(config.state_path), "serve", "", doing="serving webhooks")
        )

    @property
    def quarantine_dir(self) -> Path:
        return local_directory(self.config.state_path) / "quarantine"

    def start(self) -> None:
        """Lock the state, load providers and sink, open the state, start the threads.

        Raises :class:`~msgevents.errors.LockedError` (another receiver on this state) and
        :class:`~msgevents.errors.ConfigError`; nothing is left running when it raises.
        """
        if self.started:
            return
        if self._lock is not None:
            self._lock.acquire()
        try:
            self._start()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise
        self.started = True

    def _start(self) -> None:
        from msgevents.assemble import make_sink  # the sink exactly as collect builds it

        config = self.config
        registry = Registry()
        providers = self._providers()
        load_general_plugins(registry)
        first: list[Sink] = [make_sink(config.sink_spec, registry, required=True)]  # type: ignore[list-item]
        self.sink_key = first[0].key

        def make() -> Sink:
            if first:
                return first.pop()
            return make_sink(config.sink_spec, Registry(), required=True)  # type: ignore[return-value]

        intakes = []
        for provider in providers:
            intake = Intake(
                provider,
                state_path=config.state_path,
                quarantine_dir=self.quarantine_dir,
                identity_file=config.identity_file,
                processors=registry.processors,
            )
            intakes.append(intake)
            for name in (provider.name, *provider.aliases):
                self.routes[name] = intake
        settings = self.settings
        self.delivery = DeliveryLoop(
            config.state_path,
            make,
            providers,
            quarantine_dir=self.quarantine_dir,
            batch_size=settings.batch_size,
            batch_age=settings.batch_age,
            retry_max=settings.retry_max,
            ledger_retention=config.ledger_retention,
            on_outcome=self.metrics.count,
        )
        self.committer = Committer(
            config.state_path,
            self.sink_key,
            group=settings.commit_group,
            on_commit=self.delivery.notify,
            on_group=self.metrics.group.observe,
        )
        self.committer.start(intakes)
        self.delivery.start(self.sink_key)
        log.info(
            "receiving webhooks for %s; delivering to %s",
            ", ".join(sorted({i.name for i in intakes})),
            first[0].description if first else config.sink_spec,
        )

    def _providers(self) -> list[Provider]:
        """The providers to receive: those named, or every installed one that receives webhooks."""
        from msgevents.assemble import make_provider  # settings loaded, secrets registered for redaction

        named = list(self.config.providers)
        names = named or [listing.name for listing in list_providers() if listing.status == "ok"]
        providers = []
        for name in names:
            cls = load_provider(name, Registry())
            if not cls.receives_webhooks():
                if named:
                    raise ConfigError(
                        f"provider {name!r} does not receive webhooks (it has no parse_webhook)"
                    )
                continue
            provider = make_provider(name, Registry())
            missing = _missing_secret(provider)
            if missing is not None:
                if named:
                    raise ConfigError(f"provider {name!r} cannot verify webhooks: {missing}")
                log.warning("webhooks of %r are answered 500 until set: %s", name, missing)
                self.unconfigured[provider.name] = missing
            providers.append(provider)
        if not providers:
            raise ConfigError(
                "no installed provider receives webhooks; install one (e.g. plugins/mailgun) "
                "or name it with --provider"
            )
        return providers

    def stop(self) -> None:
        """Commit what is queued, drain the outbox for at most the drain timeout, unlock."""
        if not self.started:
            return
        self.stopping = True
        if self.committer is not None:
            self.committer.stop()
        if self.delivery is not None:
            drained = self.delivery.stop(self.settings.drain_timeout)
            if not drained:
                log.warning(
                    "the outbox was not drained in %.0f s; the next start sends the rest",
                    self.settings.drain_timeout,
                )
        self.pool.shutdown(wait=False, cancel_futures=True)
        for provider in {intake.provider for intake in self.routes.values()}:
            try:
                provider.close()
            except Exception as exc:
                log.warning("closing provider %r failed: %s", provider.name, redact(str(exc)))
        if self._lock is not None:
            self._lock.release()
        self.started = False

    def outbox_probe(self) -> tuple[int, float]:
        """Events waiting for the sink and the age of the oldest (seconds), read on a fresh
        read-only connection (called from a worker thread)."""
        store = StateStore.open_readonly(self.config.state_path)
        try:
            sink_id = store.sink_id(self.sink_key)
            depth = store.outbox_count(sink_id)
            oldest = store.outbox_oldest(sink_id)
        finally:
            store.close()
        lag = 0.0 if oldest is None else max(0.0, datetime.now(UTC).timestamp() - oldest)
        return depth, lag


def _missing_secret(provider: Provider) -> str | None:
    """Ask the provider to verify an empty request: a missing secret shows as a ConfigError."""
    probe = WebhookRequest("POST", "http://localhost/", {}, b"", datetime.now(UTC))
    try:
        provider.verify_webhook(probe)
    except ConfigError as exc:
        return redact(str(exc))
    except Exception:  # rejected (the secret is there) or the empty body upset it: not our question
        return None
    return None
