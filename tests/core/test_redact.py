"""Redaction (``msgevents.redact``): masking registered secrets in text and in log records.

Covers :func:`redact` (every occurrence, overlapping secrets, too-short values
ignored) and :class:`RedactingFilter` on a real logging handler: the message,
its ``%`` arguments and the text of a logged exception.
"""

from __future__ import annotations

import io
import logging

import pytest

from msgevents.redact import MASK, RedactingFilter, add_secret, redact, secrets_known


@pytest.fixture
def log_output(secrets):
    """A logger whose handler carries the filter; returns (logger, buffer)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("msgevents.tests.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)


def test_nothing_registered_leaves_text_alone(secrets):
    assert redact("api_key=abcdef") == "api_key=abcdef"
    assert secrets_known() == frozenset()


def test_every_occurrence_is_masked(secrets):
    add_secret("abcdef123")
    assert redact("key abcdef123, again abcdef123!") == f"key {MASK}, again {MASK}!"
    assert secrets_known() == {"abcdef123"}


def test_a_secret_inside_another_is_masked_whole(secrets):
    add_secret("pass")
    add_secret("password-1234")
    assert redact("u:password-1234 p:pass") == f"u:{MASK} p:{MASK}"
    assert "1234" not in redact("password-1234")


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_empty_and_too_short_values_are_not_registered(secrets, value):
    add_secret(value)
    assert secrets_known() == frozenset()
    assert redact("abc and more") == "abc and more"


def test_redact_of_empty_text(secrets):
    add_secret("abcdef")
    assert redact("") == ""


def test_log_messages_and_arguments_are_masked(log_output):
    logger, buffer = log_output
    add_secret("tok-9f8e7d")
    logger.info("calling %s with token=%s", "https://api.example/x", "tok-9f8e7d")
    logger.warning("token tok-9f8e7d in the message itself")
    logger.info("nothing secret here: %d", 42)
    assert buffer.getvalue().splitlines() == [
        f"INFO calling https://api.example/x with token={MASK}",
        f"WARNING token {MASK} in the message itself",
        "INFO nothing secret here: 42",
    ]


def test_exception_text_is_masked(log_output):
    logger, buffer = log_output
    add_secret("hunter2-secret")
    try:
        raise RuntimeError("login refused for password hunter2-secret")
    except RuntimeError:
        logger.exception("login failed")
    output = buffer.getvalue()
    assert "hunter2-secret" not in output
    assert f"RuntimeError: login refused for password {MASK}" in output
    assert "Traceback" in output
    assert output.startswith("ERROR login failed")


def test_the_filter_never_drops_records(log_output):
    logger, buffer = log_output
    logger.debug("plain")  # no secrets registered at all
    add_secret("abcdef")
    logger.debug("abcdef")
    assert buffer.getvalue().splitlines() == ["DEBUG plain", f"DEBUG {MASK}"]
