"""``msgevents serve``: the webhook receiver.

Providers push events (Mailgun webhooks, Twilio status callbacks, SES through SNS,
OneSignal Event Streams) to ``POST /webhooks/<provider>``. Each request is verified
(:meth:`msgevents.Provider.verify_webhook`), parsed
(:meth:`msgevents.Provider.parse_webhook`), mapped and checked by the same stages as a
collection run, and committed to the state's outbox — grouped with the requests that
arrived meanwhile, one fsync for many — before it is answered ``200``. A delivery loop
drains the outbox to the sink through the ledger, so a provider's retry or the same
event read by ``collect`` is delivered once.

The parts, one job each: :mod:`~msgevents.serve.app` (ASGI routes and answers),
:mod:`~msgevents.serve.intake` (one provider's verify/parse/map/check),
:mod:`~msgevents.serve.committer` (group commit), :mod:`~msgevents.serve.delivery`
(the delivery loop), :mod:`~msgevents.serve.metrics`, :mod:`~msgevents.serve.service`
(putting them together), :mod:`~msgevents.serve.server` (uvicorn, signals, the port).

``create_app()`` is the application factory for an operator's own process manager::

    uvicorn --factory msgevents.serve:create_app --host 0.0.0.0 --port 8080

configured by ``MSGEVENTS_STATE``, ``MSGEVENTS_SERVE_TO``, ``MSGEVENTS_SERVE_PROVIDERS``
and the other ``MSGEVENTS_SERVE_…`` settings (:mod:`~msgevents.serve.settings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from msgevents.serve.app import ServeApp
from msgevents.serve.service import ServeConfig, Service
from msgevents.serve.settings import ServeSettings, serve_settings
from msgevents.state.location import state_location

__all__ = ["ServeApp", "ServeConfig", "ServeSettings", "Service", "create_app", "serve_config"]


def serve_config(
    *,
    state: str | Path | None = None,
    to: str | None = None,
    providers: Sequence[str] | None = None,
    settings: ServeSettings | None = None,
) -> ServeConfig:
    """The receiver's configuration: the arguments given, else the ``MSGEVENTS_…`` settings."""
    from msgevents.settings import core_settings

    settings = settings if settings is not None else serve_settings()
    core = core_settings()
    return ServeConfig(
        state_path=state_location(state) if state is not None else core.state,
        sink_spec=to or settings.to,
        providers=list(providers) if providers else settings.provider_names(),
        settings=settings,
        identity_file=core.identity_file,
        ledger_retention=core.ledger_retention,
    )


def create_app(
    *,
    state: str | Path | None = None,
    to: str | None = None,
    providers: Sequence[str] | None = None,
    settings: ServeSettings | None = None,
) -> ServeApp:
    """The ASGI application; it starts (lock, state, threads) at lifespan startup."""
    return ServeApp(Service(serve_config(state=state, to=to, providers=providers, settings=settings)))
