"""Tests of the Amazon SES provider plugin (package ``ses``)."""
