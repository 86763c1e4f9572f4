"""The end of a run: what the sink can still report, closing, the report's totals and verdict."""

from __future__ import annotations

import logging
from datetime import datetime

from msgevents.errors import IncompleteError, LockedError, MsgEventsError, PluginError
from msgevents.quarantine import QuarantineWriter
from msgevents.redact import redact
from msgevents.report import Progress
from msgevents.run.acknowledge import Acknowledger
from msgevents.run.claims import RunClaims
from msgevents.run.context import RunContext
from msgevents.timestamps import UTC

__all__ = ["finish"]

log = logging.getLogger("msgevents.run")


def finish(
    ctx: RunContext,
    quarantine: QuarantineWriter,
    progress: Progress | None,
    acknowledge: Acknowledger,
    claims: RunClaims,
    *,
    fatal: MsgEventsError | None = None,
    crashed: bool = False,
) -> None:
    """Close everything, fill in the report and record it in the state; never raises."""
    report = ctx.report
    if fatal is not None and not isinstance(fatal, LockedError) and ctx.delivering:
        assert ctx.sink is not None
        try:  # keep whatever the sink can still report (e.g. failed events to park)
            acknowledge.all(ctx.sink.poll())
        except Exception:
            log.debug("collecting outcomes after a fatal error failed", exc_info=True)
    _close(ctx)
    try:
        claims.finish()
    except Exception:
        log.debug("releasing the run's claims failed (a later run releases them)", exc_info=True)
    quarantine.close()
    if progress is not None:
        progress.done()
    _totals(ctx, quarantine)
    _verdict(ctx, fatal, crashed)
    if ctx.state is not None and not ctx.options.dry_run and report.run_id is not None:
        try:
            ctx.state.finish_run(report.run_id, report.outcome, report.exit_code, report.as_dict())
        except Exception:
            log.debug("recording the run report failed", exc_info=True)


def _close(ctx: RunContext) -> None:
    report = ctx.report
    try:
        for warning in ctx.provider.run_warnings():
            report.warn(warning)
    except Exception as exc:  # a plugin's report must not keep the run from finishing
        report.warn(f"reading the provider's warnings failed: {exc}")
    for closer in (ctx.sink.close if ctx.sink else None, ctx.provider.close):
        if closer is None:
            continue
        try:
            closer()
        except Exception as exc:
            report.warn(f"closing {closer.__self__.__class__.__name__} failed: {exc}")


def _totals(ctx: RunContext, quarantine: QuarantineWriter) -> None:
    report, sink = ctx.report, ctx.sink
    report.ended_at = datetime.now(UTC)
    if sink is not None:
        report.delivery = sink.stats.as_dict()
    stats = getattr(ctx.provider, "stats", None)
    if stats is not None:
        report.provider_http = {k: v for k, v in stats.as_dict().items() if k != "files"}
    if quarantine.path is not None:
        report.quarantine_file = str(quarantine.path)
    files = getattr(sink, "files", None)
    if files:
        report.files = [str(p) for p in files]
    if ctx.state is not None and not ctx.options.dry_run and ctx.sink_id is not None:
        report.outbox_pending = ctx.state.outbox_count(ctx.sink_id, ctx.provider.name, ctx.provider.account)


def _verdict(ctx: RunContext, fatal: MsgEventsError | None, crashed: bool) -> None:
    report, verdict = ctx.report, ctx.verdict
    if verdict.unparked:
        report.warn(
            f"{len(verdict.unparked)} events were written to a feed file that could not be finished; "
            + (
                "re-run the same --input files to deliver them"
                if report.mode in ("input", "replay")
                else "the next run reads them again"
            )
        )
    if verdict.sink_down:
        report.errors.append(f"sink: {verdict.sink_down}")
    failed = verdict.provider_failed
    if failed and not any(failed in e for e in report.errors):
        report.errors.append(failed)
    if fatal is not None:
        report.errors.append(redact(str(fatal)))
        report.conclude(type(fatal).__name__, type(fatal))
    elif crashed:
        report.crashed = True
        report.conclude("crashed")  # as the CLI exits on an internal error
    elif verdict.plugin_broke:
        report.conclude("plugin contract violated", PluginError)
    elif verdict.sink_down or failed or _left_pending(ctx) or verdict.unparked or report.file_errors:
        report.conclude("incomplete", IncompleteError)
    else:
        report.conclude("done")


def _left_pending(ctx: RunContext) -> bool:
    """Whether this run leaves events of its own undelivered.

    Events it parked are counted ``pending``. The outbox may also hold rows that another
    process added while this run went (a receiver's webhooks, a backfill part): they are
    reported in ``outbox_pending`` but are not this run's to deliver. A run that sends
    nothing (``--dry-run``) leaves every row it found.
    """
    report = ctx.report
    if not ctx.delivering:
        return bool(report.outbox_pending)
    return report.total("pending") > 0
