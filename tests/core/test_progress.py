"""The progress line: on a terminal only, records and events per type, cleared at the end."""

from __future__ import annotations

import io

from msgevents.report import Progress, RunReport


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def report() -> RunReport:
    return RunReport(provider="fake", account="", sink="feed", destination="feeds", mode="input")


def test_progress_shows_records_and_events_per_type_on_a_terminal():
    stream = Terminal()
    progress = Progress(stream=stream, interval=0)
    run = report()
    run.records = 1500
    run.count("Message Sent", "collected", 1200)
    run.count("Message Clicked", "collected", 300)
    progress.update(run)
    shown = stream.getvalue()
    assert "1500 records" in shown
    assert "Sent=1200" in shown
    assert "Clicked=300" in shown
    progress.done()
    assert stream.getvalue().endswith("\r")  # the line is cleared, the summary follows on its own


def test_progress_writes_nothing_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream=stream, interval=0)
    run = report()
    run.records = 10
    progress.update(run)
    progress.done()
    assert stream.getvalue() == ""
