"""msgevents provider plugin for Mailgun.

The entry point ``mailgun`` in the group ``msgevents.providers`` points at this
module; its ``register_providers`` hook registers :class:`MailgunProvider`.
See the plugin's README for the events, settings and input formats.
"""

import msgevents
from msgevents_mailgun.provider import MailgunProvider
from msgevents_mailgun.settings import MailgunSettings

__all__ = ["MailgunProvider", "MailgunSettings", "register_providers"]


@msgevents.hookimpl
def register_providers(register):
    """Register the Mailgun provider."""
    register(MailgunProvider)
