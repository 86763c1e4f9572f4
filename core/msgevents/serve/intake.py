"""One provider's side of the receiver: authenticate a request, then map and check its records.

:meth:`Intake.authenticate` runs in a worker thread (a provider's verification may do
I/O, e.g. fetch an SNS signing certificate): the provider's ``verify_webhook``, then its
``parse_webhook``. :meth:`Intake.process` runs in the committer thread, which owns the
state connection: the records go through the same stages as a collection run's
(:class:`~msgevents.run.mapping.Mapper`, :class:`~msgevents.run.checks.Checks`, the
quarantine book), nothing copied. Quarantine keys are deferred to the committer's
group transaction (:class:`~msgevents.run.quarantine.QuarantineBook` with ``defer``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgevents.errors import MappingError
from msgevents.events import Event
from msgevents.identity import IdentityStep
from msgevents.json_values import exact_loads
from msgevents.processing import Processor
from msgevents.provider import Provider, Record
from msgevents.quarantine import QuarantineWriter
from msgevents.report import RunReport
from msgevents.run.checks import Checks, Contract
from msgevents.run.context import RunContext
from msgevents.run.mapping import Mapper
from msgevents.run.options import CollectOptions
from msgevents.run.origins import WEBHOOK
from msgevents.run.quarantine import QuarantineBook
from msgevents.state import StateStore
from msgevents.values import WebhookRequest

__all__ = ["Intake", "Taken", "masked_body"]

log = logging.getLogger("msgevents.serve")

MASK = "********"
#: Header names whose values authenticate a request; never logged, masked in a quarantined body.
_SECRET_HEADER = re.compile(r"signature|token|secret|auth|key", re.IGNORECASE)
#: Keys of a JSON body that carry a signature or token (Mailgun's ``signature`` object).
_SECRET_KEYS = frozenset({"signature", "token", "secret"})


@dataclass
class Taken:
    """What became of one request's records, for its answer and the metrics."""

    events: list[Event] = field(default_factory=list)
    quarantined: int = 0
    not_modelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "accepted": len(self.events),
            "quarantined": self.quarantined,
            "not_modelled": self.not_modelled,
        }


class Intake:
    """The webhook stages of one provider: verify and parse, then map, check and quarantine."""

    def __init__(
        self,
        provider: Provider,
        *,
        state_path: Path | str,
        quarantine_dir: Path,
        identity_file: Path | None = None,
        processors: Sequence[tuple[str, Processor]] = (),
    ) -> None:
        self.provider = provider
        self.name = provider.name
        self.ctx = ctx = RunContext(provider, None, CollectOptions(state_path=state_path), self._report())
        self.writer = QuarantineWriter(quarantine_dir, provider.name)
        self.book = QuarantineBook(ctx, self.writer, defer=True)
        contract = Contract(ctx, self.book)
        self.identity = IdentityStep.for_provider(provider.settings, identity_file, log.warning)
        self.map = Mapper(ctx, self.book, contract)
        self.check = Checks(ctx, self.book, contract, self.identity, processors)

    def _report(self) -> RunReport:
        provider = self.provider
        return RunReport(
            provider=provider.name, account=provider.account, sink="", destination="", mode="webhook"
        )

    def attach(self, state: StateStore) -> None:
        """Give the stages the committer's state connection; check the identity file."""
        self.ctx.state = state
        self.writer.prepare()
        self.identity.check()

    # -- worker thread ------------------------------------------------------------------

    def authenticate(self, request: WebhookRequest) -> list[Record]:
        """Verify, then parse: the request's native records.

        Raises :class:`~msgevents.errors.WebhookRejected` (not authentic) and
        :class:`~msgevents.errors.ConfigError` (a secret is not set). An authentic body the
        provider cannot read (:class:`~msgevents.errors.MappingError`) comes back as one
        record with ``error`` set, holding the body: it is quarantined whole.
        """
        self.provider.verify_webhook(request)
        try:
            return list(self.provider.parse_webhook(request))
        except MappingError as exc:
            data = {"content_type": request.content_type, "body": masked_body(request)}
            return [Record("webhook", data, f"POST {_path(request.url)}", f"unreadable webhook body: {exc}")]

    # -- committer thread -----------------------------------------------------------------

    def process(self, records: Sequence[Record]) -> Taken:
        """Map and check the records of one request; bad ones are quarantined (lines written)."""
        report = self.ctx.report = self._report()
        lines = self.writer.count
        events = self.check(WEBHOOK, self.map(records)) if records else []
        # lines written now; a bad record a retry brings again was quarantined by the first
        return Taken(events, self.writer.count - lines, sum(report.not_modelled.values()))

    def close(self) -> None:
        self.writer.close()


def _path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1].split("?", 1)[0] if "/" in rest else "/"


def masked_body(request: WebhookRequest) -> Any:
    """The body as kept in quarantine: parsed JSON when it is JSON, else text; the values of
    signature and token keys, and any authenticating header's value, masked."""
    text = request.body.decode("utf-8", "backslashreplace")
    for name, value in request.headers.items():
        if _SECRET_HEADER.search(name) and len(value) >= 4:
            text = text.replace(value, MASK)
    try:
        return _mask_keys(exact_loads(text))  # a big integer kept exact, as the file reader keeps it
    except ValueError:
        return text


def _mask_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_masked(v) if k in _SECRET_KEYS else _mask_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v) for v in value]
    return value


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return MASK if value not in (None, "") else value
