"""msgevents: outbound-message events from any provider, delivered to CrossEngage exactly once.

The public API for plugin authors is re-exported here, so plugins never import
pluggy or internal modules::

    import msgevents

    class MyProvider(msgevents.Provider): ...

    @msgevents.hookimpl
    def register_providers(register):
        register(MyProvider)
"""

from importlib.metadata import PackageNotFoundError, version

from msgevents.errors import (
    AuthError,
    ConfigError,
    IncompleteError,
    InputFileError,
    LockedError,
    MappingError,
    MsgEventsError,
    PluginError,
    ProviderUnavailableError,
    SinkUnavailableError,
    WebhookRejected,
)
from msgevents.events import Event, EventType, compute_event_id
from msgevents.hookspecs import hookimpl
from msgevents.http import HttpClient, RetriesExhaustedError, RetryPolicy
from msgevents.processing import Processor, replace
from msgevents.provider import (
    NotModelled,
    Provider,
    ProviderSettings,
    Record,
    WebhookRequest,
    Window,
    load_settings,
    settings_config,
)
from msgevents.sink import DeliveryStats, Outcome, Receipt, Sink, SinkJournal, ledger_key

try:
    __version__ = version("msgevents")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AuthError",
    "ConfigError",
    "DeliveryStats",
    "Event",
    "EventType",
    "HttpClient",
    "IncompleteError",
    "InputFileError",
    "LockedError",
    "MappingError",
    "MsgEventsError",
    "NotModelled",
    "Outcome",
    "PluginError",
    "Processor",
    "Provider",
    "ProviderSettings",
    "ProviderUnavailableError",
    "Receipt",
    "Record",
    "RetriesExhaustedError",
    "RetryPolicy",
    "Sink",
    "SinkJournal",
    "SinkUnavailableError",
    "WebhookRejected",
    "WebhookRequest",
    "Window",
    "__version__",
    "compute_event_id",
    "hookimpl",
    "ledger_key",
    "load_settings",
    "replace",
    "settings_config",
]
