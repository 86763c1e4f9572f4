"""Tests of the Twilio SMS provider plugin (package ``twilio``)."""
