"""Map: native records to canonical events (pure, by the provider); bad records to quarantine."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import ValidationError

from msgevents.errors import MappingError
from msgevents.events import Event
from msgevents.provider import NotModelled, Record
from msgevents.run.checks import Contract
from msgevents.run.context import RunContext
from msgevents.run.options import describe_validation_error
from msgevents.run.quarantine import QuarantineBook

__all__ = ["Mapper"]

log = logging.getLogger("msgevents.run")


class Mapper:
    """Maps a page of records: counts them, quarantines what cannot be mapped, counts "not modelled"."""

    def __init__(self, ctx: RunContext, quarantine: QuarantineBook, contract: Contract) -> None:
        self.ctx = ctx
        self.quarantine = quarantine
        self.contract = contract

    def __call__(self, page: Sequence[Record]) -> list[Event]:
        report = self.ctx.report
        map_record = self.ctx.provider.map_record
        accepted = self.contract.accepts
        mapped: list[Event] = []
        report.records += len(page)
        for record in page:
            if record.error is not None:
                self.quarantine.record(record, record.error)
                continue
            try:
                result = map_record(record)
            except MappingError as exc:
                self.quarantine.record(record, str(exc))
                continue
            except ValidationError as exc:
                self.quarantine.record(record, describe_validation_error(exc))
                continue
            except Exception as exc:  # a crash in mapping is a plugin bug, but the run goes on
                self.ctx.verdict.plugin_broke = True
                reason = f"plugin error in map_record: {type(exc).__name__}: {exc}"
                log.debug("map_record crashed on %s", record.source, exc_info=True)
                self.quarantine.record(record, reason, kind="contract")
                continue
            if isinstance(result, NotModelled):
                report.not_modelled[result.native_type] += 1
                continue
            for event in result:
                if accepted(event):
                    mapped.append(event)
                else:
                    mapped.extend(self.contract.checked((event,), record))
        return mapped
