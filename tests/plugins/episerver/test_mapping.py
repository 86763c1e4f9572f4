"""Mapping of Optimizely records to canonical events: every stream, category, identity mode, error.

Pure unit tests: no HTTP, no files. Event ids are checked to be the same
whether a row came from SOAP, REST or an export file.
"""

from __future__ import annotations

import pytest

import msgevents
from msgevents import EventType, MappingError, NotModelled, Record
from msgevents.timestamps import parse_epoch_millis, parse_iso8601
from msgevents_episerver import EpiserverProvider, EpiserverSettings

MS = "1730716800123"  # 2024-11-04T10:40:00.123Z


@pytest.fixture
def make():
    """``make(**settings)`` → a provider with client id 123456 and no credentials."""

    def build(**settings) -> EpiserverProvider:
        return EpiserverProvider(EpiserverSettings(**{"client_id": "123456", **settings}))

    return build


@pytest.fixture
def provider(make) -> EpiserverProvider:
    return make()


def row(stream: str, recipient: str = "jane@example.com", **extra: str) -> Record:
    data = {"mailing_id": "304405", "recipient_list_id": "987654", "recipient_id": recipient,
            "timestamp": MS, **extra}  # fmt: skip
    return Record(stream, data, f"{stream}_test.csv:2")


def one(provider: EpiserverProvider, record: Record) -> msgevents.Event:
    (event,) = provider.map_record(record)
    return event


@pytest.mark.parametrize(
    ("stream", "event_type"),
    [
        ("recipients", EventType.SENT),
        ("opens", EventType.VIEWED),
        ("clicks", EventType.CLICKED),
        ("unsubscribes", EventType.UNSUBSCRIBED),
    ],
)
def test_each_stream_maps_to_its_event(provider, stream, event_type):
    """Row streams map to their event with mailing ids, channel, account and native type."""
    event = one(provider, row(stream))

    assert event.event is event_type
    assert event.email == "jane@example.com"
    assert event.user_id is None
    assert event.timestamp == parse_epoch_millis(int(MS))
    assert (event.message_id, event.campaign_id) == ("304405", "304405")
    assert event.channel == "Email"
    assert event.type is None
    assert (event.provider, event.account, event.native_type) == ("episerver", "123456", stream)


def test_click_carries_its_url(provider):
    """link_url becomes url; an empty one leaves the click without url."""
    with_url = one(provider, row("clicks", link_id="11", link_url=" https://shop.example.com/a "))
    without = one(provider, row("clicks", link_id="11", link_url=""))

    assert with_url.url == "https://shop.example.com/a"
    assert without.url is None


def test_url_is_only_for_clicks(provider):
    """A link_url column on another stream is not an event url."""
    assert one(provider, row("opens", link_url="https://shop.example.com/a")).url is None


@pytest.mark.parametrize(
    ("category", "event_type"),
    [("hardbounce", EventType.HARD_BOUNCED), ("softbounce", EventType.SOFT_BOUNCED),
     (" HardBounce ", EventType.HARD_BOUNCED)],
)  # fmt: skip
def test_bounce_categories_map_to_bounces(provider, category, event_type):
    """hardbounce / softbounce responses are bounces; native_type is the category."""
    event = one(provider, row("responses", category=category))

    assert event.event is event_type
    assert event.native_type == category.strip().lower()
    assert event.message_id == "304405"


@pytest.mark.parametrize("category", ["autoresponder", "unknown", "outofoffice"])
def test_other_response_categories_are_not_modelled(provider, category):
    """Autoresponders, unknown and customer-defined categories are counted, not quarantined."""
    assert provider.map_record(row("responses", category=category)) == NotModelled(category)


def test_response_without_category_is_an_error(provider):
    with pytest.raises(MappingError, match="column category is empty"):
        provider.map_record(row("responses", category=" "))


def test_message_type_and_channel_come_from_settings(make):
    """MESSAGE_TYPE fills type, CHANNEL replaces Email."""
    event = one(make(message_type="Newsletter", channel="SMS"), row("opens"))

    assert (event.type, event.channel) == ("Newsletter", "SMS")


# -- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "recipient", "user_id", "email"),
    [
        ("auto", "jane@example.com", None, "jane@example.com"),
        ("auto", "100234", "100234", None),
        ("user_id", "jane@example.com", "jane@example.com", None),
        ("user_id", "100234", "100234", None),
        ("email", "jane@example.com", None, "jane@example.com"),
    ],
)
def test_identity_modes(make, mode, recipient, user_id, email):
    """auto: '@' → email else user_id; user_id and email force one of them."""
    event = one(make(identity=mode), row("opens", recipient))

    assert (event.user_id, event.email) == (user_id, email)


def test_email_identity_rejects_a_customer_number(make):
    with pytest.raises(MappingError, match=r"recipient_id: '100234' is not an e-mail address"):
        make(identity="email").map_record(row("opens", "100234"))


def test_empty_recipient_is_an_error(provider):
    with pytest.raises(MappingError, match="column recipient_id is empty"):
        provider.map_record(row("opens", "  "))


# -- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("yesterday", r"column timestamp: epoch milliseconds expected, got 'yesterday'"),
        ("", r"column timestamp is empty"),
        ("1730716800", r"column timestamp: timestamp 1730716800 is 1970-01-21.*wrong unit"),
    ],
)
def test_bad_timestamps_name_the_column_and_value(provider, value, reason):
    with pytest.raises(MappingError, match=reason):
        provider.map_record(row("opens", timestamp=value))


def test_non_numeric_mailing_id_points_at_the_layout_setting(provider):
    """A mailing id that is not a number usually means the column layout is wrong."""
    record = row("clicks")._replace(data={**row("clicks").data, "mailing_id": "jane@example.com"})

    with pytest.raises(MappingError, match="COLUMNS_CLICKS") as info:
        provider.map_record(record)
    assert "'jane@example.com'" in str(info.value)


