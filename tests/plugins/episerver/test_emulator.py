"""The emulator itself, and the faults a cassette cannot hold, live on 127.0.0.1.

Dropped connections, sessions expiring on the server's clock, answers that are
not XML, the emulator's own strictness, its control endpoints and its
command-line mode (used by black-box CLI tests).
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import msgevents
from msgevents_episerver import EpiserverProvider, EpiserverSettings

from .emulator import Dataset, EpiserverEmulator, Fault
from .support import DAY_MS, cells_of, pull_all, window

DATASET = Dataset.generate(seed=3, mailings=2, recipients=25, malformed=0)
WHOLE_DAY = window(DAY_MS, DATASET.now_ms)
COLUMNS = ("mailing_id", "recipient_list_id", "recipient_id", "timestamp")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def provider_for(emulator: EpiserverEmulator, sleeps: list[float] | None = None, **settings):
    config = {"base_url": emulator.base_url, "client_id": emulator.client_id,
              "username": emulator.username, "password": "test-password", **settings}  # fmt: skip
    waits = sleeps if sleeps is not None else []
    return EpiserverProvider(EpiserverSettings(**config), sleep=waits.append)


def test_dropped_connection_is_retried(live_emulator):
    """The server closes the connection without answering: the page is asked for again."""
    emulator = live_emulator(DATASET, [Fault.drop("getOpens", after=1)])
    sleeps: list[float] = []
    provider = provider_for(emulator, sleeps, page_size=10)

    records, _ = pull_all(provider, "opens", WHOLE_DAY)

    assert [cells_of(r, COLUMNS) for r in records] == DATASET.expected("opens", DAY_MS, DATASET.now_ms)
    opens = [r for r in emulator.requests if r.soap_method == "getOpens"]
    assert [r.fault for r in opens[:3]] == [None, "drop", None]
    assert opens[1].params == opens[2].params
    assert len(sleeps) == 1


def test_session_expiring_on_the_server_clock_is_renewed(live_emulator):
    """The server's 20 minutes run out between pages: one new login, nothing lost."""
    clock = Clock()
    emulator = live_emulator(DATASET, clock=clock)
    provider = provider_for(emulator, page_size=10)

    pages = provider.pull("recipients", WHOLE_DAY)
    first = next(pages)
    clock.now += 20 * 60
    rest = [record for page in pages for record in page]

    assert len(first) + len(rest) == len(DATASET.recipients)
    assert emulator.calls()[:4] == ["login", "getRecipients", "getRecipients", "login"]
    assert len({r.params[0] for r in emulator.requests if r.soap_method == "getRecipients"}) == 2


def test_soap_answer_that_is_not_xml_is_a_provider_error(live_emulator):
    emulator = live_emulator(DATASET, [Fault.garbage("getCurrentTime")])

    with pytest.raises(msgevents.ProviderUnavailableError, match=r"getCurrentTime.*not XML"):
        provider_for(emulator).now()


def test_black_box_settings_from_env(live_emulator, monkeypatch):
    """What a CLI test does: the emulator's env() is all a provider needs."""
    emulator = live_emulator(DATASET)
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    settings = msgevents.load_settings(EpiserverSettings)
    provider = EpiserverProvider(settings)

    message = provider.check()
    provider.close()

    assert "getCurrentTime" in message
    assert emulator.calls() == ["login", "getCurrentTime", "GET /unsubscribes", "logout"]
    assert emulator.sessions == []


def test_passwords_are_never_kept_in_the_request_log(live_emulator):
    emulator = live_emulator(DATASET)
    provider_for(emulator).check()

    logged = repr(emulator.requests)
    assert "test-password" not in logged
    login = emulator.requests[0]
    assert login.params == [emulator.client_id, emulator.username, "********"]
    assert emulator.requests[-1].user == emulator.username


