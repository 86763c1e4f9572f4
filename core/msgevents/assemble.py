"""Building what a command or a task names: a provider with its settings, a sink from ``--to``.

Shared by the CLI commands, the receiver (:mod:`msgevents.serve`) and backfill tasks
(:mod:`msgevents.backfill`), which build them exactly as ``collect`` does: settings
loaded from the environment (a bad one is a :class:`~msgevents.errors.ConfigError`
naming the variable) and every secret registered with :mod:`msgevents.redact` before
anything can print it.
"""

from __future__ import annotations

from msgevents.errors import ConfigError
from msgevents.plugins import Registry, load_provider, load_sink
from msgevents.provider import Provider, load_settings
from msgevents.redact import add_secret
from msgevents.sink import Sink

__all__ = ["make_provider", "make_sink"]


def make_provider(name: str, registry: Registry) -> Provider:
    """The provider ``name`` (or alias), configured from its settings."""
    cls = load_provider(name, registry)
    settings = load_settings(cls.Settings)
    for secret in settings.secret_values():
        add_secret(secret)
    return cls(settings)


def make_sink(spec: str, registry: Registry, *, required: bool) -> Sink | None:
    """The sink of ``spec`` (``NAME[:TARGET]``); ``None`` when it is not configured and not ``required``."""
    name, _, target = spec.partition(":")
    cls = load_sink(name.strip(), registry)
    try:
        sink = cls.from_target(target or None)
    except ConfigError:
        if required:
            raise
        return None
    for secret in sink.secret_values():
        add_secret(secret)
    return sink
