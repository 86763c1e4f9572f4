"""One CrossEngage ``POST /events`` request and what its answer means for the sink.

:class:`CrossEngageApi` owns the HTTP side (one pooled, paced session; retries
with backoff by :class:`msgevents.HttpClient`) and classifies every answer into
an :class:`Answer`; the sink (:mod:`msgevents.sinks.crossengage`) turns answers
into outcomes:

- any 2xx (CrossEngage answers 202): delivered;
- 400/413/422 (:data:`REJECT_STATUSES`): about the content, answered with the
  response text, so the sink can isolate the offending events;
- retries exhausted, 401/403 (``auth_error``) and any other status: no usable
  answer, and ``stop`` says why nothing more should be sent this run (a wrong
  base URL is named by its variable, the key never).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from msgevents import __version__
from msgevents.events import Event
from msgevents.http import HttpClient, RetriesExhaustedError, RetryPolicy, StatsSink
from msgevents.redact import excerpt, redact
from msgevents.sinks.crossengage_settings import API_KEY_ENV, ENV_PREFIX, CrossEngageSettings
from msgevents.sinks.pacing import TokenBucket, paced_session

__all__ = ["REJECT_STATUSES", "Answer", "CrossEngageApi", "rejection_reason"]

CONNECT_TIMEOUT = 10.0
#: Statuses answered to the content of a request: isolate the offending events.
REJECT_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True)
class Answer:
    """What one POST came to: ``status`` is None when it got no usable answer."""

    status: int | None
    detail: str = ""  # the response text of a rejection, or why there was no usable answer
    ambiguous: bool = False  # an attempt's outcome was unknowable: a retry may be a duplicate
    stop: str | None = None  # why nothing more should be sent this run
    auth_error: bool = False  # CrossEngage refused the key

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class CrossEngageApi:
    """The events endpoint of one tenant: sends request bodies and classifies the answers."""

    def __init__(
        self,
        settings: CrossEngageSettings,
        api_key: str,
        *,
        stats: StatsSink,
        sleep: Callable[[float], None],
    ) -> None:
        self.url = f"{settings.base_url}/events"
        self.bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self.http = HttpClient(
            name="crossengage",
            timeout=(CONNECT_TIMEOUT, settings.timeout),
            retry=RetryPolicy(attempts=settings.retries),
            pool_size=settings.concurrency,
            stats=stats,
            headers={
                "X-XNG-AuthToken": api_key,
                "X-XNG-ApiVersion": "1",
                "Content-Type": "application/json",
                "User-Agent": f"msgevents/{__version__}",
            },
            sleep=sleep,
            session=paced_session(self.url, self.bucket),
            stateless=True,  # no cookies; the environment was read once by paced_session
        )

    def post(self, body: dict[str, Any]) -> Answer:
        """POST one body (retrying what is retryable) and classify the answer."""
        try:
            response = self.http.request("POST", self.url, data=orjson.dumps(body), allow_redirects=False)
        except RetriesExhaustedError as exc:
            return Answer(None, redact(str(exc)), exc.ambiguous, stop=str(exc))
        ambiguous = bool(getattr(response, "ambiguous", False))
        status = response.status_code
        if 200 <= status < 300:
            return Answer(status, "", ambiguous)
        text = excerpt(response.text, 1000)
        if status in (401, 403):
            problem = (
                f"CrossEngage refused the API key (HTTP {status} from POST {self.url}); check {API_KEY_ENV}"
            )
            return Answer(None, problem, ambiguous, stop=problem, auth_error=True)
        if status not in REJECT_STATUSES:
            problem = f"unexpected HTTP {status} from POST {self.url}: {text[:200] or '(empty)'}"
            if status in (404, 405) or 300 <= status < 400:
                problem += f"; check {ENV_PREFIX}BASE_URL"
            return Answer(None, problem, ambiguous, stop=problem)
        return Answer(status, text, ambiguous)

    def close(self) -> None:
        self.http.close()


def rejection_reason(event: Event, status: int, body: str) -> str:
    """Why CrossEngage refused one event, from its 400 body."""
    reason = f"CrossEngage rejected the event: HTTP {status} {body[:500] or '(empty body)'}"
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return reason
    if not isinstance(problem, dict):
        return reason
    if problem.get("field") == "event" and problem.get("type") == "UNKNOWN_VALUE":
        return (
            f"{reason}: event type {event.event.value!r} is not activated in the tenant; ask "
            "your CrossEngage CSM (or support@crossengage.io) to activate it, then replay the "
            "quarantine file"
        )
    if "field" in problem:
        return f"{reason}: field {problem['field']!r} was refused ({problem.get('type', '?')})"
    return reason
