"""Plugin loading (``msgevents.plugins``): the registry, provider validation and isolation.

The registry is exercised with in-memory plugin modules (``ModuleType`` objects holding
``@hookimpl`` functions): providers with aliases, invalid provider
declarations rejected as :class:`PluginError` naming the plugin, duplicate
names, sinks, processors, misspelled hooks. Discovery is exercised with real
installed-looking distributions written to ``tmp_path`` (``*.dist-info`` with
entry points): a broken plugin is listed as broken with its reason and never
stops the others from being listed or loaded; unknown names list what is
installed.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import stevedore
from pydantic_settings import BaseSettings

import msgevents
from msgevents import EventType, NotModelled, Provider, ProviderSettings, Sink, hookimpl
from msgevents.errors import PluginError, UnknownProviderError, UnknownSinkError
from msgevents.plugins import Registry, list_providers, load_general_plugins, load_provider, load_sink
from msgevents.sinks.feed import FeedSink
from msgevents.sinks.jsonl import JsonlSink


class AcmeProvider(Provider):
    name = "acme"
    title = "Acme"
    aliases = ("acme-alt",)
    supported_events = frozenset({EventType.SENT, EventType.CLICKED})

    def map_record(self, record):
        return NotModelled("x")


class OtherProvider(AcmeProvider):
    name = "other"
    aliases = ()


class MinimalSink(Sink):
    name = "minimal"

    @property
    def key(self) -> str:
        return "minimal"


def plugin(**hooks) -> ModuleType:
    """An in-memory plugin module: each keyword is a hook implementation."""
    module = ModuleType("msgevents_inmemory_plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def providing(*classes) -> ModuleType:
    def register_providers(register):
        for cls in classes:
            register(cls)

    return plugin(register_providers=register_providers)


# -- the registry ----------------------------------------------------------------------------------


def test_a_provider_is_registered_under_its_name_and_aliases():
    registry = Registry()
    registry.add_module(providing(AcmeProvider), name="provider:acme")
    assert registry.providers == {"acme": AcmeProvider, "acme-alt": AcmeProvider}


def test_several_providers_from_one_module():
    registry = Registry()
    registry.add_module(providing(AcmeProvider, OtherProvider), name="provider:both")
    assert set(registry.providers) == {"acme", "acme-alt", "other"}


def bad(**attributes) -> type:
    return type("BadProvider", (AcmeProvider,), attributes)


class NoMapping(Provider):
    name = "nomap"
    supported_events = frozenset({EventType.SENT})


class Undeclared(Provider):
    name = "undeclared"

    def map_record(self, record):
        return NotModelled("x")


class PlainSettings(BaseSettings):
    pass


@pytest.mark.parametrize(
    ("cls", "problem"),
    [
        (Undeclared, "'supported_events' must be a non-empty set"),
        (bad(supported_events=frozenset()), "'supported_events' must be a non-empty set"),
        (bad(supported_events=[EventType.SENT]), "'supported_events' must be a non-empty set"),
        (
            bad(supported_events=frozenset({"Message Bounced"})),
            "values outside the eight: ['Message Bounced']",
        ),
        (bad(supported_events=frozenset({EventType.SENT, "opened"})), "values outside the eight: ['opened']"),
        (NoMapping, "'map_record' is not implemented"),
        (bad(Settings=PlainSettings), "'Settings' must subclass msgevents.ProviderSettings"),
        (bad(Settings=dict), "'Settings' must subclass msgevents.ProviderSettings"),
        (bad(Settings=None), "'Settings' must subclass msgevents.ProviderSettings"),
        (bad(name=""), "no 'name'"),
        (bad(name=None), "no 'name'"),
    ],
)
def test_invalid_provider_declarations_are_plugin_errors_naming_the_plugin(cls, problem):
    registry = Registry()
    with pytest.raises(PluginError) as caught:
        registry.add_module(providing(cls), name="provider:bad")
    message = str(caught.value)
    assert message.startswith("plugin 'provider:bad'")
    assert problem in message
    assert registry.providers == {}


def test_every_problem_of_a_declaration_is_reported_at_once():
    cls = bad(name="", supported_events=frozenset(), Settings=dict)
    with pytest.raises(PluginError) as caught:
        Registry().add_module(providing(cls), name="provider:bad")
    assert "no 'name'" in str(caught.value)
    assert "supported_events" in str(caught.value)
    assert "Settings" in str(caught.value)


def test_registering_something_that_is_not_a_provider_class():
    for thing in (object, AcmeProvider(None), "acme"):
        with pytest.raises(PluginError, match=r"plugin 'provider:bad' registered .*not a msgevents.Provider"):
            Registry().add_module(providing(thing), name="provider:bad")


def test_a_provider_name_taken_by_another_module_is_refused():
    registry = Registry()
    registry.add_module(providing(AcmeProvider), name="provider:acme")
    impostor = type("Impostor", (OtherProvider,), {"name": "acme"})
    with pytest.raises(PluginError, match="'provider:impostor': provider name 'acme' is already taken"):
        registry.add_module(providing(impostor), name="provider:impostor")
    assert registry.providers["acme"] is AcmeProvider


def test_an_alias_clashing_with_another_providers_name_is_refused():
    registry = Registry()
    registry.add_module(providing(OtherProvider), name="provider:other")
    clash = type("Clash", (AcmeProvider,), {"name": "clash", "aliases": ("other",)})
    with pytest.raises(PluginError, match="'other' is already taken"):
        registry.add_module(providing(clash), name="provider:clash")


def test_the_same_class_registered_twice_is_fine():
    registry = Registry()
    registry.add_module(providing(AcmeProvider), name="provider:acme")
    registry.add_module(providing(AcmeProvider), name="provider:acme-alt")
    assert registry.providers["acme-alt"] is AcmeProvider


def test_sinks_are_registered_by_name():
    registry = Registry()
    registry.add_module(plugin(register_sinks=lambda register: register(MinimalSink)), name="sink:minimal")
    assert registry.sinks == {"minimal": MinimalSink}


@pytest.mark.parametrize("thing", [object, "feed", type("Nameless", (Sink,), {})])
def test_a_sink_must_be_a_named_sink_class(thing):
    with pytest.raises(PluginError, match=r"not a named msgevents\.Sink"):
        Registry().add_module(plugin(register_sinks=lambda register: register(thing)), name="sink:bad")


def test_a_sink_name_taken_by_another_class_is_refused():
    registry = Registry()
    registry.add_module(plugin(register_sinks=lambda register: register(FeedSink)), name="sink:feed")
    hijack = type("Hijack", (MinimalSink,), {"name": "feed"})
    with pytest.raises(PluginError, match="sink name 'feed' is already taken"):
        registry.add_module(plugin(register_sinks=lambda register: register(hijack)), name="plugin:hijack")
    assert registry.sinks["feed"] is FeedSink


def test_processors_are_registered_in_order():
    def first(events, provider):
        return events

    def second(events, provider):
        return []

    def register_processors(register):
        register("first", first)
        register("second", second)

    registry = Registry()
    registry.add_module(plugin(register_processors=register_processors), name="plugin:proc")
    assert registry.processors == [("first", first), ("second", second)]


def test_a_processor_must_be_callable():
    with pytest.raises(PluginError, match="processor 'broken' is not callable"):
        Registry().add_module(
            plugin(register_processors=lambda register: register("broken", 42)), name="plugin:proc"
        )


def test_a_misspelled_hook_is_a_plugin_error_naming_plugin_and_hook():
    with pytest.raises(PluginError) as caught:
        Registry().add_module(plugin(register_provider=lambda register: None), name="provider:typo")
    message = str(caught.value)
    assert message.startswith("plugin 'provider:typo'")
    assert "register_provider" in message


def test_a_hook_with_an_unknown_argument_is_a_plugin_error():
    with pytest.raises(PluginError) as caught:
        Registry().add_module(plugin(register_providers=lambda regster: None), name="provider:args")
    message = str(caught.value)
    assert message.startswith("plugin 'provider:args'")
    assert "regster" in message  # the cause, not only "for hook 'register_providers'"
    assert "\n" not in message  # one line: shown as a broken plugin's reason


def test_a_hook_that_raises_is_a_plugin_error():
    def register_providers(register):
        raise RuntimeError("boom in the plugin")

    with pytest.raises(
        PluginError, match="'provider:boom' failed while registering: RuntimeError: boom in the plugin"
    ):
        Registry().add_module(plugin(register_providers=register_providers), name="provider:boom")


def test_a_hook_may_take_fewer_arguments_than_the_spec():
    called = []
    Registry().add_module(plugin(register_sinks=lambda: called.append(True)), name="sink:none")
    assert called == [True]


def test_only_the_added_modules_hooks_are_called():
    calls = []

    def register_providers(register):
        calls.append("acme")
        register(AcmeProvider)

    registry = Registry()
    registry.add_module(plugin(register_providers=register_providers), name="provider:acme")
    registry.add_module(providing(OtherProvider), name="provider:other")
    registry.add_module(plugin(register_sinks=lambda register: register(MinimalSink)), name="sink:minimal")
    assert calls == ["acme"]
    assert set(registry.providers) == {"acme", "acme-alt", "other"}


def test_registries_are_independent():
    one, two = Registry(), Registry()
    one.add_module(providing(AcmeProvider), name="provider:acme")
    assert two.providers == {}
    two.add_module(providing(AcmeProvider), name="provider:acme")  # same name, other registry: fine


def test_general_plugins_contribute_processors():
    def keep(events, provider):
        return events

    registry = Registry()
    load_general_plugins(
        registry, [("resolver", plugin(register_processors=lambda register: register("keep", keep)))]
    )
    assert registry.processors == [("keep", keep)]


# -- built-in sinks through their entry points -----------------------------------------------------


def test_built_in_sinks_load_by_name():
    assert load_sink("feed") is FeedSink
    assert load_sink("jsonl") is JsonlSink


def test_an_unknown_sink_lists_the_installed_ones():
    with pytest.raises(UnknownSinkError) as caught:
        load_sink("kafka")
    message = str(caught.value)
    assert "'kafka'" in message
    for name in ("crossengage", "feed", "jsonl"):
        assert name in message


# -- discovery with installed distributions --------------------------------------------------------

GOOD = textwrap.dedent(
    """
    import msgevents
    from msgevents import EventType, NotModelled, Provider, ProviderSettings, settings_config


    class CoretestSettings(ProviderSettings):
        model_config = settings_config("coretest-good")


    class CoretestProvider(Provider):
        name = "coretest-good"
        title = "Core test provider"
        aliases = ("coretest-alias",)
        supported_events = frozenset({EventType.HARD_BOUNCED, EventType.SENT})
        Settings = CoretestSettings

        def map_record(self, record):
            return NotModelled("x")


    @msgevents.hookimpl
    def register_providers(register):
        register(CoretestProvider)
    """
)
BROKEN = 'raise ImportError("msgevents_coretest_broken needs libfoo, which is not installed")\n'
INVALID = textwrap.dedent(
    """
    import msgevents
    from msgevents import Provider


    class Invalid(Provider):
        name = "coretest-invalid"


    @msgevents.hookimpl
    def register_providers(register):
        register(Invalid)
    """
)
MODULES = {
    "msgevents_coretest_good": GOOD,
    "msgevents_coretest_broken": BROKEN,
    "msgevents_coretest_invalid": INVALID,
}


def write_distribution(
    site: Path, dist: str, version: str, module: str, entry_points: dict[str, str]
) -> None:
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[msgevents.providers]\n{lines}")
    (info / "RECORD").write_text(f"{module}.py,,\n")
    (site / f"{module}.py").write_text(MODULES[module])


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Three provider distributions on sys.path: good (with an alias), broken (ImportError), invalid."""
    site = tmp_path / "site"
    write_distribution(
        site,
        "msgevents-coretest-good",
        "1.2.3",
        "msgevents_coretest_good",
        {"coretest-good": "msgevents_coretest_good", "coretest-alias": "msgevents_coretest_good"},
    )
    write_distribution(
        site,
        "msgevents-coretest-broken",
        "0.1",
        "msgevents_coretest_broken",
        {"coretest-broken": "msgevents_coretest_broken"},
    )
    write_distribution(
        site,
        "msgevents-coretest-invalid",
        "0.2",
        "msgevents_coretest_invalid",
        {"coretest-invalid": "msgevents_coretest_invalid"},
    )
    # stevedore caches entry points in process and on disk: start clean, write the disk cache here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(stevedore._cache._c, "_dir", str(tmp_path / "cache" / "python-entrypoints"))
    stevedore.ExtensionManager.ENTRY_POINT_CACHE.clear()
    monkeypatch.syspath_prepend(str(site))
    yield site
    stevedore.ExtensionManager.ENTRY_POINT_CACHE.clear()
    for module in MODULES:
        sys.modules.pop(module, None)


