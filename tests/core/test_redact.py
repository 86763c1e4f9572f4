"""Redaction (``msgevents.redact``): masking registered secrets in text and in log records.

Covers :func:`redact` (every occurrence, overlapping secrets, too-short values
ignored) and :class:`RedactingFilter` on a real logging handler: the message,
its ``%`` arguments and the text of a logged exception.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from msgevents.redact import MASK, RedactingFilter, add_secret, excerpt, redact, redact_value, secrets_known


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


# -- derived forms: what a server echoing a request shows ------------------------------------------

PASSWORD = "s3cr/t pa$$+wörd"
USER = "api-user@example.com"


def _b64(text: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(text.encode()).decode()


@pytest.mark.parametrize("prefix", ["", "u", "us", "user", "api", USER, "a:b:c"])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_base64_of_any_text_holding_the_secret_is_masked_whole(secrets, prefix, urlsafe):
    add_secret(PASSWORD)  # only the password is registered, not the user
    token = _b64(f"{prefix}:{PASSWORD}", urlsafe=urlsafe)
    text = redact(f'echo: {{"authorisation-ish": "{token}", "next": 1}}')
    assert token not in text
    assert text == f'echo: {{"authorisation-ish": "{MASK}", "next": 1}}'  # no edge character left


def test_mailgun_style_api_key_in_basic_auth_is_masked(secrets):
    key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    add_secret(key)
    header = "Basic " + _b64(f"api:{key}")
    assert redact(f"X-Echo: {header}") == f"X-Echo: Basic {MASK}"


@pytest.mark.parametrize(
    "form",
    [
        quote(PASSWORD, safe=""),
        quote(PASSWORD),
        quote_plus(PASSWORD),
        quote(PASSWORD, safe="").lower(),
        json.dumps(PASSWORD)[1:-1],
        json.dumps(PASSWORD, ensure_ascii=False)[1:-1],
    ],
)
def test_url_encoded_and_json_escaped_forms_are_masked(secrets, form):
    add_secret(PASSWORD)
    assert redact(f"GET /login?password={form}&x=1") == f"GET /login?password={MASK}&x=1"


@pytest.mark.parametrize(
    "echo",
    [
        "Authorization: Basic dW5rbm93bjpjcmVkZW50aWFscw==\r\nHost: x",
        "{'Authorization': 'Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl', 'Host': 'x'}",
        '{"authorization":"Token abc123def456", "Host": "x"}',
        "proxy-authorization = basic Zm9vOmJhcg",
    ],
)
def test_an_echoed_authorization_header_is_masked_even_when_not_registered(secrets, echo):
    masked = redact(echo)
    assert MASK in masked
    for credential in ("dW5rbm93bjpjcmVkZW50aWFscw==", "eyJhbGciOi", "abc123def456", "Zm9vOmJhcg"):
        assert credential not in masked
    assert "Host" in masked or masked.startswith("proxy-authorization = ")  # the rest is kept


def test_a_short_secret_is_masked_in_the_exact_base64_registered(secrets):
    add_secret("ab:cdef")  # 7 characters: too short for base64 runs, masked by its exact encoding
    assert redact("token " + _b64("ab:cdef")) == f"token {MASK}"


def test_ordinary_base64_is_left_alone(secrets):
    add_secret(PASSWORD)
    unrelated = _b64("some other text entirely, not a secret")
    assert redact(f"id {unrelated} end") == f"id {unrelated} end"


def test_redact_value_masks_inside_json_data(secrets):
    add_secret('quote"and\\slash')
    data = {"errors": ['server said: quote"and\\slash'], 'quote"and\\slash': 3, "n": 12345, "ok": True}
    assert redact_value(data) == {"errors": [f"server said: {MASK}"], MASK: 3, "n": 12345, "ok": True}
    assert 'quote"and' not in json.dumps(redact_value(data))


def test_http_client_registers_the_credentials_it_sends(secrets):
    from msgevents.http import HttpClient

    HttpClient("t", auth=("someone", "hunter22-long"), headers={"X-Api-Token": "Bearer tok-abcdef-123"})
    assert {"hunter22-long", "someone:hunter22-long", "Bearer tok-abcdef-123", "tok-abcdef-123"} <= secrets
    assert redact("Basic " + _b64("someone:hunter22-long")) == f"Basic {MASK}"


def test_an_excerpt_masks_before_it_cuts(secrets):
    key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
    add_secret(key)
    body = "x" * 290 + f" {key} and more"
    cut = excerpt(body, 300)
    assert key[:4] not in cut  # cutting first would have left 'key-3ax6x' unmasked
    assert cut == ("x" * 290 + f" {MASK} and more")[:300]
    assert excerpt(f"  {key}\n", 100) == MASK
