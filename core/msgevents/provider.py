"""What a provider plugin implements: the :class:`Provider` base class.

A plugin registers :class:`Provider` subclasses through the
``register_providers`` hook (see :mod:`msgevents.hookspecs`). The class
declares identity, supported events, settings and timing as class attributes;
its methods pull or read native records and map them to canonical events.
Mapping is pure; everything that talks to the network lives in ``pull``,
``now``, ``check`` and ``close``.

The full contract, with an example, is ``docs/plugin-authors.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from msgevents.errors import ConfigError
from msgevents.events import Event, EventType
from msgevents.http import HttpClient, RetryPolicy
from msgevents.settings_base import SettingsBase, settings_config
from msgevents.sink import DeliveryStats
from msgevents.timestamps import UTC
from msgevents.values import NotModelled, Record, WebhookRequest, Window

__all__ = [
    "NotModelled",
    "Provider",
    "ProviderSettings",
    "Record",
    "WebhookRequest",
    "Window",
    "load_settings",
    "settings_config",
]


class ProviderSettings(SettingsBase):
    """Base of every provider's settings model.

    Subclasses set ``model_config = settings_config("<name>")`` (variables
    ``MSGEVENTS_<NAME>_…``; see :mod:`msgevents.settings_base`). Values come from the environment and
    ``.env``; unknown variables are ignored so one ``.env`` serves every
    provider. Secrets are ``SecretStr``. API credentials are optional fields:
    a provider calls :meth:`require` before pulling, so ``--input`` runs need none.
    """

    lookback: timedelta = Field(
        timedelta(days=7), description="Where the first live run starts: now minus this."
    )
    http_retries: int = Field(
        6, ge=1, le=20, description="Attempts per API request (the first included) before giving up."
    )
    http_timeout: float = Field(60.0, gt=0, description="Read timeout per API request, seconds.")
    identity_file: Path | None = Field(
        None,
        description="CSV with a header row naming user_id and email and/or phone: gives events "
        "without a customer id their user_id (e-mails case-folded, phones E.164); "
        "MSGEVENTS_IDENTITY_FILE serves every provider.",
    )

    def require(self, *fields: str) -> None:
        """Raise :class:`ConfigError` naming every variable of ``fields`` that is unset."""
        missing = []
        for name in fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is None or value == "":
                missing.append(self.env_name(name))
        if missing:
            raise ConfigError("missing setting(s): " + ", ".join(missing))

    def secret_values(self) -> list[str]:
        """Every secret value set, for redaction from output and logs."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values


def load_settings(settings_class: type[BaseSettings], **overrides: Any) -> Any:
    """Build a settings model, turning validation errors into :class:`ConfigError`.

    The message names each bad variable and why, never its value (it may be a secret).
    """
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "?"
            env_name = getattr(settings_class, "env_name", None)
            name = env_name(field) if env_name else field
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid setting(s): " + "; ".join(problems)) from None