def test_a_broken_plugin_is_listed_as_broken_and_the_others_still_listed(installed):
    listings = {listing.name: listing for listing in list_providers()}
    broken = listings["coretest-broken"]
    assert broken.status == "broken"
    assert "ImportError" in broken.error
    assert "needs libfoo" in broken.error
    assert broken.as_dict()["error"] == broken.error
    assert broken.version == "0.1"

    invalid = listings["coretest-invalid"]
    assert invalid.status == "broken"
    assert "supported_events" in invalid.error

    good = listings["coretest-good"]
    assert good.status == "ok"
    assert good.error is None
    assert "error" not in good.as_dict()
    assert good.version == "1.2.3"
    assert good.distribution == "msgevents-coretest-good"
    assert good.events == ["Message Sent", "Message hard_bounced"]  # canonical order, exact strings
    assert good.aliases == ["coretest-alias"]
    assert good.title == "Core test provider"
    assert "coretest-alias" not in listings  # an alias is not a second provider


def test_the_listing_is_sorted_and_serialisable(installed):
    names = [listing.name for listing in list_providers()]
    assert names == sorted(names)
    for listing in list_providers():
        data = listing.as_dict()
        assert {"name", "version", "events", "status"} <= set(data)
        assert data["status"] in ("ok", "broken")


