"""The msgevents hook specification (pluggy project ``msgevents``).

Plugins implement these with ``@msgevents.hookimpl`` and never import pluggy.
Hooks are called with keyword arguments only; an implementation may accept
any subset of the documented arguments, so new arguments can be added later
without breaking plugins. Every hook here is documented in
``docs/plugin-authors.md`` under a heading ``name(arguments)`` (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from msgevents.provider import Provider
    from msgevents.sink import Sink

hookspec = pluggy.HookspecMarker("msgevents")
hookimpl = pluggy.HookimplMarker("msgevents")


@hookspec
def register_providers(register: Callable[[type[Provider]], None]) -> None:
    """Register provider classes: call ``register(MyProvider)`` once per provider.

    Args:
        register: takes a :class:`msgevents.Provider` subclass. The core checks
            its declarations (name, supported events within the eight, settings
            model, mapping) when it is registered and reports the plugin as
            broken if they are wrong.

    Called when a provider plugin is loaded: for ``collect``/``check``/``about``
    only the plugin of the requested provider, for ``providers`` every one.
    """


@hookspec
def register_sinks(register: Callable[[type[Sink]], None]) -> None:
    """Register sink classes: call ``register(MySink)`` once per sink.

    Args:
        register: takes a :class:`msgevents.Sink` subclass; its ``name`` is what
            users write in ``--to NAME[:TARGET]``.

    Called when modules of the entry-point group ``msgevents.sinks`` are
    loaded. The built-in ``feed``, ``crossengage`` and ``jsonl`` sinks use it too.
    """


@hookspec
def register_processors(register: Callable[..., None]) -> None:
    """Register event processors: call ``register(name, processor)``.

    Args:
        register: takes a name (shown in the run report) and a
            :data:`msgevents.processing.Processor`: a callable receiving a list
            of canonical events and the :class:`msgevents.Provider` instance and
            returning the events to deliver. It may drop events (counted as
            ``dropped`` per processor) or replace them with
            :func:`msgevents.processing.replace` (identity resolution
            email → user_id, dropping machine opens, …). ``event_id`` must be kept.

    Processors run after mapping and before the ledger check, in registration
    order, on batches of events; they are registered by any loaded plugin
    (provider, sink, or a module of the entry-point group ``msgevents.plugins``).
    The core checks their output again: an event type the provider did not
    declare is still rejected.
    """


__all__ = ["hookimpl", "hookspec", "register_processors", "register_providers", "register_sinks"]
