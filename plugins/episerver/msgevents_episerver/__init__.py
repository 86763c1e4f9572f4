"""msgevents provider plugin for Optimizely Campaign (formerly Episerver Campaign).

Entry points ``episerver`` and ``optimizely`` (alias) in the group
``msgevents.providers`` point at this module; its ``register_providers`` hook
registers :class:`EpiserverProvider`. See the plugin's README for the events,
settings and the export-file format.
"""

import msgevents
from msgevents_episerver.provider import EpiserverProvider
from msgevents_episerver.settings import EpiserverSettings

__all__ = ["EpiserverProvider", "EpiserverSettings", "register_providers"]


@msgevents.hookimpl
def register_providers(register):
    """Register the Optimizely Campaign provider."""
    register(EpiserverProvider)
