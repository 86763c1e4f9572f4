"""msgevents provider plugin for Twilio Programmable Messaging (SMS status callbacks).

The entry point ``twilio`` in the group ``msgevents.providers`` points at this
module; its ``register_providers`` hook registers :class:`TwilioProvider`. See
the plugin's README for the events, settings and the dump format.
"""

import msgevents
from msgevents_twilio.provider import TwilioProvider
from msgevents_twilio.settings import TwilioSettings

__all__ = ["TwilioProvider", "TwilioSettings", "register_providers"]


@msgevents.hookimpl
def register_providers(register):
    """Register the Twilio provider."""
    register(TwilioProvider)
