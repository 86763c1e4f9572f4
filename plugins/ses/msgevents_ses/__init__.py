"""msgevents provider plugin for Amazon SES event publishing.

The entry point ``ses`` in the group ``msgevents.providers`` points at this
module; its ``register_providers`` hook registers :class:`SesProvider`. See the
plugin's README for the events, settings and the input formats.
"""

import msgevents
from msgevents_ses.provider import SesProvider
from msgevents_ses.settings import SesSettings

__all__ = ["SesProvider", "SesSettings", "register_providers"]


@msgevents.hookimpl
def register_providers(register):
    """Register the Amazon SES provider."""
    register(SesProvider)