class Provider:
    """Base class of provider plugins. Subclass it and register it with ``register_providers``.

    Class attributes (all required unless a default is shown):

    - ``name``: canonical name, the entry-point name users type (``episerver``)
    - ``title``: human title (``Optimizely Campaign (Episerver)``)
    - ``aliases``: other names that select this provider (``("optimizely",)``)
    - ``supported_events``: the subset of :class:`EventType` it can emit; the
      core rejects anything else as a plugin error
    - ``Settings``: a :class:`ProviderSettings` subclass
    - ``streams``: the API streams a live run pulls, in order
    - ``settle``: events younger than this are not yet trustworthy
    - ``restatement``: how far back the provider may still add events
    - ``retention``: how long the provider keeps data (``None`` = unknown)
    - ``input_help``: what ``--input`` accepts (empty = no file input)
    - ``identity_source``: where the mapper finds the customer id (``user-variables[user_id]``);
      events without it go through the core identity step (:mod:`msgevents.identity`)
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    supported_events: ClassVar[frozenset[EventType]] = frozenset()
    Settings: ClassVar[type[ProviderSettings]] = ProviderSettings
    streams: ClassVar[tuple[str, ...]] = ()
    settle: ClassVar[timedelta] = timedelta(0)
    restatement: ClassVar[timedelta] = timedelta(0)
    retention: ClassVar[timedelta | None] = None
    input_help: ClassVar[str] = ""
    identity_source: ClassVar[str] = ""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        #: Requests, retries, 429s and ambiguous requests of this provider's API calls (run report).
        self.stats = DeliveryStats()

    def http_client(self, name: str, **kwargs: Any) -> HttpClient:
        """An :class:`~msgevents.HttpClient` counting into :attr:`stats`, with the retry
        attempts and read timeout of the settings (``MSGEVENTS_<NAME>_HTTP_RETRIES``,
        ``…_HTTP_TIMEOUT``). ``kwargs`` go to ``HttpClient`` (``auth``, ``headers``, ``sleep``…)."""
        kwargs.setdefault("stats", self.stats)
        kwargs.setdefault("retry", RetryPolicy(attempts=self.settings.http_retries))
        kwargs.setdefault("timeout", (10.0, self.settings.http_timeout))
        return HttpClient(name=name, **kwargs)

    # -- identity -------------------------------------------------------------------

    @property
    def account(self) -> str:
        """The provider account (client id, sending domain…); ``""`` when unknown.

        Part of every event id and of the state key, so it must not change
        between an API run and a file run of the same account.
        """
        return ""

    # -- pulling from the API ---------------------------------------------------------

    def now(self) -> datetime:
        """The provider's current time (UTC); live windows end at ``now() - settle``.

        Providers with a server clock call it (Optimizely ``getCurrentTime``).
        """
        return datetime.now(UTC)

    def pull(self, stream: str, window: Window) -> Iterator[Sequence[Record]]:
        """Yield pages of native records of ``stream`` whose position falls in ``window``.

        Called once per stream of a live run or backfill. Raise
        :class:`~msgevents.errors.ConfigError` for missing credentials,
        :class:`~msgevents.errors.AuthError` when they are refused and
        :class:`~msgevents.errors.ProviderUnavailableError` when retries ran out.
        """
        raise ConfigError(f"provider {self.name!r} cannot pull from an API; use --input FILE")

    def read_input(self, path: Path) -> Iterator[Sequence[Record]]:
        """Yield batches of native records read from an export or webhook-dump file.

        Unreadable rows are yielded as records with ``error`` set, so they reach
        quarantine and the rest of the file is still read; a missing file raises
        :class:`~msgevents.errors.ConfigError` naming it. A file that cannot be read
        to its end or is not the expected format at all raises
        :class:`~msgevents.errors.InputFileError` after yielding what was read before
        the fault (:mod:`msgevents.inputs` reads gzip, UTF-8 and JSON that way).
        """
        raise ConfigError(f"provider {self.name!r} reads no input files")

    def check(self) -> str:
        """Make one cheap authenticated call; return a one-line description of what worked."""
        raise ConfigError(f"provider {self.name!r} has no API to check")

    def close(self) -> None:
        """Release sessions (SOAP logout, HTTP pools). Called once at the end of a run."""

    def run_warnings(self) -> list[str]:
        """What the run's summary and report must say once, e.g. "12 clicks kept no url (…)".

        For conditions that touch many records but are not errors (a count, not a line per
        record). The pipeline reads it once at the end of the run, before :meth:`close`.
        """
        return []

    # -- receiving webhooks (msgevents serve) ---------------------------------------------

    @classmethod
    def receives_webhooks(cls) -> bool:
        """Whether ``msgevents serve`` offers ``POST /webhooks/<name>``: the class implements
        :meth:`parse_webhook`."""
        return cls.parse_webhook is not Provider.parse_webhook

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Return if ``request`` is authentic; raise :class:`~msgevents.errors.WebhookRejected` if not.

        Called before anything of the request is stored. Check the provider's
        signature or shared secret over ``request.body`` (and headers or ``url``),
        comparing in constant time (``hmac.compare_digest``). Raise
        :class:`~msgevents.errors.ConfigError` naming the variable when the secret is
        not set. May do I/O the scheme needs (an SNS signing certificate, fetched only
        from allowed hosts and cached) and act on authentic control messages (confirm
        an SNS subscription). The default refuses every request: a provider that
        parses webhooks must say how they are verified.
        """
        from msgevents.errors import WebhookRejected

        raise WebhookRejected(f"provider {self.name!r} does not verify webhooks")

    def parse_webhook(self, request: WebhookRequest) -> Sequence[Record]:
        """Turn the raw body of an authentic request into native records: pure, no I/O.

        The records are those :meth:`map_record` maps from a pull or an input file, so
        the same event gets the same ``event_id`` whichever way it arrives. A body with
        several events gives several records; a control message that carries no events
        (an SNS ``SubscriptionConfirmation``) gives none. A record that cannot be read
        is returned with ``error`` set (quarantined, the others kept); raise
        :class:`~msgevents.errors.MappingError` when the body as a whole cannot be
        read: the receiver quarantines it whole with the reason and answers ``200``
        (a provider would retry it forever).
        """
        raise NotImplementedError

    # -- mapping (pure) -------------------------------------------------------------------

    def map_record(self, record: Record) -> Sequence[Event] | NotModelled:
        """Map one native record to canonical events: pure, no I/O.

        Return the events (usually one), or :class:`NotModelled` for native
        types outside the model. Raise :class:`~msgevents.errors.MappingError`
        (or let the :class:`Event` constructor raise ``ValidationError``) for a
        record that cannot be mapped: it is quarantined with that reason.
        """
        raise NotImplementedError

    # -- description ------------------------------------------------------------------

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What ``msgevents about`` shows: settings, events, inputs and windows."""
        settings = []
        for field_name, info in cls.Settings.model_fields.items():
            annotation = info.annotation
            settings.append(
                {
                    "name": field_name,
                    "env": cls.Settings.env_name(field_name),
                    "required": info.is_required(),
                    "secret": annotation is SecretStr or "SecretStr" in repr(annotation),
                    "default": _default_of(info),
                    "description": info.description or "",
                }
            )
        return {
            "name": cls.name,
            "title": cls.title,
            "aliases": list(cls.aliases),
            "events": [e.value for e in EventType if e in cls.supported_events],
            "not_supported": [e.value for e in EventType if e not in cls.supported_events],
            "streams": list(cls.streams),
            "input": cls.input_help,
            "settle_seconds": int(cls.settle.total_seconds()),
            "restatement_seconds": int(cls.restatement.total_seconds()),
            "retention_days": cls.retention.days if cls.retention else None,
            "identity_source": cls.identity_source,
            "settings": settings,
        }


def _default_of(info: FieldInfo) -> Any:
    """The shown default of a settings field (``default_factory`` called); ``None`` when required."""
    if info.is_required():
        return None
    try:
        return _show_default(info.get_default(call_default_factory=True))
    except Exception:  # a factory that needs other fields' values: nothing to show
        return None


def _duration(value: timedelta) -> str:
    """``7d``, ``2h``, ``90s``: the largest unit that divides the value (ISO 8601 also accepted in env)."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _show_default(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else None
    if isinstance(value, timedelta):
        return _duration(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