@pytest.mark.parametrize(
    ("fmt", "value"),
    [
        ("epoch_millis", "1730716800123"),
        ("epoch_seconds", "1730716800.123"),
        ("iso8601", "2024-11-04T11:40:00.123+01:00"),
        ("%Y-%m-%d %H:%M:%S.%f", "2024-11-04 10:40:00.123000"),
    ],
)
def test_timestamp_formats(make, fmt, value):
    """Every TIMESTAMP_FORMAT reads the same instant; strftime patterns are UTC."""
    event = one(make(timestamp_format=fmt), row("opens", timestamp=value))

    assert event.timestamp == parse_iso8601("2024-11-04T10:40:00.123Z")


def test_unsubscribe_without_mailing_is_global(provider):
    """Empty (or 0) mailing id on an unsubscribe → no message_id / campaign_id."""
    for mailing in ("", "0"):
        data = {**row("unsubscribes").data, "mailing_id": mailing}
        event = one(provider, Record("unsubscribes", data))
        assert (event.message_id, event.campaign_id) == (None, None)


def test_rest_unsubscribe_element(provider):
    """REST elements: recipientId, mailingId (a number) and ISO created."""
    element = {"recipientListId": 987654, "recipientId": "100234", "mailingId": 304405,
               "reason": "link", "created": "2024-11-04T10:40:00.123Z", "mediaType": "EMAIL"}  # fmt: skip

    event = one(provider, Record("unsubscribes", element, "GET /unsubscribes offset=0"))

    assert event.event is EventType.UNSUBSCRIBED
    assert (event.user_id, event.message_id, event.campaign_id) == ("100234", "304405", "304405")
    assert event.timestamp == parse_iso8601("2024-11-04T10:40:00.123Z")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"created": "04.11.2024"}, "field created: not an ISO 8601 timestamp"),
        ({"created": None}, "field created"),
        ({"recipientId": ""}, "field recipientId is empty"),
        ({"mailingId": "abc"}, "field mailingId: 'abc' is not a mailing id"),
    ],
)
def test_bad_rest_elements_name_the_field(provider, change, reason):
    element = {"recipientId": "100234", "mailingId": 1, "created": "2024-11-04T10:40:00Z", **change}

    with pytest.raises(MappingError, match=reason):
        provider.map_record(Record("unsubscribes", element))


def test_unknown_stream_is_an_error(provider):
    with pytest.raises(MappingError, match="unknown Optimizely stream 'bounces'"):
        provider.map_record(Record("bounces", {}))


# -- event ids --------------------------------------------------------------------------------------


def test_event_id_is_the_same_from_rest_and_from_a_file_row(provider):
    """One unsubscribe seen via REST (ISO created) and in an export file (epoch ms) → one id."""
    rest = {"recipientId": "Jane@Example.com", "mailingId": 304405, "created": "2024-11-04T10:40:00.123Z"}
    file_row = row("unsubscribes", "jane@example.com")

    assert one(provider, Record("unsubscribes", rest)).event_id == one(provider, file_row).event_id


def test_event_id_is_deterministic_and_depends_on_the_account(make):
    """Same row → same id on every call; another client id → another id."""
    record = row("clicks", link_id="11", link_url="https://shop.example.com/a")
    first, again = one(make(), record), one(make(), record)
    other = one(make(client_id="999"), record)

    assert first == again
    assert first.event_id == again.event_id
    assert other.event_id != first.event_id


def test_event_id_tells_events_apart(provider):
    """Different event type, time, recipient or url → different ids."""
    base = row("clicks", link_id="11", link_url="https://shop.example.com/a")
    variants = [
        base,
        row("opens"),
        row("clicks", timestamp="1730716800124", link_id="11", link_url="https://shop.example.com/a"),
        row("clicks", "john@example.com", link_id="11", link_url="https://shop.example.com/a"),
        row("clicks", link_id="12", link_url="https://shop.example.com/b"),
    ]
    ids = {one(provider, record).event_id for record in variants}

    assert len(ids) == len(variants)


def test_url_less_clicks_on_two_links_stay_two_events(provider):
    """One recipient, one millisecond, two links Optimizely could not resolve: two event ids."""
    first = one(provider, row("clicks", link_id="11", link_url=""))
    second = one(provider, row("clicks", link_id="12", link_url=""))
    again = one(provider, row("clicks", link_id="11", link_url=""))

    assert first.url is None
    assert second.url is None
    assert first.event_id != second.event_id
    assert again.event_id == first.event_id  # still deterministic


def test_a_click_with_url_keeps_the_core_event_id(provider):
    """Only URL-less clicks put the link id into the id: resolved clicks keep the documented hash."""
    event = one(provider, row("clicks", link_id="11", link_url="https://shop.example.com/a"))
    no_link = one(provider, row("clicks", link_id="", link_url=""))

    expected = msgevents.compute_event_id(
        "episerver", "123456", EventType.CLICKED, "jane@example.com", "304405", "https://shop.example.com/a",
        parse_epoch_millis(int(MS)),
    )  # fmt: skip
    assert event.event_id == expected
    assert no_link.event_id == msgevents.compute_event_id(
        "episerver",
        "123456",
        EventType.CLICKED,
        "jane@example.com",
        "304405",
        None,
        parse_epoch_millis(int(MS)),
    )


def test_account_is_empty_without_a_client_id():
    """--input runs without a client id: account "" (events still map)."""
    provider = EpiserverProvider(EpiserverSettings())

    assert provider.account == ""
    assert one(provider, row("opens")).account == ""
