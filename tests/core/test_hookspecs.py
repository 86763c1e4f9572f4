"""The hook specification (``msgevents.hookspecs``).

Covers that every hook is a register-callback spec documented in its
docstring (``Args:`` naming each argument), known to a fresh plugin manager,
callable with keyword arguments by implementations that accept any subset of
them, and that plugins get ``hookimpl`` from ``msgevents`` itself.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import pluggy
import pytest

import msgevents
from msgevents import hookspecs
from msgevents.plugins import new_plugin_manager

SPECS = [
    name
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "msgevents_spec")
]


def test_the_register_hooks_are_specified():
    assert {"register_providers", "register_sinks", "register_processors"} <= set(SPECS)
    assert set(SPECS) <= set(hookspecs.__all__)


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_documents_each_argument(name):
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function) or ""
    assert doc.splitlines()[0].strip(), "a one-line summary"
    assert "Args:" in doc
    for argument in inspect.signature(function).parameters:
        assert f"{argument}:" in doc, f"{name}: argument {argument!r} is not documented"
    assert "Called" in doc or "run" in doc, "the docstring says when the hook is called"


@pytest.mark.parametrize("name", SPECS)
def test_every_hook_is_known_to_a_fresh_plugin_manager_and_collects_all_results(name):
    pm = new_plugin_manager()
    caller = getattr(pm.hook, name)
    assert caller.spec is not None
    assert caller.spec.opts.get("firstresult", False) is False
    assert caller.spec.opts.get("historic", False) is False


def test_hooks_are_called_with_keywords_and_implementations_take_a_subset():
    registered = []
    module = ModuleType("msgevents_subset_plugin")
    module.register_providers = msgevents.hookimpl(lambda register: register("acme"))
    module.register_sinks = msgevents.hookimpl(lambda: registered.append("called without arguments"))
    pm = new_plugin_manager()
    pm.register(module, name="subset")
    pm.check_pending()
    pm.hook.register_providers(register=registered.append)
    pm.hook.register_sinks(register=registered.append)
    assert registered == ["acme", "called without arguments"]
    with pytest.raises(TypeError):
        pm.hook.register_providers(registered.append)  # positional arguments are refused


def test_plugins_import_hookimpl_from_msgevents():
    assert msgevents.hookimpl is hookspecs.hookimpl
    assert isinstance(hookspecs.hookimpl, pluggy.HookimplMarker)
    assert hookspecs.hookimpl.project_name == "msgevents"
    assert hookspecs.hookspec.project_name == "msgevents"


def test_a_hook_outside_the_spec_is_pending():
    module = ModuleType("msgevents_typo_plugin")
    module.register_provider = msgevents.hookimpl(lambda register: None)
    pm = new_plugin_manager()
    pm.register(module, name="typo")
    with pytest.raises(pluggy.PluginValidationError, match="register_provider"):
        pm.check_pending()
