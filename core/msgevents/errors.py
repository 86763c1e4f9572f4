"""The small exception hierarchy of msgevents.

Library code raises these; each class carries the exit code a run ends with
when it is the cause (``exit_code``), and only the CLI exits. A run that ends
without an error says in its report what makes it incomplete or broken by
naming one of these classes as its verdict. Messages name the setting, record
or plugin at fault and never contain credentials.
"""

from __future__ import annotations

from typing import ClassVar


class MsgEventsError(Exception):
    """Base class of every error msgevents raises on purpose (exit 1 unless a subclass says)."""

    #: The process's exit code when this error (or a run report with it as its verdict) ends a run.
    exit_code: ClassVar[int] = 1


class ConfigError(MsgEventsError):
    """A usage or configuration error: a missing or invalid setting or option (exit 2)."""

    exit_code = 2


class UnknownProviderError(ConfigError):
    """The provider name given on the command line is not installed (exit 2)."""

    def __init__(self, name: str, installed: list[str], aliases: dict[str, list[str]] | None = None):
        """``installed``: every name users can type; ``aliases``: provider name -> its aliases."""
        self.name = name
        self.installed = sorted(installed)
        aliases = aliases or {}
        alias_names = {alias for names in aliases.values() for alias in names}
        shown = [
            f"{n} (alias {', '.join(aliases[n])})" if aliases.get(n) else n
            for n in self.installed
            if n not in alias_names
        ]
        super().__init__(
            f"Unknown provider {name!r}. Installed providers: {', '.join(shown) or 'none'} "
            "(see msgevents providers). Provider plugins are not published on PyPI: install one "
            "from a checkout of the msgevents repository, e.g. pip install -e core -e plugins/episerver"
        )


class UnknownSinkError(ConfigError):
    """The sink named by ``--to`` is not installed (exit 2)."""


class AuthError(MsgEventsError):
    """A provider or CrossEngage refused the credentials (exit 3, never retried)."""

    exit_code = 3


class IncompleteError(MsgEventsError):
    """A provider or sink failure outlasted the retries (exit 4).

    Nothing is lost: positions stop before what was not delivered and the
    outbox is sent by the next run.
    """

    exit_code = 4


class ProviderUnavailableError(IncompleteError):
    """The provider API kept failing (5xx, 429, timeouts) after every retry."""


class SinkUnavailableError(IncompleteError):
    """The sink kept failing after every retry."""


class StateUnavailableError(IncompleteError):
    """The state's database server went away during a run (a PostgreSQL state: connection lost).

    Nothing is lost: what was not acknowledged in the state is sent again by the next run.
    """


class InputFileError(IncompleteError):
    """An ``--input`` file cannot be read to its end, or is not the expected format at all.

    A truncated or corrupt gzip stream, bytes that are not text, no record of
    the file parseable (a wrong delimiter), a header none of whose columns is
    known. A provider's ``read_input`` yields the batches it could read and then
    raises it; the pipeline delivers those, names the file and the reason in the
    summary and the report, reads the other input files and exits 4. The message
    names the file; ``path`` holds it.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class PluginError(MsgEventsError):
    """A plugin broke its contract: failed to load, or emitted what it did not declare (exit 5)."""

    exit_code = 5


class LockedError(MsgEventsError):
    """Another run holds the lock for this provider, account and state file (exit 6)."""

    exit_code = 6


class WebhookRejected(MsgEventsError):
    """A webhook request is not authentic (bad or missing signature, wrong token, too old).

    Raised by :meth:`msgevents.Provider.verify_webhook`; ``msgevents serve`` answers
    ``401``, stores nothing of the request and counts it. The message says why
    ("signature does not match", "timestamp 20 min old") and never contains the
    signature, the token or the secret.
    """


class MappingError(MsgEventsError):
    """A native record cannot be mapped to a canonical event.

    Raised by a provider's mapping; the pipeline quarantines the record with
    this message as the reason and carries on.
    """
