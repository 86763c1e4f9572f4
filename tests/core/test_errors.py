"""Every error carries the exit code a run ends with; a run report's verdict names one."""

from __future__ import annotations

import pytest

from msgevents.errors import (
    AuthError,
    ConfigError,
    IncompleteError,
    InputFileError,
    LockedError,
    MsgEventsError,
    PluginError,
    UnknownProviderError,
)
from msgevents.report import RunReport


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MsgEventsError, 1),
        (ConfigError, 2),
        (UnknownProviderError, 2),
        (AuthError, 3),
        (IncompleteError, 4),
        (InputFileError, 4),
        (PluginError, 5),
        (LockedError, 6),
    ],
)
def test_each_error_carries_its_exit_code(error, code):
    assert error.exit_code == code


def test_a_report_exits_with_its_verdicts_code():
    report = RunReport(provider="fake", account="", sink="feed", destination="d", mode="input")
    report.conclude("done")
    assert report.exit_code == 0
    report.conclude("incomplete", IncompleteError)
    assert (report.exit_code, report.as_dict()["outcome"]) == (4, "incomplete")
    report.conclude("plugin contract violated", PluginError)
    assert report.as_dict()["exit_code"] == 5
    report.crashed = True
    assert report.exit_code == 1
