"""In-memory fakes of every port (tollgate.ports), for the unit tests, the handler tests on
fakes and the benchmark. Each behaves like the real service where the domain relies on it
(conditional writes, idempotent deletes, Stripe idempotency keys) and fails on demand
(testkit.faults.FaultyFake)."""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from testkit.faults import CallRecorder, FaultyFake
from tollgate.domain.errors import ConcurrentUpdate, ConfigurationError, DownstreamError, EventAlreadyApplied
from tollgate.domain.models import Account, AccountStatus, IssuedKey, ListedKey, ReconcilerRun, Registrant
from tollgate.domain.billing_state import (
    CheckoutSession, InvoicePayment, SubscriptionItem, SubscriptionPage, SubscriptionState,
)
from tollgate.plans import Plan, PlanCatalog
from tollgate.ports import Accounts, Analytics, ApiKeys, Billing, Metrics, PaymentMethods

# The plans the fakes' deployment sells: the default (paid, metered, no card first, as a deployment of
# the flat settings), a free plan, and a paid plan that needs a card before its key works.
TEST_PLANS = PlanCatalog((
    Plan("standard", "Standard", "usage-plan-standard", "price_1", False, 10_000, "MONTH"),
    Plan("free", "Free", "usage-plan-free", None, False, 1_000, "MONTH"),
    Plan("pro", "Pro", "usage-plan-pro", "price_pro", True, 100_000, "MONTH"),
))


