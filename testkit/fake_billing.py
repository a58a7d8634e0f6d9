"""In-memory fakes of Stripe as the domain sees it (tollgate.domain.ports.Billing, PaymentMethods): idempotency
keys that replay, subscriptions with items that a plan change adds to, Checkout sessions a test
completes, and invoices a card pays or declines; each fails on demand (testkit.faults.FaultyFake)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from testkit.faults import FaultyFake
from tollgate.domain.billing_state import (
    CheckoutSession,
    InvoicePayment,
    OpenInvoice,
    OpenInvoicePage,
    SubscriptionItem,
    SubscriptionPage,
    SubscriptionState,
)
from tollgate.domain.errors import ConfigurationError, DownstreamError
from tollgate.domain.models import Registrant
from tollgate.domain.ports.billing import Billing, PaymentMethods

# A billing period's length when a test sets none (`period_end` in a subscription's dict): a month of 30 days.
PERIOD_SECONDS = 30 * 24 * 3600


class FakeBilling(FaultyFake, Billing):
    """Stripe as the domain sees it: an idempotency key replays the id its first call created,
    and refuses other arguments (as Stripe's `idempotency_error`); deleting a customer cancels
    its subscriptions."""

    port = "stripe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.customers: dict[str, dict] = {}
        # id -> {"customer", "status", "items": [(price, created)], "period_start", "cancel_at_period_end"}
        # (and "period_end", when a test sets it)
        self.subscriptions: dict[str, dict] = {}
        self.meters: dict[str, str] = {}  # price -> its meter (a price missing here has a meter of its own)
        self.clock: Callable[[], float] = time.time
        # Stripe saves a create's result once it started executing, a 500 included, and replays it
        # for the same idempotency key: with `saves_errors`, an injected failure is replayed too.
        self.saves_errors = False
        self.saved_errors: dict[str, DownstreamError] = {}
        # Invoices, in creation order: {"id", "customer", "subscription", "amount", "attempted", "status"}.
        self.invoices: list[dict] = []
        self.paid_invoices: list[tuple[str, int]] = []  # (subscription id, amount), in the order paid
        # Shared with a FakePaymentMethods (customer id -> payment method) so Checkout and billing agree.
        self.default_payment_methods: dict[str, str] = {}
        self.declining_methods: set[str] = set()
        self._idempotent: dict[str, tuple[tuple, str]] = {}  # key -> (arguments, id created)
        self._ids = itertools.count(1)

    def create_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str) -> str:
        arguments = ("create_customer", registrant, api_key_id)
        try:
            with self._call("create_customer", registrant.email, api_key_id, idempotency_key):
                if idempotency_key in self.saved_errors:
                    raise self.saved_errors[idempotency_key]
                if idempotency_key in self._idempotent:
                    return self._replay(idempotency_key, arguments)
                return self._new_customer(registrant, api_key_id, idempotency_key, arguments)
        except DownstreamError as error:
            if self.saves_errors and idempotency_key in self._idempotent:
                self.saved_errors[idempotency_key] = error  # Stripe replays a 500 saved for the key
            raise

    def _new_customer(self, registrant: Registrant, api_key_id: str, idempotency_key: str, arguments: tuple) -> str:
        customer_id = f"cus_{next(self._ids):04d}"
        self.customers[customer_id] = {
            "email": registrant.email,
            "name": f"{registrant.first_name} {registrant.last_name}",
            "metadata": {"awsAPIKeyId": api_key_id},
        }
        self._idempotent[idempotency_key] = (arguments, customer_id)
        return customer_id

    def find_customers_for_key(self, api_key_id: str) -> list[str]:
        with self._call("find_customers_for_key", api_key_id):
            return [
                customer_id
                for customer_id, customer in self.customers.items()
                if customer["metadata"].get("awsAPIKeyId") == api_key_id
            ]

    def delete_customer(self, customer_id: str) -> None:
        with self._call("delete_customer", customer_id):
            self.customers.pop(customer_id, None)
            for subscription in self.subscriptions.values():
                if subscription["customer"] == customer_id:
                    subscription["status"] = "canceled"

    def subscribe(self, customer_id: str, price_id: str, idempotency_key: str) -> str:
        arguments = ("subscribe", customer_id, price_id)
        with self._call("subscribe", customer_id, idempotency_key):
            if idempotency_key in self._idempotent:
                return self._replay(idempotency_key, arguments)
            if customer_id not in self.customers:
                raise DownstreamError(self.port, f"no customer {customer_id}", retryable=False)
            subscription_id = f"sub_{next(self._ids):04d}"
            now = int(self.clock())
            self.subscriptions[subscription_id] = {
                "customer": customer_id,
                "status": "active",
                "items": [(price_id, now)],
                "period_start": now,
                "cancel_at_period_end": False,
                "created": now,
            }
            self._idempotent[idempotency_key] = (arguments, subscription_id)
            return subscription_id

    def put_subscription(
        self,
        subscription_id: str,
        customer_id: str,
        status: str = "active",
        price_id: str | None = "price_1",
        created: int | None = None,
    ) -> None:
        """A subscription that exists already (a test's starting point), billing `price_id` since `created`."""
        created = int(self.clock()) - 86400 if created is None else created
        self.subscriptions[subscription_id] = {
            "customer": customer_id,
            "status": status,
            "items": [(price_id, created)] if price_id else [],
            "period_start": created,
            "cancel_at_period_end": False,
            "created": created,
        }

    def _replay(self, idempotency_key: str, arguments: tuple) -> str:
        first_arguments, created_id = self._idempotent[idempotency_key]
        if arguments != first_arguments:
            raise DownstreamError(
                self.port, f"idempotency key {idempotency_key} reused with other arguments", retryable=False
            )
        return created_id

    def cancel_subscription(self, subscription_id: str) -> None:
        with self._call("cancel_subscription", subscription_id):
            if subscription_id in self.subscriptions:
                self.subscriptions[subscription_id]["status"] = "canceled"

    def subscription(self, subscription_id: str) -> SubscriptionState:
        with self._call("subscription", subscription_id):
            return self._state(subscription_id)

    def switch_price(self, subscription_id: str, price_id: str, idempotency_key: str) -> None:
        with self._call("switch_price", subscription_id, price_id):
            subscription = self._live(subscription_id)
            prices = [price for price, _ in subscription["items"]]
            shared = [
                price
                for price in prices
                if price != price_id and self.meters.get(price, price) == self.meters.get(price_id, price_id)
            ]
            if shared:
                raise ConfigurationError(f"prices {shared[0]} and {price_id} share a meter")
            if price_id not in prices:
                subscription["items"].append((price_id, int(self.clock())))
            subscription["cancel_at_period_end"] = False

    def drop_prices_except(self, subscription_id: str, price_id: str) -> tuple[str, ...]:
        with self._call("drop_prices_except", subscription_id, price_id):
            subscription = self._live(subscription_id)
            dropped = tuple(price for price, _ in subscription["items"] if price != price_id)
            subscription["items"] = [item for item in subscription["items"] if item[0] == price_id]
            return dropped

    def end_at_period_end(self, subscription_id: str) -> None:
        with self._call("end_at_period_end", subscription_id):
            self._live(subscription_id)["cancel_at_period_end"] = True

    def renew(self, subscription_id: str) -> None:
        """The period ends (as Stripe's renewal): a subscription set to end then ends; else a new
        period starts."""
        subscription = self.subscriptions[subscription_id]
        if subscription["cancel_at_period_end"]:
            subscription["status"] = "canceled"
        subscription["period_start"] = int(self.clock())
        subscription.pop("period_end", None)

    def _live(self, subscription_id: str) -> dict:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription["status"] == "canceled":
            raise DownstreamError(self.port, f"no live subscription {subscription_id}", retryable=False)
        return subscription

    def _state(self, subscription_id: str) -> SubscriptionState:
        if subscription_id not in self.subscriptions:
            raise DownstreamError(self.port, f"no subscription {subscription_id}", retryable=False)
        sub = self.subscriptions[subscription_id]
        return SubscriptionState(
            subscription_id,
            sub["customer"],
            sub["status"],
            tuple(SubscriptionItem(price, created) for price, created in sub.get("items", ())),
            sub.get("period_start", 0),
            sub.get("cancel_at_period_end", False),
            sub.get("created", 0),
            sub.get("period_end", sub.get("period_start", 0) + PERIOD_SECONDS),
        )

    def live_subscriptions(self, customer_id: str) -> tuple[SubscriptionState, ...]:
        with self._call("live_subscriptions", customer_id):
            return tuple(
                self._state(sid)
                for sid in reversed(self.subscriptions)
                if self.subscriptions[sid]["customer"] == customer_id
                and self.subscriptions[sid]["status"] != "canceled"
            )

    def subscription_status(self, subscription_id: str) -> str:
        with self._call("subscription_status", subscription_id):
            if subscription_id not in self.subscriptions:
                raise DownstreamError(self.port, f"no subscription {subscription_id}", retryable=False)
            return self.subscriptions[subscription_id]["status"]

    def list_subscriptions(self, starting_after: str | None, limit: int) -> SubscriptionPage:
        """Newest first, as Stripe lists them (`subscriptions` keeps creation order)."""
        with self._call("list_subscriptions", starting_after, limit):
            newest_first = list(reversed(self.subscriptions))
            start = newest_first.index(starting_after) + 1 if starting_after else 0
            page = newest_first[start : start + limit]
            states = tuple(self._state(sid) for sid in page)
            return SubscriptionPage(states, has_more=start + limit < len(newest_first))

    def owe(self, subscription_id: str, amount: int, *, attempted: bool = True) -> str:
        """An open invoice of `amount` for the subscription (live or ended), as a failed renewal or final
        invoice leaves it: a live subscription is `past_due` while it owes one
        (https://docs.stripe.com/billing/subscriptions/overview#payment-status); `attempted=False`: Stripe
        has not tried to collect it yet."""
        invoice_id = f"in_{next(self._ids):04d}"
        if attempted and self.subscriptions[subscription_id]["status"] in ("active", "trialing"):
            self.subscriptions[subscription_id]["status"] = "past_due"
        self.invoices.append(
            {
                "id": invoice_id,
                "customer": self.subscriptions[subscription_id]["customer"],
                "subscription": subscription_id,
                "amount": amount,
                "attempted": attempted,
                "status": "open",
                "created": int(self.clock()),
            }
        )
        return invoice_id

    def open_invoices(self, customer_id: str) -> tuple[OpenInvoice, ...]:
        with self._call("open_invoices", customer_id):
            return tuple(
                _open(invoice)
                for invoice in self.invoices
                if invoice["customer"] == customer_id and invoice["status"] == "open" and invoice["attempted"]
            )

    def list_open_invoices(self, starting_after: str | None, limit: int) -> OpenInvoicePage:
        """Newest first, as Stripe lists them."""
        with self._call("list_open_invoices", starting_after, limit):
            newest_first = [invoice for invoice in reversed(self.invoices) if invoice["status"] == "open"]
            ids = [invoice["id"] for invoice in newest_first]
            start = ids.index(starting_after) + 1 if starting_after else 0
            page = newest_first[start : start + limit]
            return OpenInvoicePage(
                tuple(_open(invoice) for invoice in page if invoice["attempted"]),
                has_more=start + limit < len(newest_first),
            )

    def pay_open_invoices(self, customer_id: str, idempotency_key: str) -> InvoicePayment:
        """Pays the customer's open invoices, oldest first, with `default_payment_methods`; a method in
        `declining_methods` is declined; no method at all is a refused request, as Stripe's
        invalid_request_error (not a card_error). A subscription that owes nothing more is `active` again."""
        with self._call("pay_open_invoices", customer_id, idempotency_key):
            method = self.default_payment_methods.get(customer_id)
            paid = 0
            for invoice in self.invoices:
                if invoice["customer"] != customer_id or invoice["status"] != "open":
                    continue
                if method is None:
                    raise DownstreamError(
                        self.port, "pay invoice failed (the customer has no default payment method)", retryable=False
                    )
                if method in self.declining_methods:
                    return InvoicePayment(paid, declined="Your card was declined.")
                invoice["status"] = "paid"
                self.paid_invoices.append((invoice["subscription"], invoice["amount"]))
                paid += 1
                subscription = self.subscriptions[invoice["subscription"]]
                if subscription["status"] in ("past_due", "unpaid") and not self._owed_by(invoice["subscription"]):
                    subscription["status"] = "active"
            return InvoicePayment(paid)

    def _owed_by(self, subscription_id: str) -> bool:
        return any(
            invoice["subscription"] == subscription_id and invoice["status"] == "open" for invoice in self.invoices
        )

    def live_subscription_ids(self) -> list[str]:
        """Every subscription not canceled, of any customer (for tests' assertions)."""
        return [sid for sid, sub in self.subscriptions.items() if sub["status"] != "canceled"]


class FakePaymentMethods(FaultyFake, PaymentMethods):
    """Stripe Checkout and default payment methods as the domain sees them; shares the default
    methods with a FakeBilling, so a card added at Checkout is the one its invoices are paid with."""

    port = "stripe"

    def __init__(self, billing: FakeBilling | None = None, **kwargs):
        super().__init__(**kwargs)
        self.setup_intents: dict[str, str] = {}  # seti_... -> the payment method it collected
        self.collected_at: dict[str, float] = {}  # payment method -> when Checkout collected it (its `created`)
        self._billing = billing
        self.default_payment_methods: dict[str, str] = billing.default_payment_methods if billing else {}
        self.checkout_sessions: dict[str, dict] = {}  # idempotency key -> session
        self._ids = itertools.count(1)

    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        with self._call("set_default_payment_method", customer_id, setup_intent_id):
            if setup_intent_id not in self.setup_intents:
                raise DownstreamError(self.port, f"no setup intent {setup_intent_id}", retryable=False)
            collected, current = self.setup_intents[setup_intent_id], self.default_payment_methods.get(customer_id)
            current_at, collected_at = self.collected_at.get(current or ""), self.collected_at.get(collected)
            if current_at is not None and collected_at is not None and current_at > collected_at:
                return  # a late delivery of an earlier Checkout keeps the newer card
            self.default_payment_methods[customer_id] = collected

    def create_setup_checkout(self, customer_id: str, success_url: str, cancel_url: str, idempotency_key: str) -> str:
        with self._call("create_setup_checkout", customer_id, idempotency_key):
            if idempotency_key not in self.checkout_sessions:
                session_id = f"cs_test_{next(self._ids):04d}"
                self.checkout_sessions[idempotency_key] = {
                    "id": session_id,
                    "customer": customer_id,
                    "mode": "setup",
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "url": f"https://checkout.stripe.test/c/{session_id}",
                    "created": int(time.time()),
                    "complete": False,
                }
            return self.checkout_sessions[idempotency_key]["url"]

    def checkout_session(self, session_id: str) -> CheckoutSession | None:
        with self._call("checkout_session", session_id):
            session = next((s for s in self.checkout_sessions.values() if s["id"] == session_id), None)
            if session is None:
                return None
            return CheckoutSession(session["id"], session["customer"], session["created"], session["complete"])

    def complete_checkout(self, url: str, payment_method: str) -> tuple[str, str]:
        """What the customer does on the Checkout page at `url`: the card is collected by a setup
        intent and the session completes. Returns (session id, setup intent id)."""
        session = next(s for s in self.checkout_sessions.values() if s["url"] == url)
        setup_intent_id = f"seti_{session['id']}"
        self.setup_intents[setup_intent_id] = payment_method
        self.collected_at[payment_method] = self._billing.clock() if self._billing else time.time()
        session["complete"] = True
        return session["id"], setup_intent_id


def _open(invoice: dict) -> OpenInvoice:
    return OpenInvoice(
        invoice["id"], invoice["customer"], invoice["subscription"], invoice["amount"], "usd", invoice["created"]
    )