def test_emulator_rejects_what_the_contract_forbids(live_emulator):
    """Wrong parameter types, numberOfRows over 1000, limit ≥ 10000, wrong client or password."""
    emulator = live_emulator(DATASET)
    base = emulator.base_url
    soap = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body>'
        '<m:login xmlns:m="urn:api.broadmail.de/soap11/RpcSession">'
        '<in0 xsi:type="xsd:string">123456</in0><in1 xsi:type="xsd:string">u</in1>'
        '<in2 xsi:type="xsd:string">p</in2></m:login></s:Body></s:Envelope>'
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    auth = ("api-user@example.com", "test-password")

    wrong_type = requests.post(f"{base}/soap11/RpcSession", data=soap, headers=headers, timeout=5)
    too_many = requests.get(f"{base}/rest/123456/unsubscribes?limit=10000", auth=auth, timeout=5)
    other_client = requests.get(f"{base}/rest/999/unsubscribes", auth=auth, timeout=5)
    bad_password = requests.get(f"{base}/rest/123456/unsubscribes", auth=(auth[0], "x"), timeout=5)

    assert wrong_type.status_code == 500
    assert "in0 of login must be xsi:type xsd:long" in wrong_type.text
    assert too_many.status_code == 400
    assert "less than 10000" in too_many.text
    assert (other_client.status_code, bad_password.status_code) == (401, 401)
    soap_session = provider_for(emulator)._soap_client()
    soap_session.login()
    with pytest.raises(msgevents.ProviderUnavailableError, match="numberOfRows"):
        soap_session.export_rows("getOpens", DAY_MS, DATASET.now_ms, 0, 1001)


def test_rest_follows_the_published_openapi(live_emulator):
    """Own ids for transactional and confirmation mails, message nodes, mediaType lists, 3000 links."""
    dataset = Dataset.generate(seed=3, mailings=2, recipients=25, confirmation=True)
    big = sorted(dataset.campaigns)[0]
    dataset.links[big] = [{"id": n, "url": f"https://shop.example.com/{n}"} for n in range(3001)]
    emulator = live_emulator(dataset)
    root, auth = f"{emulator.base_url}/rest/123456", ("api-user@example.com", "test-password")

    def get(path: str, **params: str) -> requests.Response:
        return requests.get(root + path, params=params, auth=auth, timeout=5)

    ((mailing, mail),) = dataset.transactional.items()
    ((confirmed, confirmation),) = dataset.confirmations.items()
    transactional = get("/transactionalmail", resultView="DETAILED").json()["elements"]
    summary = get("/transactionalmail").json()["elements"]
    campaign = dataset.campaigns[big]

    assert mail != mailing
    assert transactional == [{**summary[0], "message": transactional[0]["message"]}]
    assert (transactional[0]["id"], transactional[0]["message"]["mailingId"]) == (int(mail), int(mailing))
    assert get(f"/transactionalmail/{mail}/message/tracking/links").json() == dataset.links[mailing]
    assert get(f"/transactionalmail/{mailing}/message/tracking/links").status_code == 404  # not its id
    assert get(f"/transactionalmail/{mail}").json()["message"]["mailingId"] == int(mailing)
    assert get(f"/confirmations/{confirmation}/message/tracking/links").json() == dataset.links[confirmed]
    assert [n["mailingId"] for n in get(f"/smartcampaigns/{campaign}/messages").json()] == [int(big)]
    too_many = get(f"/smartcampaigns/{campaign}/messages/{big}/tracking/links")
    assert (too_many.status_code, "maximum of 3000" in too_many.text) == (400, True)
    default = {u["mediaType"] for u in get("/unsubscribes").json()["elements"]}
    email = {u["mediaType"] for u in get("/unsubscribes", mediaType="EMAIL").json()["elements"]}
    assert (default, email) == ({"GLOBAL"}, {"EMAIL"})
    assert get("/unsubscribes", mediaType="GLOBAL").status_code == 400  # the default, not a value
    assert get("/unsubscribes", mediaType="MAIL").status_code == 400


def test_a_server_ignoring_the_detailed_view_sends_no_message_nodes(live_emulator):
    emulator = live_emulator(DATASET, detailed_lists=False)
    auth = ("api-user@example.com", "test-password")

    elements = requests.get(
        f"{emulator.base_url}/rest/123456/smartcampaigns",
        params={"resultView": "DETAILED"},
        auth=auth,
        timeout=5,
    ).json()["elements"]

    assert elements
    assert all("messages" not in e and "message" not in e for e in elements)


