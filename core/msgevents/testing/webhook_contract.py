"""The webhook half of the provider contract suite (:meth:`ProviderContract.check_webhooks`).

A provider that receives webhooks is checked with sample requests (:class:`WebhookSample`)
signed with the test secrets of the contract's settings:

- every sample is authentic (``verify_webhook`` returns);
- it parses to records (a control message may give none), the same from a fresh provider
  instance (parsing is pure), and every record that maps gives valid events of declared
  types, of this provider, in UTC, with the same ids from a fresh instance;
- its forgeries, the sample with no headers but its content type and an empty body, and the
  sample checked by a provider whose secret settings hold other values are all refused with
  :class:`~msgevents.WebhookRejected` (an :class:`~msgevents.IncompleteError` — a signing
  certificate that cannot be fetched — is not a refusal and fails the check);
- no refusal message contains a secret setting, a credential header's value (any header
  named like a signature, token, key, secret or authorization) or a ``hidden`` string of the
  sample (a token or signature carried in the body).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from msgevents.errors import MappingError, WebhookRejected
from msgevents.provider import Provider, WebhookRequest, load_settings

if TYPE_CHECKING:
    from msgevents.testing.contract import ProviderContract

__all__ = ["WebhookSample", "check_webhook_samples"]

_CREDENTIAL_HEADER_WORDS = ("signature", "token", "key", "secret", "authorization", "auth")


@dataclass(frozen=True)
class WebhookSample:
    """An authentic request, forgeries of it that must be refused, and strings of it (body-borne
    tokens or signatures) that must never appear in a refusal message."""

    request: WebhookRequest
    forgeries: tuple[WebhookRequest, ...] = ()
    hidden: tuple[str, ...] = ()
    label: str = ""


def check_webhook_samples(contract: ProviderContract, samples: Sequence[WebhookSample]) -> Counter[str]:
    from msgevents.testing.contract import ContractFailure

    provider = contract.provider()
    emitted: Counter[str] = Counter()
    try:
        for number, sample in enumerate(samples, start=1):
            where = f"webhook sample {sample.label or number}"
            try:
                provider.verify_webhook(sample.request)
            except WebhookRejected as exc:
                raise ContractFailure(f"{where} was refused: {exc}") from None
            ids = _parsed_and_mapped(contract, provider, sample, where)
            emitted.update(event_type for _id, event_type in ids)
            _check_refusals(contract, provider, sample, where)
    finally:
        provider.close()
    return emitted


def _parsed_and_mapped(
    contract: ProviderContract, provider: Provider, sample: WebhookSample, where: str
) -> list[tuple[str, str]]:
    from msgevents.testing.contract import ContractFailure

    try:
        records = list(provider.parse_webhook(sample.request))
        fresh = contract.provider()
        again = list(fresh.parse_webhook(sample.request))
    except MappingError as exc:
        raise ContractFailure(f"{where} could not be parsed: {exc}") from None
    if [(r.stream, r.data, r.error) for r in records] != [(r.stream, r.data, r.error) for r in again]:
        raise ContractFailure(f"{where}: parse_webhook is not pure (two parses differ)")
    ids = [i for record in records if record.error is None for i in contract._check_mapped(provider, record)]
    ids_again = [i for record in again if record.error is None for i in contract._check_mapped(fresh, record)]
    fresh.close()
    if ids != ids_again:
        raise ContractFailure(f"{where}: mapping is not deterministic: event ids differ between two runs")
    return ids


def _stripped(request: WebhookRequest) -> WebhookRequest:
    """The request with no headers but its content type and an empty body."""
    headers = {"content-type": request.header("content-type")} if request.header("content-type") else {}
    return WebhookRequest(request.method, request.url, headers, b"", request.received_at)


def _with_other_secrets(contract: ProviderContract) -> Iterator[tuple[str, Provider]]:
    """A provider per secret setting of the contract's settings, that secret changed."""
    cls = contract.provider_class
    settings = load_settings(cls.Settings, **contract.settings)
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            other = "x" + value.get_secret_value()[::-1]
            yield (
                cls.Settings.env_name(name),
                cls(load_settings(cls.Settings, **{**contract.settings, name: other})),
            )


def _check_refusals(
    contract: ProviderContract, provider: Provider, sample: WebhookSample, where: str
) -> None:
    from msgevents.testing.contract import ContractFailure

    hidden = [*provider.settings.secret_values(), *sample.hidden, *_credential_headers(sample.request)]
    attempts: list[tuple[str, Provider, WebhookRequest]] = [
        (f"forgery {i}", provider, forged) for i, forged in enumerate(sample.forgeries, start=1)
    ]
    attempts.append(("the request without its headers and body", provider, _stripped(sample.request)))
    others = list(_with_other_secrets(contract))
    attempts.extend(
        (f"the request checked with another {variable}", other, sample.request) for variable, other in others
    )
    for what, checker, request in attempts:
        try:
            checker.verify_webhook(request)
        except WebhookRejected as exc:
            leaked = [value for value in hidden if len(value) >= 6 and value in str(exc)]
            if leaked:
                raise ContractFailure(
                    f"{where}, {what}: the refusal message shows a secret or signature"
                ) from None
            continue
        raise ContractFailure(f"{where}: {what} was accepted")
    for _variable, other in others:
        other.close()


def _credential_headers(request: WebhookRequest) -> list[str]:
    return [
        value.strip()
        for name, value in request.headers.items()
        if any(word in name.lower() for word in _CREDENTIAL_HEADER_WORDS) and value.strip()
    ]
