"""msgevents provider plugin for OneSignal Event Streams (push, e-mail and SMS message events).

The entry point ``onesignal`` in the group ``msgevents.providers`` points at this
module; its ``register_providers`` hook registers :class:`OneSignalProvider`. See
the plugin's README for the body template, the events, the settings and the
webhook setup.
"""

import msgevents
from msgevents_onesignal.provider import OneSignalProvider
from msgevents_onesignal.settings import OneSignalSettings

__all__ = ["OneSignalProvider", "OneSignalSettings", "register_providers"]


@msgevents.hookimpl
def register_providers(register):
    """Register the OneSignal provider."""
    register(OneSignalProvider)