def test_a_share_of_soap_calls_gets_a_server_fault(live_emulator):
    """Fault.soap_fault(rate=…): a seeded share of the matching calls, with the given faultcode."""
    fault = Fault.soap_fault("getCurrentTime", "temporary internal error, please retry",
                             code="soapenv:Server.generalException", times=0, rate=0.3, seed=4)  # fmt: skip
    emulator = live_emulator(DATASET, [fault])
    provider = provider_for(emulator)

    for _ in range(40):
        provider.now()

    faulted = [r for r in emulator.requests if r.fault == "fault"]
    assert 4 <= len(faulted) <= 24
    assert all(r.soap_method == "getCurrentTime" and r.status == 500 for r in faulted)
    assert len([r for r in emulator.requests if r.soap_method == "getCurrentTime" and r.status == 200]) == 40


def test_control_endpoints(live_emulator):
    """Out-of-process tests add faults and read the request log over HTTP."""
    emulator = live_emulator(DATASET)
    control = f"{emulator.base_url}/_emulator"
    auth = ("api-user@example.com", "test-password")
    unsubscribes = f"{emulator.base_url}/rest/123456/unsubscribes"

    added = requests.post(f"{control}/faults", json={"target": "unsubscribes", "status": 503}, timeout=5)
    failed = requests.get(unsubscribes, auth=auth, timeout=5)
    passed = requests.get(unsubscribes, auth=auth, timeout=5)
    requests.post(f"{control}/faults", json={"target": "unsubscribes", "status": 500, "times": 0}, timeout=5)
    cleared = requests.delete(f"{control}/faults", timeout=5)
    after_clear = requests.get(unsubscribes, auth=auth, timeout=5)
    log = requests.get(f"{control}/requests", timeout=5).json()

    assert added.status_code == 201
    assert (failed.status_code, passed.status_code) == (503, 200)
    assert (cleared.status_code, after_clear.status_code) == (200, 200)
    assert [entry["name"] for entry in log] == ["GET /unsubscribes"] * 3
    assert [entry["status"] for entry in log] == [503, 200, 200]
    assert log[0]["fault"] == "status"


def test_expire_sessions_endpoint(live_emulator):
    emulator = live_emulator(DATASET)
    provider = provider_for(emulator)
    provider.now()
    assert len(emulator.sessions) == 1

    requests.post(f"{emulator.base_url}/_emulator/expire-sessions", timeout=5)
    provider.now()

    assert emulator.calls() == ["login", "getCurrentTime", "getCurrentTime", "login", "getCurrentTime"]


@pytest.mark.slow
def test_command_line_mode_serves_until_stopped():
    """``python emulator.py`` prints its base URL and serves the generated dataset."""
    script = Path(__file__).with_name("emulator.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--recipients", "5", "--fault", "users:status:503:1",
         "--fault", "getCurrentTime:fault:500:1:code=Server.generalException:message=please retry"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("EMULATOR_BASE_URL=http://127.0.0.1:")
        base = line.split("=", 1)[1]
        token = base64.b64encode(b"api-user@example.com:test-password").decode()
        headers = {"Authorization": f"Basic {token}"}
        first = requests.get(f"{base}/rest/123456/users/authenticated", headers=headers, timeout=5)
        second = requests.get(f"{base}/rest/123456/users/authenticated", headers=headers, timeout=5)
        session = EpiserverProvider(
            EpiserverSettings(
                base_url=base, client_id="123456", username="api-user@example.com", password="test-password"
            )
        )
        session._soap_client().login()
        body = (
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body>'
            '<m:getCurrentTime xmlns:m="urn:api.broadmail.de/soap11/RpcClosedLoop">'
            f'<in0 xsi:type="xsd:string">{session._soap_client().session_id}</in0>'
            "</m:getCurrentTime></s:Body></s:Envelope>"
        )
        fault = requests.post(
            f"{base}/soap11/RpcClosedLoop",
            data=body,
            timeout=5,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

    assert first.status_code == 503
    assert second.json()["name"] == "api-user@example.com"
    assert "<faultcode>soapenv:Server.generalException</faultcode>" in fault.text
    assert "<faultstring>please retry</faultstring>" in fault.text
