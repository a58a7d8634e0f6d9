"""The steps of `make smoke` (ops/smoke.py) and the clean-up of everything they created.

Each step does what a customer (or Stripe, for the cancellation) does, over HTTP against the
deployment's own addresses, and checks the answer; what needs the owner's AWS credentials is
limited to two things a customer gets by email: the sign-up confirmation and the sign-in link. The
customer access table keeps only a link token's hash (tollgate.domain.email_links), so nobody,
the owner included, can read the link that was emailed; the owner stores a link of their own
instead, for the same address and sign-up, and posts its token to the same public route the
emailed one goes to. No public route is added or bent for it.

Everything created is recorded on the run as it appears, so `clean_up` removes it whatever step
failed, each action reported.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from http.cookies import SimpleCookie
from typing import Any

from tollgate import contract
from tollgate.domain.customer_access import EmailLink, LinkPurpose, token_hash
from tollgate.domain.errors import ConcurrentUpdate
from tollgate.domain.models import Registrant
from tollgate.plans import Plan
from tollgate.wiring import Wiring

HTTP_TIMEOUT_SECONDS = 30
ROW_DELETE_ATTEMPTS = 5  # the webhook may still be writing the row when it is deleted: read again and retry


class StepFailed(Exception):
    """A step's check did not hold; the message says what was expected and what came."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    cookies: dict[str, str]


@dataclass
class Created:
    """What the run created, recorded as soon as it exists (what `clean_up` removes)."""

    email: str | None = None
    customer_id: str | None = None
    key_ids: list[str] = field(default_factory=list)
    session_token: str | None = None
    link_hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    calls: int
    path: str
    timeout: float
    poll_seconds: float
    email: str


