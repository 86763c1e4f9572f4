"""The REST side of the Optimizely emulator, written from Optimizely's published OpenAPI.

The document is served at https://api.campaign.episerver.net/rest/openapi.json; what
this module follows from it (paths after ``/rest/{clientId}``):

- ``GET /unsubscribes`` (``selectUnsubscribes``): ``offset``, ``limit`` (< 10000),
  ``sort`` ∈ id, reason, recipientListId, mailingId, created; ``direction`` ASC/DESC;
  ``mediaType`` ∈ EMAIL, FAX, SMS, LETTER, PUSH, PRINT, and without it the default
  ``GLOBAL`` list (anything else: 400).
- ``GET /smartcampaigns``, ``/transactionalmail``, ``/confirmations`` (``selectSmartCampaigns``,
  ``selectTransactionalCampaigns``, ``selectConfirmationMailings``): ``RestSmartCampaign``
  elements with their *own* ids; ``resultView=DETAILED`` adds the message nodes
  (``messages`` for a Smart Campaign, ``message`` for the others; a
  ``RestMessageNode`` carries the ``mailingId``). ``detailed=False`` plays a server that
  ignores ``resultView`` and never sends nodes.
- ``GET /smartcampaigns/{campaignId}/messages`` (``getMessages``): the campaign's
  ``RestMessageNode`` list; ``GET /transactionalmail/{id}`` and ``/confirmations/{id}``:
  one element with its ``message`` node.
- Tracking links (``getTrackingLinks*``): ``/smartcampaigns/{campaignId}/messages/{mailingId}/
  tracking/links``, ``/transactionalmail/{transactionalMailId}/message/tracking/links``,
  ``/confirmations/{confirmationMailId}/message/tracking/links``: a ``RestTrackingLink``
  list; 400 "The number of tracking links exceeded the maximum of 3000."; an unknown
  id: 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["KINDS", "MAX_LINKS", "MEDIA_TYPES", "answer", "route_of"]

#: The three lists of mailings, and what their elements are called in a path.
KINDS = ("smartcampaigns", "transactionalmail", "confirmations")
MEDIA_TYPES = ("EMAIL", "FAX", "SMS", "LETTER", "PUSH", "PRINT")
MAX_LINKS = 3000
_TYPES = {"smartcampaigns": "regular", "transactionalmail": "event", "confirmations": "confirmation"}
_SORTS = ("id", "name", "description", "status", "created", "modified", "started", "finished")
DAY_MS = 1_730_678_400_000
HOUR_MS = 3_600_000


class _BadQuery(Exception):
    """A REST query the real API answers with 400."""


def route_of(parts: list[str]) -> str:
    """The fault target of a REST path (after ``/rest/{clientId}``)."""
    if parts in (["unsubscribes"], *([kind] for kind in KINDS)):
        return parts[0]
    if parts == ["users", "authenticated"]:
        return "users"
    if parts[-2:] == ["tracking", "links"]:
        return "tracking_links"
    if len(parts) == 3 and parts[0] == "smartcampaigns" and parts[2] == "messages":
        return "messages"
    if len(parts) == 2 and parts[0] in KINDS:
        return "mailing"
    return "other"


def answer(dataset: Any, parts: list[str], query: dict[str, list[str]], *, detailed: bool) -> tuple[int, Any]:
    """Status and JSON body of ``GET /rest/{clientId}/<parts>``."""
    try:
        if parts == ["unsubscribes"]:
            return _unsubscribes_page(dataset, query)
        if len(parts) == 1 and parts[0] in KINDS:
            return _mailing_list(dataset, parts[0], query, detailed)
        if len(parts) == 3 and parts[0] == "smartcampaigns" and parts[2] == "messages":
            held = owners(dataset, "smartcampaigns").get(parts[1])
            return (200, [_node(m) for m in held]) if held else (404, {"error": "campaign not found"})
        if len(parts) == 2 and parts[0] in KINDS and parts[0] != "smartcampaigns":
            held = owners(dataset, parts[0]).get(parts[1])
            if not held:
                return 404, {"error": "mailing not found"}
            return 200, _element(parts[0], parts[1], held, detailed=True)
        if parts[-2:] == ["tracking", "links"]:
            return _tracking_links(dataset, parts)
    except _BadQuery as exc:
        return 400, {"error": str(exc)}
    return 404, {"error": "not found"}


def owners(dataset: Any, kind: str) -> dict[str, list[str]]:
    """Owner id (campaign / transactional mail / confirmation id) → its mailing ids."""
    source = {"smartcampaigns": dataset.campaigns, "transactionalmail": dataset.transactional,
              "confirmations": dataset.confirmations}[kind]  # fmt: skip
    held: dict[str, list[str]] = {}
    for mailing, owner in source.items():
        held.setdefault(owner, []).append(mailing)
    return {owner: sorted(mailings) for owner, mailings in held.items()}


def _paging(query: dict[str, list[str]], sorts: tuple[str, ...]) -> tuple[int, int, str, str]:
    """``offset``, ``limit`` (< 10000), ``sort`` (one of ``sorts``) and ``direction`` of a list query."""

    def one(name: str, default: str) -> str:
        return query.get(name, [default])[0]

    try:
        offset, limit = int(one("offset", "0")), int(one("limit", "100"))
    except ValueError:
        raise _BadQuery("offset and limit must be integers") from None
    if limit >= 10000 or limit < 1 or offset < 0:
        raise _BadQuery("Invalid limit request. Change the limit to less than 10000.")
    sort, direction = one("sort", "created"), one("direction", "ASC")
    if sort not in sorts:
        raise _BadQuery(f"invalid sort {sort!r}")
    if direction not in ("ASC", "DESC"):
        raise _BadQuery(f"invalid direction {direction!r}")
    return offset, limit, sort, direction


def _unsubscribes_page(dataset: Any, query: dict[str, list[str]]) -> tuple[int, Any]:
    offset, limit, sort, direction = _paging(
        query, ("id", "reason", "recipientListId", "mailingId", "created")
    )
    media = query.get("mediaType", ["GLOBAL"])[0]
    if media != "GLOBAL" and media not in MEDIA_TYPES:  # GLOBAL: the default, never sent
        raise _BadQuery(f"invalid mediaType {media!r}; one of {', '.join(MEDIA_TYPES)}")
    if "mediaType" in query and media == "GLOBAL":
        raise _BadQuery("invalid mediaType 'GLOBAL' (it is the default: leave mediaType out)")
    elements = [u for u in dataset.unsubscribes if u.get("mediaType", "GLOBAL") == media]
    elements.sort(key=lambda u: (u.get(sort) is None, u.get(sort) or 0))
    if direction == "DESC":
        elements.reverse()
    page = elements[offset : offset + limit]
    return 200, {"elements": page, "count": len(page), "offset": offset, "limit": limit}


def _node(mailing: str) -> dict[str, Any]:
    return {"nodeId": f"n{mailing}", "mailingId": int(mailing), "name": f"mailing {mailing}",
            "mediaType": "email", "status": "finished"}  # fmt: skip


def _element(kind: str, owner: str, mailings: list[str], *, detailed: bool) -> dict[str, Any]:
    element: dict[str, Any] = {
        "id": int(owner), "name": f"{kind} {owner}", "status": "finished", "type": _TYPES[kind],
        "created": _iso(DAY_MS - int(owner) % 1000 * HOUR_MS),
    }  # fmt: skip
    if detailed and kind == "smartcampaigns":
        element["messages"] = [_node(m) for m in mailings]
    elif detailed:
        element["message"] = _node(mailings[0])
    return element


def _mailing_list(dataset: Any, kind: str, query: dict[str, list[str]], detailed: bool) -> tuple[int, Any]:
    offset, limit, sort, direction = _paging(query, _SORTS)
    view = query.get("resultView", ["SUMMARY"])[0]
    if view not in ("SUMMARY", "DETAILED"):
        raise _BadQuery(f"invalid resultView {view!r}")
    nodes = detailed and view == "DETAILED"
    elements = [_element(kind, owner, held, detailed=nodes) for owner, held in owners(dataset, kind).items()]
    key = "id" if sort == "id" else "created"
    elements.sort(key=lambda e: e[key], reverse=direction == "DESC")
    page = elements[offset : offset + limit]
    return 200, {"elements": page, "count": len(page), "offset": offset, "limit": limit}


def _tracking_links(dataset: Any, parts: list[str]) -> tuple[int, Any]:
    kind, owner = parts[0], parts[1]
    if kind not in KINDS:
        return 404, {"error": "not found"}
    held = owners(dataset, kind).get(owner, [])
    if kind == "smartcampaigns" and len(parts) == 6 and parts[2] == "messages":
        mailing = parts[3] if parts[3] in held else None
    elif kind != "smartcampaigns" and len(parts) == 5 and parts[2] == "message":
        mailing = held[0] if held else None
    else:
        mailing = None
    if mailing is None:
        return 404, {"error": "mailing not found"}
    links = dataset.links.get(mailing, [])
    if len(links) > MAX_LINKS:
        return 400, {"error": "The number of tracking links exceeded the maximum of 3000."}
    return 200, links


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
