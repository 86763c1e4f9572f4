"""SOAP envelopes and results, without HTTP: building requests, reading rows by position, faults."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import msgevents
from msgevents_episerver.soap import SoapFault, build_envelope, parse_response, scalar, table

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def response(inner: str, extra: str = "") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:xsi="{XSI}"><soapenv:Body>'
        f'<ns1:getOpensResponse xmlns:ns1="urn:api.broadmail.de/soap11/RpcClosedLoop">{inner}'
        f"</ns1:getOpensResponse>{extra}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def test_envelope_is_rpc_encoded_with_positional_typed_parameters():
    body = build_envelope("Session", "login", [("long", 123456), ("string", "a&b<c>"), ("string", "pw")])

    envelope = ET.fromstring(body)
    call = envelope.find(f"{{{ENV}}}Body")[0]
    assert call.tag == "{urn:api.broadmail.de/soap11/RpcSession}login"
    assert call.get(f"{{{ENV}}}encodingStyle") == "http://schemas.xmlsoap.org/soap/encoding/"
    assert [(p.tag, p.get(f"{{{XSI}}}type"), p.text) for p in call] == [
        ("in0", "xsd:long", "123456"),
        ("in1", "xsd:string", "a&b<c>"),
        ("in2", "xsd:string", "pw"),
    ]


def test_envelope_is_byte_stable():
    """Cassettes match on the body: the same call gives the same bytes."""
    params = [("string", "s1"), ("long", 1), ("long", 2), ("int", 0), ("int", 1000)]
    assert build_envelope("ClosedLoop", "getOpens", params) == build_envelope(
        "ClosedLoop", "getOpens", params
    )


@pytest.mark.parametrize("outer", ["getOpensReturn", "return", "anything"])
def test_rows_are_read_by_position_whatever_the_element_names(outer):
    inner = (
        f"<{outer}><row><a>304405</a><b>987654</b><c>jane@example.com</c><d>1730716800000</d></row>"
        f'<item><x>304406</x><x xsi:nil="true"/><x>100234</x><x>1730716800001</x></item></{outer}>'
    )

    rows = table(parse_response(response(inner), "getOpens"))

    assert rows == [
        ["304405", "987654", "jane@example.com", "1730716800000"],
        ["304406", "", "100234", "1730716800001"],
    ]


def test_multiref_rows_are_followed():
    inner = '<getOpensReturn><item href="#id0"/><item href="#id1"/></getOpensReturn>'
    refs = '<multiRef id="id1"><i>b1</i><i>b2</i></multiRef><multiRef id="id0"><i>a1</i><i>a2</i></multiRef>'

    assert table(parse_response(response(inner, refs), "getOpens")) == [["a1", "a2"], ["b1", "b2"]]


def test_a_reference_to_a_missing_multiref_is_a_provider_error_not_a_crash():
    """A damaged answer is Optimizely's problem (exit 4), not a plugin bug (exit 5)."""
    inner = '<getOpensReturn><item href="#id0"/><item href="#id9"/></getOpensReturn>'
    result = parse_response(response(inner, '<multiRef id="id0"><i>a1</i></multiRef>'), "getOpens")

    with pytest.raises(msgevents.ProviderUnavailableError, match="'#id9'"):
        table(result)


def test_empty_result_is_no_rows():
    assert table(parse_response(response("<getOpensReturn/>"), "getOpens")) == []


def test_scalar_and_void_results():
    assert scalar(parse_response(response("<r> 1730716800000 </r>"), "getCurrentTime")) == "1730716800000"
    assert scalar(parse_response(response(f'<r xmlns:xsi="{XSI}" xsi:nil="true"/>'), "login")) == ""
    parse_response(response(""), "logout")  # a void answer is fine


def test_fault_is_raised_with_code_and_string():
    body = (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}"><soapenv:Body><soapenv:Fault>'
        "<faultcode>soapenv:Server</faultcode><faultstring>Session expired</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()

    with pytest.raises(SoapFault) as info:
        parse_response(body, "getOpens")

    assert (info.value.code, info.value.message) == ("soapenv:Server", "Session expired")
    assert info.value.about_session


@pytest.mark.parametrize(
    ("code", "message", "session", "credentials", "permission", "retryable"),
    [
        ("soapenv:Server", "Session abc is invalid or has expired", True, False, False, False),
        ("soapenv:Server", "Internal error: user database temporarily unavailable",
         False, False, False, True),
        ("soapenv:Server", "Login failed: invalid user name or password", False, True, False, False),
        ("soapenv:Server", "Access denied: permission INTERFACE_WEBSERVICE", False, True, True, False),
        ("soapenv:Server", "java.lang.NullPointerException", False, False, False, True),
        ("soapenv:Server.generalException", "A temporary internal error occurred, please retry",
         False, False, False, True),
        ("Server.userException", "temporary internal error, please retry", False, False, False, True),
        ("soapenv:Client", "bad mandator", False, True, False, False),
        ("soapenv:Client", "numberOfRows must be 1..1000", False, True, False, False),
        ("", "no faultcode at all", False, False, False, False),
    ],
)  # fmt: skip
def test_fault_classification(code, message, session, credentials, permission, retryable):
    fault = SoapFault(code, message)

    assert (fault.about_session, fault.about_credentials, fault.about_permission, fault.retryable) == (
        session,
        credentials,
        permission,
        retryable,
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>proxy error", "not XML"),
        (b"<a/>", "not a SOAP envelope"),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>'.encode(), "empty SOAP body"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DTD"),
    ],
)
def test_what_is_not_a_soap_answer_is_a_value_error(body, reason):
    with pytest.raises(ValueError, match=reason):
        parse_response(body, "getOpens")


def test_logout_is_sent_once_without_retries(live_emulator):
    """A courtesy call: a dead server costs one attempt at the end of a run, not a retry schedule."""
    from msgevents_episerver import EpiserverProvider, EpiserverSettings

    from .emulator import Dataset, Fault

    emulator = live_emulator(
        Dataset.generate(seed=3, mailings=1, recipients=3), [Fault.drop("logout", times=0)]
    )
    settings = {
        key.removeprefix("MSGEVENTS_EPISERVER_").lower(): value for key, value in emulator.env().items()
    }
    sleeps: list[float] = []
    provider = EpiserverProvider(EpiserverSettings(**settings), sleep=sleeps.append)
    provider.now()

    provider.close()

    assert emulator.calls() == ["login", "getCurrentTime", "logout"]
    assert sleeps == []


def test_a_session_id_is_masked_like_a_password(live_emulator):
    """Faults may quote the session ("Session … is invalid"): it never reaches output or reports."""
    from msgevents.redact import redact
    from msgevents_episerver import EpiserverProvider, EpiserverSettings

    from .emulator import Dataset

    emulator = live_emulator(Dataset.generate(seed=3, mailings=1, recipients=3))
    settings = {
        key.removeprefix("MSGEVENTS_EPISERVER_").lower(): value for key, value in emulator.env().items()
    }
    provider = EpiserverProvider(EpiserverSettings(**settings))
    provider.now()
    session_id = provider._soap_client().session_id
    assert session_id
    assert session_id not in redact(f"Session {session_id} is invalid or has expired")
    provider.close()