class SmokeRun:
    """One run against one deployment: `wired` its adapters (the owner's credentials), `api_url`
    and `site_url` its two public origins."""

    def __init__(
        self,
        wired: Wiring,
        api_url: str,
        site_url: str,
        options: Options,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._wired = wired
        self._api = api_url.rstrip("/")
        self._site = site_url.rstrip("/")
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._plans = wired.config.plans
        self._started = clock()
        self.created = Created()
        self._keys: dict[str, str] = {}  # key id -> value, newest last

    # --- the steps, in order -------------------------------------------------------------------

    def sign_up(self) -> str:
        """On the default plan, through the signup page's route; with verify_email, confirmed through
        the public confirm route with a link the owner stores (see the module docstring)."""
        plan = self._plans.default
        if plan.requires_payment_method:
            raise StepFailed(
                f"the default plan {plan.id!r} needs a card before its key works: make smoke cannot "
                "add one; put a plan without require_payment_method first in `plans`"
            )
        email = self._options.email
        self.created.email = email
        registrant = Registrant(email, "Tollgate", "Smoke")
        answer = self._post(
            self._site + contract.ROUTE_SITE_REGISTER,
            {"email": email, "firstname": registrant.first_name, "lastname": registrant.last_name},
            {contract.IDEMPOTENCY_HEADER: str(uuid.uuid4())},
        )
        how = "without email verification"
        if answer.status == 202:
            answer = self._post(
                self._site + contract.ROUTE_SIGNUP_CONFIRM, {"token": self._owner_link(LinkPurpose.SIGN_UP, registrant)}
            )
            how = "confirmed with a link the owner stored"
        if answer.status != 201:
            raise StepFailed(f"sign-up answered {answer.status}: {answer.body}")
        self.created.customer_id = answer.body.get("customerId")
        self._keys[answer.body["keyId"]] = answer.body[contract.API_KEY_VALUE_FIELD]
        self.created.key_ids.append(answer.body["keyId"])
        return f"{email} on {plan.id}, {how}: key {answer.body['keyId']}, customer {self.created.customer_id}"

    def call_api(self) -> str:
        key_id, key = self._current_key()
        statuses = [self._call(key) for _ in range(self._options.calls)]
        if any(not 200 <= status < 300 for status in statuses):
            raise StepFailed(f"{self._options.path} with key {key_id} answered {statuses}: every call should be 2xx")
        return f"{len(statuses)} x GET {self._options.path}: 2xx"

    def meter(self) -> str:
        """Stripe's meter of the default plan's price shows exactly the calls made, for this customer,
        read as `make usage-report` reads it (meter event summaries over whole UTC days)."""
        usage, plan = self._wired.config.usage, self._plans.default
        if usage is None:
            return "skipped: usage_reporter=moesif (Moesif reports the usage to Stripe, not this stack)"
        if plan.price_id is None:
            return f"skipped: the default plan {plan.id!r} is free"
        customer_id, expected = self._customer(), self._options.calls
        day = datetime.fromtimestamp(self._started, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start, end = int(day.timestamp()), int((day + timedelta(days=2)).timestamp())
        seen: list[float] = []

        def units() -> bool:
            seen.append(self._wired.usage_meter.reported_units(customer_id, plan.price_id or "", start, end))
            if seen[-1] > expected:
                raise StepFailed(
                    f"Stripe's meter shows {seen[-1]:g} units for {customer_id}, more than the {expected} calls made"
                )
            return seen[-1] == expected

        waited = self._wait(units, lambda: f"Stripe's meter shows {seen[-1]:g} of {expected} units for {customer_id}")
        return f"{expected} units for {customer_id} after {waited:.0f} s"

    def account(self) -> str:
        """Signed in through the public sign-in route (with a link the owner stores), the account API
        shows the account as the page does."""
        email = self._email()
        answer = self._post(
            self._site + contract.ROUTE_SIGNIN_CONFIRM, {"token": self._owner_link(LinkPurpose.SIGN_IN)}
        )
        token = answer.cookies.get(contract.SESSION_COOKIE)
        if answer.status != 200 or not token:
            raise StepFailed(f"sign-in answered {answer.status} without the session cookie: {answer.body}")
        self.created.session_token = token
        overview = self._account_overview()
        key_id, _ = self._current_key()
        problems = [
            f"{name} is {overview.get(name)!r}, not {wanted!r}"
            for name, wanted in (("email", email), ("status", "active"))
            if overview.get(name) != wanted
        ]
        if overview["plan"]["id"] != self._plans.default.id:
            problems.append(f"plan is {overview['plan']['id']!r}, not {self._plans.default.id!r}")
        if key_id not in json.dumps(overview.get("keys")):
            problems.append(f"key {key_id} is not listed")
        if problems:
            raise StepFailed("GET " + contract.ROUTE_ACCOUNT + ": " + "; ".join(problems))
        return f"active on {overview['plan']['id']}, {overview.get('billableCalls')} billable call(s) shown"

    def rotate(self) -> str:
        old_id, old_key = self._current_key()
        answer = self._post(self._site + contract.ROUTE_ACCOUNT_KEY_ROTATE, {}, self._session())
        if answer.status != 201:
            raise StepFailed(f"rotation answered {answer.status}: {answer.body}")
        new_id = answer.body["keyId"]
        self._keys[new_id] = answer.body[contract.API_KEY_VALUE_FIELD]
        self.created.key_ids.append(new_id)
        statuses = {old_id: self._call(old_key), new_id: self._call(self._keys[new_id])}
        if any(not 200 <= status < 300 for status in statuses.values()):
            raise StepFailed(f"during the grace both keys should work; they answered {statuses}")
        return f"new key {new_id}; both answer 2xx during the {answer.body['graceSeconds'] / 3600:g} h grace"

    def change_plan(self) -> str:
        default = self._plans.default
        other = next((plan for plan in self._plans if plan.id != default.id and not plan.requires_payment_method), None)
        if other is None:
            return "skipped: no other plan without a card to change to"
        for plan in (other, default):
            self._change_to(plan)
        _, key = self._current_key()
        status = self._call(key)
        if not 200 <= status < 300:
            raise StepFailed(f"back on {default.id}, the key answered {status}")
        return f"{default.id} -> {other.id} -> {default.id}, the key kept and answering 2xx"

    def cancel(self) -> str:
        """As the customer does in Stripe's portal: the subscription canceled in Stripe; the webhook
        (or the reconciler) cuts every key of the account off."""
        row = self._wired.accounts.get(self._email())
        if row is None or not row.subscription_id:
            raise StepFailed(f"the account of {self._email()} has no subscription to cancel")
        self._wired.billing.cancel_subscription(row.subscription_id)
        statuses: dict[str, int] = {}

        def refused() -> bool:
            statuses.update({key_id: self._call(key) for key_id, key in self._keys.items()})
            return all(status == 403 for status in statuses.values())

        waited = self._wait(refused, lambda: f"after canceling {row.subscription_id} the keys answered {statuses}")
        return f"{row.subscription_id} canceled; every key answers 403 after {waited:.0f} s"

    # --- clean-up ------------------------------------------------------------------------------

    def clean_up(self) -> list[tuple[str, str | None]]:
        """Remove what the run created, each action tried whatever the others did: (what, None) when
        done, (what, why) when it failed."""
        done: list[tuple[str, str | None]] = []

        def attempt(what: str, action: Callable[[], object]) -> None:
            try:
                action()
                done.append((what, None))
            except Exception as error:  # noqa: BLE001 - every clean-up action is tried and reported
                done.append((what, str(error) or type(error).__name__))

        created, wired = self.created, self._wired
        if created.customer_id:
            attempt(
                f"delete Stripe customer {created.customer_id} (Stripe cancels its subscriptions)",
                lambda: wired.billing.delete_customer(created.customer_id or ""),
            )
        row = wired.accounts.get(created.email) if created.email else None
        records = row.key_records if row else ()
        # The account's API Gateway keys: its usage key, and any a key imported by make migrate-keys still names.
        gateway_key_ids = dict.fromkeys(
            filter(None, [row.api_key_id if row else None, *(record.gateway_key_id for record in records)])
        )
        for gateway_key_id in gateway_key_ids:
            attempt(f"delete API key {gateway_key_id}", partial(wired.api_keys.delete_key, gateway_key_id))
        for record in records:
            if record.key_hash:
                attempt(
                    f"delete the keys-table item of key {record.id}", partial(wired.key_items.delete, record.key_hash)
                )
        for key_id in dict.fromkeys([*created.key_ids, *(record.id for record in records)]):
            attempt(
                f"forget the retirement reminder of key {key_id}",
                partial(wired.customer_access.forget_retirement, key_id),
            )
        if created.email:
            email = created.email
            attempt(
                f"close the sessions of {email}",
                lambda: [
                    wired.customer_access.delete_session(session)
                    for session in wired.customer_access.sessions_of(email)
                ],
            )
            attempt(f"remove the unused email links to {email}", lambda: wired.customer_access.drop_links_to(email))
            attempt(f"delete the account row of {email}", lambda: self._delete_row(email))
        return done

    def _delete_row(self, email: str) -> None:
        for _ in range(ROW_DELETE_ATTEMPTS):
            row = self._wired.accounts.get(email)
            if row is None:
                return
            try:
                self._wired.accounts.delete(row)
                return
            except ConcurrentUpdate:
                continue  # a webhook wrote it meanwhile
        raise ConcurrentUpdate(f"the row of {email} kept changing")

    # --- helpers -------------------------------------------------------------------------------

    def _owner_link(self, purpose: LinkPurpose, registrant: Registrant | None = None) -> str:
        """A one-time link of `purpose` for the run's address, stored with the owner's credentials as
        the emailed one is; its token, for the public confirm route."""
        token = secrets.token_urlsafe(32)
        expires = int(self._clock()) + int(self._options.timeout) + 3600
        self._wired.customer_access.put_link(EmailLink(token_hash(token), purpose, self._email(), expires, registrant))
        self.created.link_hashes.append(token_hash(token))
        return token

    def _change_to(self, plan: Plan) -> None:
        answer = self._post(self._site + contract.ROUTE_ACCOUNT_PLAN, {"plan": plan.id}, self._session())
        if answer.status != 200 or answer.body.get("plan") != plan.id:
            raise StepFailed(f"changing to {plan.id} answered {answer.status}: {answer.body}")
        shown = self._account_overview()["plan"]["id"]
        if shown != plan.id:
            raise StepFailed(f"after changing to {plan.id} the account shows {shown}")

    def _account_overview(self) -> dict[str, Any]:
        answer = self._request("GET", self._site + contract.ROUTE_ACCOUNT, None, self._session())
        if answer.status != 200:
            raise StepFailed(f"GET {contract.ROUTE_ACCOUNT} answered {answer.status}: {answer.body}")
        return answer.body

    def _wait(self, condition: Callable[[], bool], last_seen: Callable[[], str]) -> float:
        """Seconds until `condition` held, polling every poll_seconds; StepFailed after the timeout."""
        start = self._clock()
        while not condition():
            if self._clock() - start >= self._options.timeout:
                raise StepFailed(f"timed out after {self._options.timeout:g} s: {last_seen()}")
            self._sleep(self._options.poll_seconds)
        return self._clock() - start

    def _call(self, key: str) -> int:
        return self._request("GET", self._api + self._options.path, None, {contract.API_KEY_HEADER: key}).status

    def _post(self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
        return self._request("POST", url, body, headers)

    def _request(self, method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str] | None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                status, answer_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        cookies = SimpleCookie()
        for header in answer_headers.get_all("Set-Cookie") or []:
            cookies.load(header)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")[:200]}
        return Answer(status, parsed, {name: morsel.value for name, morsel in cookies.items()})

    def _session(self) -> dict[str, str]:
        if not self.created.session_token:
            raise StepFailed("not signed in: the account step did not open a session")
        return {"Cookie": f"{contract.SESSION_COOKIE}={self.created.session_token}"}

    def _current_key(self) -> tuple[str, str]:
        if not self._keys:
            raise StepFailed("no key: the sign-up did not finish")
        key_id = next(reversed(self._keys))
        return key_id, self._keys[key_id]

    def _customer(self) -> str:
        if not self.created.customer_id:
            raise StepFailed("no Stripe customer: the sign-up did not finish")
        return self.created.customer_id

    def _email(self) -> str:
        if not self.created.email:
            raise StepFailed("no account: the sign-up did not start")
        return self.created.email