class SleepingClock:
    """Epoch seconds that move only when the code under test sleeps (or a test moves `now`)."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


class FakeApiKeys(FaultyFake, ApiKeys):
    port = "apigateway"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.keys: dict[str, dict] = {}  # id -> {"name", "value", "enabled"}
        self.plan: dict[str, str] = {}  # key id -> the usage plan it is in
        self.other_keys_in_region = 0
        self._ids = itertools.count(1)

    def create_key(self, name: str, description: str) -> IssuedKey:
        with self._call("create_key", name):
            key = IssuedKey(id=f"key{next(self._ids):04d}", value=secrets.token_urlsafe(30))
            self.keys[key.id] = {"name": name, "value": key.value, "enabled": True, "created_at": int(time.time())}
            return key

    def delete_key(self, key_id: str) -> None:
        with self._call("delete_key", key_id):
            self.keys.pop(key_id, None)
            self.plan.pop(key_id, None)

    def attach_to_plan(self, key_id: str, usage_plan_id: str) -> None:
        """As API Gateway: one usage plan per key per stage (another one is a ConflictException)."""
        with self._call("attach_to_plan", key_id, usage_plan_id):
            if key_id not in self.keys:
                raise DownstreamError(self.port, f"no key {key_id}", retryable=False)
            if self.plan.get(key_id, usage_plan_id) != usage_plan_id:
                raise DownstreamError(self.port, f"key {key_id} is in usage plan {self.plan[key_id]} already",
                                      retryable=False)
            self.plan[key_id] = usage_plan_id

    def detach_from_plan(self, key_id: str, usage_plan_id: str) -> None:
        with self._call("detach_from_plan", key_id, usage_plan_id):
            if self.plan.get(key_id) == usage_plan_id:
                del self.plan[key_id]

    def set_enabled(self, key_id: str, enabled: bool) -> None:
        with self._call("set_enabled", key_id, enabled):
            if key_id not in self.keys:
                raise DownstreamError(self.port, f"no key {key_id}", retryable=False)
            self.keys[key_id]["enabled"] = enabled

    def key_value(self, key_id: str) -> str:
        with self._call("key_value", key_id):
            if key_id not in self.keys:
                raise DownstreamError(self.port, f"no key {key_id}", retryable=False)
            return self.keys[key_id]["value"]

    def keys_named(self, prefix: str) -> list[ListedKey]:
        with self._call("keys_named", prefix):
            return [ListedKey(key_id, key["name"], key["created_at"])
                    for key_id, key in self.keys.items() if key["name"].startswith(prefix)]

    def count_in_region(self) -> int:
        """This deployment's keys and `other_keys_in_region` (other APIs' keys count against the quota too)."""
        with self._call("count_in_region"):
            return len(self.keys) + self.other_keys_in_region

    def can_call_api(self, key_id: str) -> bool:
        """What API Gateway would decide: the key exists, is enabled and is in the plan."""
        return key_id in self.plan and self.keys.get(key_id, {}).get("enabled", False)


class FakeBilling(FaultyFake, Billing):
    """Stripe as the domain sees it: an idempotency key replays the id its first call created,
    and refuses other arguments (as Stripe's `idempotency_error`); deleting a customer cancels
    its subscriptions."""

    port = "stripe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.customers: dict[str, dict] = {}
        # id -> {"customer", "status", "items": [(price, created)], "period_start", "cancel_at_period_end"}
        self.subscriptions: dict[str, dict] = {}
        self.meters: dict[str, str] = {}  # price -> its meter (a price missing here has a meter of its own)
        self.clock: Callable[[], float] = time.time
        # Stripe saves a create's result once it started executing, a 500 included, and replays it
        # for the same idempotency key: with `saves_errors`, an injected failure is replayed too.
        self.saves_errors = False
        self.saved_errors: dict[str, DownstreamError] = {}
        self.open_invoices: dict[str, list[int]] = {}  # subscription id -> amounts owed, oldest first
        self.paid_invoices: list[tuple[str, int]] = []
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
            return [customer_id for customer_id, customer in self.customers.items()
                    if customer["metadata"].get("awsAPIKeyId") == api_key_id]

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
            self.subscriptions[subscription_id] = {"customer": customer_id, "status": "active",
                                                   "items": [(price_id, now)], "period_start": now,
                                                   "cancel_at_period_end": False}
            self._idempotent[idempotency_key] = (arguments, subscription_id)
            return subscription_id

    def _replay(self, idempotency_key: str, arguments: tuple) -> str:
        first_arguments, created_id = self._idempotent[idempotency_key]
        if arguments != first_arguments:
            raise DownstreamError(self.port, f"idempotency key {idempotency_key} reused with other arguments",
                                  retryable=False)
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
            shared = [price for price in prices
                      if price != price_id and self.meters.get(price, price) == self.meters.get(price_id, price_id)]
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

    def _live(self, subscription_id: str) -> dict:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription["status"] == "canceled":
            raise DownstreamError(self.port, f"no live subscription {subscription_id}", retryable=False)
        return subscription

    def _state(self, subscription_id: str) -> SubscriptionState:
        if subscription_id not in self.subscriptions:
            raise DownstreamError(self.port, f"no subscription {subscription_id}", retryable=False)
        sub = self.subscriptions[subscription_id]
        return SubscriptionState(subscription_id, sub["customer"], sub["status"],
                                 tuple(SubscriptionItem(price, created) for price, created in sub.get("items", ())),
                                 sub.get("period_start", 0), sub.get("cancel_at_period_end", False))

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
            page = newest_first[start:start + limit]
            states = tuple(self._state(sid) for sid in page)
            return SubscriptionPage(states, has_more=start + limit < len(newest_first))

    def pay_open_invoices(self, subscription_id: str, idempotency_key: str) -> InvoicePayment:
        """Pays `open_invoices[subscription_id]` (amounts) with `default_payment_methods`; a method in
        `declining_methods` is refused. Paying settles the subscription to `active`."""
        with self._call("pay_open_invoices", subscription_id, idempotency_key):
            subscription = self.subscriptions[subscription_id]
            method = self.default_payment_methods.get(subscription["customer"])
            invoices = self.open_invoices.get(subscription_id, [])
            paid = 0
            while invoices:
                if method is None or method in self.declining_methods:
                    return InvoicePayment(paid, declined="Your card was declined.")
                self.paid_invoices.append((subscription_id, invoices.pop(0)))
                paid += 1
            if subscription["status"] in ("past_due", "unpaid"):
                subscription["status"] = "active"
            return InvoicePayment(paid)

    def live_subscriptions(self) -> list[str]:
        return [sid for sid, sub in self.subscriptions.items() if sub["status"] != "canceled"]


class FakeAnalytics(FaultyFake, Analytics):
    port = "moesif"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.companies: dict[str, dict[str, str]] = {}
        self.users: dict[str, dict] = {}

    def upsert_company(self, company_id: str, metadata: dict[str, str]) -> None:
        with self._call("upsert_company", company_id):
            self.companies[company_id] = dict(metadata)

    def upsert_user(self, user_id: str, company_id: str, metadata: dict[str, str]) -> None:
        with self._call("upsert_user", user_id, company_id):
            self.users[user_id] = {"company_id": company_id, "metadata": dict(metadata)}


class FakePaymentMethods(FaultyFake, PaymentMethods):
    """Stripe Checkout and default payment methods as the domain sees them; shares the default
    methods with a FakeBilling, so a card added at Checkout is the one its invoices are paid with."""

    port = "stripe"

    def __init__(self, billing: FakeBilling | None = None, **kwargs):
        super().__init__(**kwargs)
        self.setup_intents: dict[str, str] = {}  # seti_... -> the payment method it collected
        self.default_payment_methods: dict[str, str] = billing.default_payment_methods if billing else {}
        self.checkout_sessions: dict[str, dict] = {}  # idempotency key -> session
        self._ids = itertools.count(1)

    def set_default_payment_method(self, customer_id: str, setup_intent_id: str) -> None:
        with self._call("set_default_payment_method", customer_id, setup_intent_id):
            if setup_intent_id not in self.setup_intents:
                raise DownstreamError(self.port, f"no setup intent {setup_intent_id}", retryable=False)
            self.default_payment_methods[customer_id] = self.setup_intents[setup_intent_id]

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
        session["complete"] = True
        return session["id"], setup_intent_id


class FakeAccounts(FaultyFake, Accounts):
    """The accounts table with DynamoDB's conditional-write semantics; rows are copied in and
    out so callers cannot change stored state behind its back."""

    port = "dynamodb"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: dict[str, Account] = {}
        self.billing_events: dict[str, int] = {}  # Stripe event id -> remember until (epoch s)
        self.reconciler_run: ReconcilerRun | None = None
        self.key_pointers: dict[str, set[str]] = {}  # email -> earlier key ids (the `api-key#<id>` items)

    def get(self, email: str) -> Account | None:
        with self._call("get", email), self._lock:
            return copy.deepcopy(self.rows.get(email))

    def save(
        self, account: Account, expected_status: AccountStatus | None, expected_attempt_id: str | None = None
    ) -> None:
        with self._call("save", account.email, account.status), self._lock:
            self._check(account.email, expected_status, expected_attempt_id)
            self.rows[account.email] = copy.deepcopy(account)

    def delete(self, email: str, expected_status: AccountStatus, expected_attempt_id: str | None = None) -> None:
        with self._call("delete", email), self._lock:
            self._check(email, expected_status, expected_attempt_id)
            del self.rows[email]

    def find_by_api_key_id(self, api_key_id: str) -> Account | None:
        with self._call("find_by_api_key_id", api_key_id):
            return (self._find(lambda row: row.api_key_id == api_key_id)
                    or self._find(lambda row: api_key_id in self.key_pointers.get(row.email, set())
                                  and row.key(api_key_id) is not None))

    def save_keys(self, account: Account, previous: Account) -> None:
        with self._call("save_keys", account.email), self._lock:
            current = self.rows.get(account.email)
            if (current is None or current.status is not previous.status
                    or current.keys_revision != previous.keys_revision):
                raise ConcurrentUpdate(f"the keys of {account.email} changed meanwhile")
            self.rows[account.email] = replace(current, keys=account.key_records, api_key_id=account.api_key_id,
                                               keys_revision=previous.keys_revision + 1)
            self.key_pointers.setdefault(account.email, set()).update(
                record.id for record in account.key_records if record.id != account.api_key_id)

    def save_plan(self, account: Account, previous: Account) -> None:
        with self._call("save_plan", account.email), self._lock:
            current = self.rows.get(account.email)
            if current is None or any(getattr(current, name) != getattr(previous, name) for name in (
                    "status", "plan_id", "pending_plan_id", "subscription_id")):
                raise ConcurrentUpdate(f"the plan of {account.email} changed meanwhile")
            self.rows[account.email] = replace(
                current, plan_id=account.plan_id, plan_changes=account.plan_changes,
                pending_plan_id=account.pending_plan_id, subscription_id=account.subscription_id, key_synced_for=None)

    def find_by_subscription_id(self, subscription_id: str) -> Account | None:
        with self._call("find_by_subscription_id", subscription_id):
            return self._find(lambda row: row.subscription_id == subscription_id)

    def find_by_customer_id(self, customer_id: str) -> Account | None:
        with self._call("find_by_customer_id", customer_id):
            return self._find(lambda row: row.customer_id == customer_id)

    def list_by_status(self, *statuses: AccountStatus) -> list[Account]:
        with self._call("list_by_status", *statuses), self._lock:
            return [copy.deepcopy(row) for row in self.rows.values() if row.status in statuses]

    def count_by_status(self) -> dict[AccountStatus, int]:
        with self._call("count_by_status"), self._lock:
            return dict(Counter(row.status for row in self.rows.values()))

    def record_key_sync(self, account: Account, synced: bool) -> None:
        with self._call("record_key_sync", account.email, account.status, synced), self._lock:
            current = self.rows.get(account.email)
            if current is None or current.status is not account.status:
                raise ConcurrentUpdate(f"{account.email} is not {account.status.value}")
            self.rows[account.email] = replace(current, key_synced_for=current.status if synced else None)

    def save_billing_event(self, account: Account, previous: Account, event_id: str, remember_until: int) -> None:
        with self._call("save_billing_event", account.email, event_id), self._lock:
            if event_id in self.billing_events:
                raise EventAlreadyApplied(event_id)
            current = self.rows.get(account.email)
            if (
                current is None
                or current.status is not previous.status
                or current.last_billing_event_id != previous.last_billing_event_id
                or current.keys_revision != previous.keys_revision
            ):
                raise ConcurrentUpdate(f"{account.email} changed meanwhile")
            self.rows[account.email] = copy.deepcopy(account)
            self.billing_events[event_id] = remember_until

    def last_reconciler_run(self) -> ReconcilerRun | None:
        with self._call("last_reconciler_run"):
            return self.reconciler_run

    def save_reconciler_run(self, run: ReconcilerRun) -> None:
        with self._call("save_reconciler_run", run.cursor):
            self.reconciler_run = run

    def _check(self, email: str, expected_status: AccountStatus | None, expected_attempt_id: str | None) -> None:
        current = self.rows.get(email)
        if expected_status is None:
            if current is not None:
                raise ConcurrentUpdate(f"{email} already exists")
            return
        if current is None or current.status is not expected_status:
            raise ConcurrentUpdate(f"{email} is not {expected_status.value}")
        if expected_attempt_id is not None and current.attempt_id != expected_attempt_id:
            raise ConcurrentUpdate(f"{email} belongs to another attempt")

    def _find(self, matches) -> Account | None:
        with self._lock:
            return next((copy.deepcopy(row) for row in self.rows.values() if matches(row)), None)


class FakeMetrics(Metrics):
    """Every metric recorded, in order: a test asserts that a point of the code counted it."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, float]] = []

    def count(self, name: str, value: float = 1) -> None:
        self.recorded.append((name, value))

    def level(self, name: str, value: float) -> None:
        self.recorded.append((name, value))

    def total(self, name: str) -> float:
        return sum(value for recorded, value in self.recorded if recorded == name)

    def names(self) -> set[str]:
        """The metrics recorded with a value other than 0 (what the adapter publishes, levels aside)."""
        return {name for name, value in self.recorded if value}


@dataclass
class FakePorts:
    """One of each fake, sharing a latency and a call recorder."""

    api_keys: FakeApiKeys
    billing: FakeBilling
    analytics: FakeAnalytics
    accounts: FakeAccounts
    metrics: FakeMetrics = field(default_factory=FakeMetrics)

    @classmethod
    def create(cls, *, latency: float = 0.0, recorder: CallRecorder | None = None) -> FakePorts:
        options = {"latency": latency, "recorder": recorder}
        return cls(FakeApiKeys(**options), FakeBilling(**options), FakeAnalytics(**options), FakeAccounts(**options))

    def all(self) -> tuple[FaultyFake, ...]:
        return (self.api_keys, self.billing, self.analytics, self.accounts)
