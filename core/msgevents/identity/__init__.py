"""Identity resolution: the core step that gives every event a CrossEngage key.

CrossEngage keys a customer by ``user_id`` (its ``id``) or, for e-mail, by the
address. Providers know the customer id only when the sender passed it through
(Mailgun ``user-variables``, SES tags…); otherwise they know an e-mail address
or a phone number. This step runs after mapping, for every provider:

1. an event with ``user_id`` passes unchanged;
2. an event without one gets it from the **lookup file** (CSV with a header
   row naming ``user_id`` and ``email`` and/or ``phone``), matched by the
   case-folded e-mail address or the E.164 phone number;
3. else an event with an e-mail address goes out keyed by ``email``;
4. else (a phone-only event: SMS, push) it is returned as *unresolved*, with a
   reason starting ``unresolved identity:``, and the pipeline quarantines it
   (CrossEngage cannot key a customer by phone).

The step never changes ``event_id``: it is computed at mapping time from what
the provider sent, so adding or changing a lookup file never makes an event
look new to the ledger.

The lookup file is read once per run, when the first event without a user id
arrives (a run whose events all carry one never pays for it; the file's header
is checked at the start of every run), into a compact open-addressing table
(:class:`IdentityLookup`): 64-bit hashes of the keys in one array, offsets into
one byte string of user ids in another, about 30 bytes per row instead of two
Python strings and a dict entry (about 200 bytes per row).

Modules: :mod:`~msgevents.identity.normalise` (e-mail and phone normalisers, used
by provider mappers too), :mod:`~msgevents.identity.csvfile` (the lookup file on
disk), :mod:`~msgevents.identity.lookup` (the table), :mod:`~msgevents.identity.step`
(the pipeline step).
"""

from msgevents.identity.lookup import IdentityLookup
from msgevents.identity.normalise import InvalidAddress, normalise_email, normalise_phone
from msgevents.identity.step import GLOBAL_SETTING, UNRESOLVED, IdentityStep

__all__ = [
    "GLOBAL_SETTING",
    "UNRESOLVED",
    "IdentityLookup",
    "IdentityStep",
    "InvalidAddress",
    "normalise_email",
    "normalise_phone",
]
