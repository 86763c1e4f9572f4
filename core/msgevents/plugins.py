"""Plugin discovery and loading: stevedore finds entry points, pluggy calls hooks.

- ``msgevents.providers``: one entry point per provider name users type
  (aliases are extra entry points to the same module). ``collect``, ``check``
  and ``about`` import only the requested one; ``providers`` imports all of them
  and lists a plugin that fails as ``broken`` with its reason.
- ``msgevents.sinks``: modules registering sinks (``feed``, ``crossengage``,
  ``jsonl`` are built in); only the sink named by ``--to`` is imported.
- ``msgevents.plugins``: modules with cross-cutting hooks (event processors).

Every loaded module is registered with a fresh :class:`pluggy.PluginManager`
per :class:`Registry`, so nothing global is mutated.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy
from stevedore import DriverManager, ExtensionManager
from stevedore.exception import NoMatches

from msgevents import hookspecs
from msgevents.errors import PluginError, UnknownProviderError, UnknownSinkError
from msgevents.events import EventType
from msgevents.processing import Processor
from msgevents.provider import Provider, ProviderSettings
from msgevents.sink import Sink

__all__ = [
    "PLUGIN_GROUP",
    "PROVIDER_GROUP",
    "SINK_GROUP",
    "ProviderListing",
    "Registry",
    "list_providers",
    "load_provider",
    "load_sink",
]

PROVIDER_GROUP = "msgevents.providers"
SINK_GROUP = "msgevents.sinks"
PLUGIN_GROUP = "msgevents.plugins"

log = logging.getLogger(__name__)


def new_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows the msgevents hook spec and nothing else."""
    pm = pluggy.PluginManager("msgevents")
    pm.add_hookspecs(hookspecs)
    return pm


def _describe_exception(exc: BaseException) -> str:
    """One line: the exception's type and message, its lines joined (pluggy puts the cause on line 3)."""
    lines = [line.strip() for line in f"{type(exc).__name__}: {exc}".splitlines() if line.strip()]
    return "; ".join(lines)


def validate_provider_class(cls: Any, origin: str) -> None:
    """Raise :class:`PluginError` unless ``cls`` honours the provider declarations."""
    problems = []
    if not isinstance(cls, type) or not issubclass(cls, Provider):
        raise PluginError(f"{origin} registered {cls!r}, which is not a msgevents.Provider subclass")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        problems.append("no 'name'")
    events = cls.supported_events
    if not isinstance(events, frozenset | set) or not events:
        problems.append("'supported_events' must be a non-empty set of EventType")
    else:
        names = {e.value for e in EventType}
        unknown = [e for e in events if not isinstance(e, EventType)]
        plain = [e for e in unknown if e in names]
        if plain:
            problems.append(f"'supported_events' must hold EventType members, not strings: {sorted(plain)!r}")
        outside = [e for e in unknown if e not in plain]
        if outside:
            problems.append(f"'supported_events' holds values outside the eight: {outside!r}")
    if not (isinstance(cls.Settings, type) and issubclass(cls.Settings, ProviderSettings)):
        problems.append("'Settings' must subclass msgevents.ProviderSettings")
    if cls.map_record is Provider.map_record:
        problems.append("'map_record' is not implemented")
    if problems:
        raise PluginError(f"{origin}: provider {cls.__name__}: " + "; ".join(problems))


@dataclass
class Registry:
    """Provider, sink and processor classes contributed by the loaded plugin modules."""

    pm: pluggy.PluginManager = field(default_factory=new_plugin_manager)
    providers: dict[str, type[Provider]] = field(default_factory=dict)
    sinks: dict[str, type[Sink]] = field(default_factory=dict)
    processors: list[tuple[str, Processor]] = field(default_factory=list)

    def add_module(self, module: ModuleType | object, name: str) -> None:
        """Register a plugin module and collect what its hooks contribute."""
        origin = f"plugin {name!r}"
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)  # a refused module must not poison later ones
            raise PluginError(f"{origin}: {_describe_exception(exc)}") from exc
        caller = self.pm.subset_hook_caller  # call this module's hooks only
        others = [p for p in self.pm.get_plugins() if p is not module]

        def add_provider(cls: type[Provider]) -> None:
            validate_provider_class(cls, origin)
            for key in (cls.name, *cls.aliases):
                existing = self.providers.get(key)
                if existing is not None and existing is not cls:
                    raise PluginError(f"{origin}: provider name {key!r} is already taken")
                self.providers[key] = cls

        def add_sink(cls: type[Sink]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, Sink)) or not getattr(cls, "name", ""):
                raise PluginError(f"{origin} registered {cls!r}, which is not a named msgevents.Sink")
            existing = self.sinks.get(cls.name)
            if existing is not None and existing is not cls:
                raise PluginError(f"{origin}: sink name {cls.name!r} is already taken")
            self.sinks[cls.name] = cls

        def add_processor(processor_name: str, processor: Processor) -> None:
            if not callable(processor):
                raise PluginError(f"{origin}: processor {processor_name!r} is not callable")
            self.processors.append((processor_name, processor))

        try:
            caller("register_providers", remove_plugins=others)(register=add_provider)
            caller("register_sinks", remove_plugins=others)(register=add_sink)
            caller("register_processors", remove_plugins=others)(register=add_processor)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"{origin} failed while registering: {_describe_exception(exc)}") from exc


