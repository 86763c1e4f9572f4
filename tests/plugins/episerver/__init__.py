"""Tests of the Episerver (Optimizely Campaign) provider plugin (package ``episerver``)."""
