"""The identity step of a run: give every event a CrossEngage key, or say why not.

See :mod:`msgevents.identity` for the rules. The lookup table
(:class:`~msgevents.identity.lookup.IdentityLookup`) is read on the first event
that needs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from msgevents.events import Event
from msgevents.identity.csvfile import check_header
from msgevents.identity.lookup import IdentityLookup
from msgevents.identity.normalise import InvalidAddress, normalise_email
from msgevents.processing import replace

__all__ = ["GLOBAL_SETTING", "UNRESOLVED", "IdentityStep"]

GLOBAL_SETTING = "MSGEVENTS_IDENTITY_FILE"
UNRESOLVED = "unresolved identity"


class IdentityStep:
    """The identity step of one run: resolve events, report those that cannot be keyed.

    ``identity_file`` and ``setting`` say which lookup file to read (``None``: no lookup)
    and which variable named it, for messages. :meth:`check` (at the start of a run)
    proves the file readable with the right header; the rows are read once, when the
    first event without a user id arrives. ``warn`` receives a warning about skipped rows.
    """

    def __init__(
        self,
        identity_file: Path | None = None,
        setting: str = GLOBAL_SETTING,
        provider_setting: str = "MSGEVENTS_<NAME>_IDENTITY_FILE",
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.identity_file = identity_file
        self.setting = setting
        self.provider_setting = provider_setting
        self.warn = warn
        self.lookup: IdentityLookup | None = None
        self.resolved = 0

    @classmethod
    def for_provider(
        cls, settings: object, fallback: Path | None = None, warn: Callable[[str], None] | None = None
    ) -> IdentityStep:
        """The step for a provider's settings: ``MSGEVENTS_<NAME>_IDENTITY_FILE`` first, else
        ``fallback`` (the file named by ``MSGEVENTS_IDENTITY_FILE``)."""
        env_name = getattr(type(settings), "env_name", None)
        own_setting = env_name("identity_file") if env_name else "MSGEVENTS_<NAME>_IDENTITY_FILE"
        own = getattr(settings, "identity_file", None)
        if own is not None:
            return cls(own, own_setting, own_setting, warn)
        return cls(fallback, GLOBAL_SETTING, own_setting, warn)

    def check(self) -> None:
        """Raise :class:`ConfigError` (naming the setting and file) when the lookup file is set
        but cannot be read or has no usable header row. Cheap: reads the first line."""
        path = self.identity_file
        if path is None or self.lookup is not None:
            return
        check_header(path, self.setting)

    def load(self) -> IdentityLookup | None:
        """The lookup table, read from the file on the first call; ``None`` when no file is set."""
        if self.identity_file is None or self.lookup is not None:
            return self.lookup
        self.lookup = IdentityLookup.load(self.identity_file, self.setting)
        if self.lookup.skipped and self.warn is not None:
            self.warn(
                f"identity file {str(self.identity_file)!r}: {self.lookup.skipped} row(s) skipped "
                f"(first: {self.lookup.first_skipped})"
            )
        return self.lookup

    def __call__(self, events: Sequence[Event]) -> tuple[list[Event], list[tuple[Event, str]]]:
        """``(events to send, [(unresolved event, reason), …])``; ``event_id`` never changes."""
        for event in events:
            if event.user_id is None:
                break
        else:
            return events if isinstance(events, list) else list(events), []
        kept: list[Event] = []
        unresolved: list[tuple[Event, str]] = []
        for event in events:
            if event.user_id is not None:
                kept.append(event)
                continue
            reason = self._resolve(event)
            if isinstance(reason, Event):
                kept.append(reason)
            elif event.email is not None:
                kept.append(event)
            else:
                unresolved.append((event, reason))
        return kept, unresolved

    def _resolve(self, event: Event) -> Event | str:
        """The event with its user id, or why none was found."""
        lookup = self.load()
        keys = []
        if event.email is not None:
            with contextlib.suppress(InvalidAddress):
                keys.append(normalise_email(event.email))
        if event.phone is not None:
            keys.append(event.phone)  # validated as E.164 by the event model
        shown = event.phone or event.email or "no e-mail address or phone number"
        if lookup is None:
            return (
                f"{UNRESOLVED}: {shown} has no user_id and no identity file is set "
                f"(set {self.provider_setting} or {GLOBAL_SETTING} to a CSV file phone,user_id)"
            )
        problem = ""
        for key in keys:
            try:
                user_id = lookup.get(key)
            except LookupError as exc:
                problem = f"; {exc} in {str(lookup.path)!r}"
                continue
            if user_id is not None:
                self.resolved += 1
                return replace(event, user_id=user_id)
        return f"{UNRESOLVED}: {shown} is not in identity file {str(lookup.path)!r}{problem}"
