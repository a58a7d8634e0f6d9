"""Errors the domain raises; handlers map each to one HTTP status and a customer-readable message."""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every error the domain raises on purpose."""


class ValidationFailed(TollgateError):
    """The request is malformed; `fields` names each bad field and what is wrong with it (400)."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields


class EmailAlreadyRegistered(TollgateError):
    """The normalised email already has an account (409). Reveals nothing about it."""


class RegistrationInProgress(TollgateError):
    """The same sign-up request is still being processed by another invocation (409)."""


class RequestTooLarge(TollgateError):
    """The request body is larger than any valid sign-up (413)."""


class ConfigurationError(TollgateError):
    """The function is deployed without a setting or secret it needs; the message names it."""


class BillingPortalNotSetUp(ConfigurationError):
    """The Stripe account has no usable customer portal configuration of `make stripe-setup`: no portal is
    opened then, never on the account's default configuration, which may let a customer replace their
    plan's price and so lose the usage metered on it (tollgate.domain.plan_changes). The owner must act (503)."""


class ConcurrentUpdate(TollgateError):
    """A conditional write lost a race: someone else changed the row first."""


class DownstreamError(TollgateError):
    """An external service (AWS, Stripe, Moesif) failed or timed out (502/503 after rollback).

    `retryable` is True for throttling, timeouts and 5xx, where trying again later should work.
    """

    def __init__(self, service: str, message: str, retryable: bool = True):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.retryable = retryable


class Throttled(DownstreamError):
    """The service refused the call for its rate limit (AWS's TooManyRequests and kin): trying again after
    a pause succeeds, unlike a timeout, whose outcome is unknown."""

    def __init__(self, service: str, message: str):
        super().__init__(service, message, retryable=True)


class KeyNotFound(DownstreamError):
    """API Gateway has no key with this id: it was ended (disabled and deleted) already. Not retryable;
    the key enforcement passes over a rotated-out key that is gone (its retirement records it)."""

    def __init__(self, key_id: str):
        super().__init__("API Gateway", f"no API key {key_id}", retryable=False)
        self.key_id = key_id


class ApiKeyRejected(TollgateError):
    """The presented API key does not belong to the named key id, or its account cannot be
    billed (403). Says no more, so the endpoint cannot be used to probe key ids."""


class InvalidWebhookSignature(TollgateError):
    """A Stripe webhook's signature is missing, wrong or outside the timestamp tolerance (400)."""


class EventAlreadyApplied(TollgateError):
    """The Stripe event id was recorded before: a replay, applied once already."""


class UnknownCheckoutSession(TollgateError):
    """No account's payment-method Checkout has this session id, or it is too old to ask about (404)."""


class InvalidLink(TollgateError):
    """An emailed link's token is unknown, tampered with, expired, already used or meant for something
    else (410). Says no more: a guessed token learns nothing."""


class TooManyEmails(TollgateError):
    """The address got its hourly share of Tollgate's emails already (429); `retry_after` seconds
    until the next one may be sent. The same for every address, whether it has an account or not."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class SignedOut(TollgateError):
    """No valid session: no cookie, an unknown, closed or expired session, or its account is gone (401)."""


class KeyChangeRefused(TollgateError):
    """A rotation or revocation the account's state does not allow (409); the message says why and
    what to do."""


class PlanChangeRefused(TollgateError):
    """A plan change the account cannot make now (409); the message says why and what to do."""


class CreditPurchaseRefused(TollgateError):
    """Credit the account cannot buy now (409): not on a prepaid plan, or not an account that can pay;
    the message says why and what to do."""
