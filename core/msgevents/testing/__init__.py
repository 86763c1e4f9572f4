"""Test helpers shipped with the core, for plugin authors and our own black-box tests.

- :mod:`msgevents.testing.contract`: the provider contract suite (run it from a plugin's tests).
- :mod:`msgevents.testing.crossengage_emulator`: a local CrossEngage events API
  that validates every request strictly and injects faults.
"""