def test_load_provider_imports_only_the_requested_plugin(installed):
    cls = load_provider("coretest-good")
    assert cls.name == "coretest-good"
    assert cls.__module__ == "msgevents_coretest_good"
    assert "msgevents_coretest_broken" not in sys.modules
    assert "msgevents_coretest_invalid" not in sys.modules


def test_load_provider_by_alias(installed):
    assert load_provider("coretest-alias") is load_provider("coretest-good")


def test_load_provider_registers_into_the_given_registry(installed):
    registry = Registry()
    cls = load_provider("coretest-good", registry)
    assert registry.providers["coretest-good"] is cls


def test_loading_the_broken_plugin_is_a_plugin_error_with_its_reason(installed):
    with pytest.raises(PluginError) as caught:
        load_provider("coretest-broken")
    assert "'coretest-broken'" in str(caught.value)
    assert "needs libfoo" in str(caught.value)


def test_loading_the_invalid_plugin_is_a_plugin_error(installed):
    with pytest.raises(PluginError, match="supported_events"):
        load_provider("coretest-invalid")


def test_an_unknown_provider_lists_the_installed_names(installed):
    with pytest.raises(UnknownProviderError) as caught:
        load_provider("coretest-nope")
    error = caught.value
    assert error.name == "coretest-nope"
    assert {"coretest-good", "coretest-alias", "coretest-broken", "coretest-invalid"} <= set(error.installed)
    message = str(error)
    assert message.startswith("Unknown provider 'coretest-nope'. Installed providers: ")
    assert "coretest-broken" in message
    assert "coretest-good (alias coretest-alias)" in message  # an alias is shown as one
    assert ", coretest-alias" not in message
    assert "pip install msgevents-coretest-nope" not in message  # not published: no such command
    assert "pip install -e" in message


def test_the_public_api_reexports_hookimpl():
    assert msgevents.hookimpl is hookimpl
    assert issubclass(ProviderSettings, BaseSettings)
