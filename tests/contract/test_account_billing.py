"""The AccountBilling port (tollgate.domain.ports.billing): FakeAccountBilling and StripeAccountBilling on
the Stripe bridge (its customer portal, gap 13, and invoice previews, gap 11) answer alike.

What the account page relies on: a customer portal session opens for the customer, back to the page,
on Tollgate's portal configuration only; a Stripe account without it opens nothing
(BillingPortalNotSetUp, naming `make stripe-setup`) until `make stripe-setup` creates it, with nothing
cached in between; and the preview of a subscription that does not exist is refused. How the preview
rates usage, and which configurations are refused, are tests/lambda_src/integration/adapters/
test_stripe_account_billing.py's (the fake holds the previews a test gives it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from testkit.fake_access import FakeAccountBilling
from tollgate import contract
from tollgate.domain.errors import BillingPortalNotSetUp, DownstreamError
from tollgate.domain.ports.billing import AccountBilling

if TYPE_CHECKING:
    from localdev.emulators import StripeBridge

RETURN_URL = "https://shop.example/account.html"


@dataclass
class StripeAccount:
    """The port on a Stripe account, the portal sessions opened there on Tollgate's configuration
    ((customer, return URL), oldest first), and `make stripe-setup` run on it."""

    port: AccountBilling
    opened: Callable[[], list[tuple[str, str]]]
    set_up: Callable[[], None]


@dataclass
class Stripe:
    """The account `make stripe-setup` set up, a customer of it, and another account it never ran on."""

    account: StripeAccount
    new_customer: Callable[[], str]
    account_without_portal: Callable[[], AbstractContextManager[StripeAccount]]


def fake_account(set_up: bool) -> StripeAccount:
    fake = FakeAccountBilling()
    fake.portal_set_up = set_up
    return StripeAccount(fake, lambda: list(fake.portal_sessions), lambda: setattr(fake, "portal_set_up", True))


@contextmanager
def fake_account_without_portal() -> Iterator[StripeAccount]:
    yield fake_account(set_up=False)


@pytest.fixture(scope="module", params=["fake", "stripe"])
def stripe(request) -> Iterator[Stripe]:
    if request.param == "fake":
        yield Stripe(fake_account(set_up=True), lambda: f"cus_{uuid.uuid4().hex[:14]}", fake_account_without_portal)
        return
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from tollgate.adapters.stripe_client import stripe_client

    request.getfixturevalue("price_id")  # `make stripe-setup` on the session's Stripe account, its portal included
    client = stripe_client(STRIPE_TEST_SECRET_KEY, request.getfixturevalue("stripe_api"))
    localstripe_url = request.getfixturevalue("emulators").localstripe.url
    yield Stripe(
        bridged_account(request.getfixturevalue("stripe_bridge")),
        lambda: client.v1.customers.create({"email": f"{uuid.uuid4().hex[:8]}@example.com"}).id,
        lambda: bridged_account_without_portal(localstripe_url),
    )


def bridged_account(bridge: StripeBridge) -> StripeAccount:
    from localdev.emulators import STRIPE_TEST_SECRET_KEY
    from ops.catalog_setup import CatalogSetup
    from tollgate.adapters.stripe_account_billing import StripeAccountBilling
    from tollgate.adapters.stripe_client import stripe_client

    client = stripe_client(STRIPE_TEST_SECRET_KEY, bridge.api_base)

    def opened() -> list[tuple[str, str]]:
        tollgates = {
            configuration["id"]
            for configuration in bridge.state.portal.configurations.values()
            if configuration.get("metadata") == contract.STRIPE_PORTAL_CONFIGURATION_METADATA
        }
        return [
            (session["customer"], session["return_url"])
            for session in bridge.state.portal.sessions.values()
            if session["configuration"] in tollgates
        ]

    def set_up() -> None:
        CatalogSetup(client).ensure_portal("Tollgate API")

    return StripeAccount(StripeAccountBilling(lambda: client), opened, set_up)


@contextmanager
def bridged_account_without_portal(localstripe_url: str) -> Iterator[StripeAccount]:
    """A Stripe account of its own (a bridge with fresh state in front of the same localstripe) whose only
    portal configuration is the default one its owner saved in the dashboard, which lets customers change
    their price (https://docs.stripe.com/api/customer_portal/configurations/object)."""
    from localdev.emulators import STRIPE_TEST_SECRET_KEY, StripeBridge
    from tollgate.adapters.stripe_client import stripe_client

    with StripeBridge(localstripe_url) as bridge:
        stripe_client(STRIPE_TEST_SECRET_KEY, bridge.api_base).v1.billing_portal.configurations.create(
            {
                "features": {
                    "invoice_history": {"enabled": True},
                    "subscription_update": {
                        "enabled": True,
                        "default_allowed_updates": ["price"],
                        "proration_behavior": "none",
                    },
                }
            }
        )
        yield bridged_account(bridge)


def test_a_portal_session_opens_for_the_customer_on_tollgates_configuration(stripe):
    customer = stripe.new_customer()

    url = stripe.account.port.portal_url(customer, RETURN_URL)

    assert url.startswith("http") and (customer, RETURN_URL) in stripe.account.opened()


def test_without_tollgates_configuration_nothing_opens_until_make_stripe_setup_creates_it(stripe):
    customer = stripe.new_customer()
    with stripe.account_without_portal() as account:
        with pytest.raises(BillingPortalNotSetUp, match="make stripe-setup"):
            account.port.portal_url(customer, RETURN_URL)
        assert account.opened() == []

        account.set_up()  # `make stripe-setup`, later on: the same process, nothing cached the absence
        account.port.portal_url(customer, RETURN_URL)

        assert account.opened() == [(customer, RETURN_URL)]


def test_the_preview_of_a_subscription_that_does_not_exist_is_refused(stripe):
    with pytest.raises(DownstreamError) as refused:
        stripe.account.port.upcoming_invoice("sub_does_not_exist")

    assert refused.value.retryable is False