# -- providers -----------------------------------------------------------------------


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=group))


def installed_provider_names() -> list[str]:
    """Entry-point names of every installed provider (nothing is imported)."""
    return sorted({ep.name for ep in _entry_points(PROVIDER_GROUP)})


def _dist_versions(group: str) -> dict[str, tuple[str, str]]:
    versions: dict[str, tuple[str, str]] = {}
    for ep in _entry_points(group):
        dist = ep.dist
        if dist is not None:
            versions[ep.name] = (dist.metadata["Name"], dist.version)
    return versions


def _raise_load_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
    reason = _describe_exception(exc)
    raise PluginError(f"plugin {entrypoint.name!r} ({entrypoint.value}) failed to load: {reason}") from exc


def load_provider(name: str, registry: Registry | None = None) -> type[Provider]:
    """Import only the plugin of provider ``name`` (or alias) and return its class.

    Raises :class:`UnknownProviderError` listing installed names, or
    :class:`PluginError` when the plugin fails to import or register.
    """
    registry = registry or Registry()
    try:
        manager = DriverManager(PROVIDER_GROUP, name, on_load_failure_callback=_raise_load_failure)
    except NoMatches:
        aliases = {listing.name: listing.aliases for listing in list_providers()}
        raise UnknownProviderError(name, installed_provider_names(), aliases) from None
    registry.add_module(manager.driver, name=f"provider:{name}")
    return _pick_provider(registry, name)


def _pick_provider(registry: Registry, name: str) -> type[Provider]:
    if name in registry.providers:
        return registry.providers[name]
    distinct = set(registry.providers.values())
    if len(distinct) == 1:
        return distinct.pop()
    raise PluginError(f"plugin {name!r} registers no provider named {name!r}")


@dataclass
class ProviderListing:
    """One line of ``msgevents providers``."""

    name: str
    version: str
    distribution: str
    status: str
    events: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    title: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "version": self.version,
            "distribution": self.distribution,
            "events": self.events,
            "aliases": self.aliases,
            "status": self.status,
        }
        if self.error is not None:
            data["error"] = self.error
        return data


def list_providers() -> list[ProviderListing]:
    """Every installed provider, loaded in isolation: one broken plugin breaks nothing else."""
    versions = _dist_versions(PROVIDER_GROUP)
    failures: dict[str, str] = {}

    def record_failure(_manager: Any, entrypoint: Any, exc: BaseException) -> None:
        failures[entrypoint.name] = _describe_exception(exc)
        log.debug("provider plugin %r failed to load", entrypoint.name, exc_info=exc)

    manager = ExtensionManager(PROVIDER_GROUP, on_load_failure_callback=record_failure)
    listings: dict[str, ProviderListing] = {}
    seen_classes: dict[type[Provider], ProviderListing] = {}
    for ext in manager.extensions:
        dist, version = versions.get(ext.name, ("?", "?"))
        registry = Registry()
        try:
            registry.add_module(ext.plugin, name=f"provider:{ext.name}")
            cls = _pick_provider(registry, ext.name)
        except PluginError as exc:
            failures[ext.name] = str(exc)
            continue
        if cls in seen_classes:  # an alias entry point of a provider already listed
            continue
        listing = ProviderListing(
            name=cls.name,
            version=version,
            distribution=dist,
            status="ok",
            events=[e.value for e in EventType if e in cls.supported_events],
            aliases=list(cls.aliases),
            title=cls.title,
        )
        seen_classes[cls] = listing
        listings[cls.name] = listing
    alias_names = {alias for listing in listings.values() for alias in listing.aliases}
    for name, error in failures.items():
        if name in listings or name in alias_names:
            continue
        dist, version = versions.get(name, ("?", "?"))
        listings[name] = ProviderListing(
            name=name, version=version, distribution=dist, status="broken", error=error
        )
    return [listings[k] for k in sorted(listings)]


# -- sinks and general plugins ---------------------------------------------------------------


def installed_sink_names() -> list[str]:
    return sorted({ep.name for ep in _entry_points(SINK_GROUP)})


def load_sink(name: str, registry: Registry | None = None) -> type[Sink]:
    """Import only the module of sink ``name`` and return its class."""
    registry = registry or Registry()
    try:
        manager = DriverManager(SINK_GROUP, name, on_load_failure_callback=_raise_load_failure)
    except NoMatches:
        installed = ", ".join(installed_sink_names()) or "none"
        raise UnknownSinkError(f"unknown sink {name!r} in --to; installed sinks: {installed}") from None
    registry.add_module(manager.driver, name=f"sink:{name}")
    if name not in registry.sinks:
        raise PluginError(f"sink plugin {name!r} registers no sink named {name!r}")
    return registry.sinks[name]


def load_general_plugins(registry: Registry, modules: Iterable[tuple[str, Any]] | None = None) -> None:
    """Load the ``msgevents.plugins`` group (processors); a failure is a plugin error.

    A processor that fails to load would change what is delivered (say, e-mail
    instead of user id), so ``collect`` refuses to run rather than skip it.
    """
    if modules is None:
        manager = ExtensionManager(PLUGIN_GROUP, on_load_failure_callback=_raise_load_failure)
        modules = [(ext.name, ext.plugin) for ext in manager.extensions]
    for name, module in modules:
        registry.add_module(module, name=f"plugin:{name}")
