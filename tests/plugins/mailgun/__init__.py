"""Tests of the Mailgun provider plugin (package ``mailgun``)."""
