"""What a usage-ledger object says: the access-log records Firehose backed up to S3, and which of
them are calls that count.

The usage reporter (what it sends to Stripe) and `make usage-report` (what it compares) both read
the ledger through `read_ledger`, so they can never count differently. The record format is the
stage's access log (infra/access_log.py); the fields read here are named in contract.ACCESS_LOG_*.

A call counts (is *billable*) when its record:
- is for a metered route (`resourcePath` `/` or `/{proxy+}`) and names its caller: the account the
  key authorizer resolved the key to (`principalId`), or, in records from before the authorizer,
  the API key id;
- was answered past API Gateway: no `errorResponseType` (API Gateway sets it whenever it answers
  itself: bad key 403, throttled or over quota 429, integration failures) and not a 403/429 with
  no integration run;
- has a status `billable_statuses` accepts (default `2xx`).
The first two make a *metered call*: what API Gateway counts against the key's usage plan, and what
a quota Tollgate enforces counts (tollgate.domain.usage_limits).

Calls are grouped by their CALLER (`MeteredCall.caller`): the account id when the record has one,
else the API key id. The account is the unit: a pooled gateway key (free plans) is shared by many
accounts, so its id names none of them.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum

from tollgate import contract

# Stripe keeps a meter event identifier unique for "at least 24 hours" (rolling): within that, a
# repeat is refused; after it, a repeat might be counted twice.
STRIPE_DEDUP_WINDOW_SECONDS = 24 * 3600

HOUR_SECONDS = 3600
_GZIP_MAGIC = b"\x1f\x8b"
_STATUS_ITEM = re.compile(contract.BILLABLE_STATUS_PATTERN)
# A 403 (bad or disabled key) or 429 (throttle, quota) with no integration run is API Gateway's own.
_GATEWAY_REFUSALS = frozenset({403, 429})
_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class BillableStatuses:
    """The `billable_statuses` setting: status classes (`2xx`) and exact codes (`304`)."""

    classes: frozenset[int] = frozenset({2})
    codes: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> BillableStatuses:
        """`2xx`, `2xx,304`, ...; ValueError names the item that is neither a class nor a code."""
        items = [item.strip().lower() for item in text.split(",") if item.strip()]
        bad = [item for item in items if not _STATUS_ITEM.match(item)]
        if bad or not items:
            raise ValueError(f"{bad[0] if bad else text!r} is not a status class like 2xx or a status code like 304")
        return cls(
            frozenset(int(item[0]) for item in items if item.endswith("xx")),
            frozenset(int(item) for item in items if not item.endswith("xx")),
        )

    def __contains__(self, status: int) -> bool:
        return status // 100 in self.classes or status in self.codes


class MalformedRecord(ValueError):
    """A record that is not an access-log record in the stage's format."""


@dataclass(frozen=True)
class MeteredCall:
    """One call API Gateway let through on a metered route, for an account or an API key."""

    api_key_id: str  # "" when the record has none
    at_ms: int  # requestTimeEpoch
    status: int
    # What the evidence of a billed call shows (tollgate.domain.evidence); "" when the record has none.
    request_id: str = ""
    method: str = ""
    path: str = ""
    account_id: str = ""  # principalId: "" in records from before the key authorizer

    @property
    def caller(self) -> str:
        """Whose call it is: the account id, else (records from before the authorizer) the API key id."""
        return self.account_id or self.api_key_id


def hour_of(at_ms: int) -> int:
    """The start (epoch seconds) of the UTC hour a call made at `at_ms` is in."""
    return at_ms // 1000 // HOUR_SECONDS * HOUR_SECONDS


def is_account_id(caller: str) -> bool:
    """A caller named by its account id (else it is an API key id: API Gateway's ids have no `_`)."""
    return caller.startswith(contract.ACCOUNT_ID_PREFIX)


@dataclass
class CallerUsage:
    """What one caller (an account, or an API key in records from before the authorizer) did in one
    stretch of ledger."""

    calls: int = 0  # metered calls (what the usage plan counts)
    billable: int = 0
    last_billable_at_ms: int = 0
    billable_calls: list[MeteredCall] = field(default_factory=list)  # each billable call, when kept
    # Metered calls per UTC hour (epoch seconds of its start): what a Tollgate-enforced quota counts.
    calls_by_hour: Counter[int] = field(default_factory=Counter)
    # Metered calls per usage key (MeteredCall.api_key_id): `make usage-report` compares the calls made
    # through a pool's shared keys with API Gateway's count of the pool, not of the account.
    calls_by_key: Counter[str] = field(default_factory=Counter)

    def add(self, call: MeteredCall, billable: bool, keep_calls: bool = True) -> None:
        self.calls += 1
        self.calls_by_hour[hour_of(call.at_ms)] += 1
        self.calls_by_key[call.api_key_id] += 1
        if billable:
            self.billable += 1
            self.last_billable_at_ms = max(self.last_billable_at_ms, call.at_ms)
            if keep_calls:
                self.billable_calls.append(call)


@dataclass
class LedgerUsage:
    """Counts over one ledger object (or several, added up)."""

    records: int = 0
    malformed: int = 0
    by_caller: dict[str, CallerUsage] = field(default_factory=dict)  # MeteredCall.caller -> its usage
    # Each billable call, for the reporter to bill it on the plan of its time and to write its
    # evidence; a count over many objects (make usage-report's totals) needs only the counts.
    keep_calls: bool = True

    @property
    def billable(self) -> int:
        return sum(usage.billable for usage in self.by_caller.values())

    def add(self, call: MeteredCall, billable: bool) -> None:
        self.by_caller.setdefault(call.caller, CallerUsage()).add(call, billable, self.keep_calls)


def read_ledger(
    data: bytes,
    statuses: BillableStatuses,
    start_ms: int | None = None,
    end_ms: int | None = None,
    into: LedgerUsage | None = None,
) -> LedgerUsage:
    """Count one ledger object's records (GZIP or plain), added to `into` when given; only calls
    made in [start_ms, end_ms) when given. A malformed record is counted and skipped; the rest
    still counts."""
    usage = LedgerUsage() if into is None else into
    for record in records(data, usage):
        try:
            call = metered_call(record)
        except MalformedRecord:
            usage.malformed += 1
            continue
        if call is None or not (start_ms or 0) <= call.at_ms < (end_ms or 2**63):
            continue
        usage.add(call, call.status in statuses)
    return usage


def records(data: bytes, usage: LedgerUsage) -> Iterator[Mapping[str, object]]:
    """The JSON objects in `data`, newline-delimited or concatenated with no delimiter at all
    (Firehose writes records to S3 back to back, "without any delimiters" unless told otherwise:
    https://docs.aws.amazon.com/firehose/latest/dev/basic-deliver.html). Counts every record in
    `usage.records`; what does not decode is counted in `usage.malformed` and skipped up to the next
    line, or the next `{` when there are no more lines (access-log records are flat objects)."""
    text = (gzip.decompress(data) if data.startswith(_GZIP_MAGIC) else data).decode("utf-8", errors="replace")
    position, end = 0, len(text)
    while True:
        while position < end and text[position].isspace():
            position += 1
        if position >= end:
            return
        usage.records += 1
        try:
            value, position = _decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            usage.malformed += 1
            position = _resume_after(text, position)
            continue
        if isinstance(value, dict):
            yield value
        else:
            usage.malformed += 1


def _resume_after(text: str, position: int) -> int:
    line_end = text.find("\n", position)
    if line_end != -1:
        return line_end + 1
    next_record = text.find("{", position + 1)
    return len(text) if next_record == -1 else next_record


def metered_call(record: Mapping[str, object]) -> MeteredCall | None:
    """The metered call a record describes, or None for anything else (public routes, calls
    of no account nor key, answers API Gateway gave itself). MalformedRecord if a field it needs is
    not what the stage's format writes."""
    resource = _field(record, contract.ACCESS_LOG_RESOURCE_PATH)
    key_id = _field(record, contract.ACCESS_LOG_API_KEY_ID)
    account_id = _field(record, contract.ACCESS_LOG_PRINCIPAL_ID)
    if account_id is not None and not is_account_id(account_id):
        account_id = None  # not an account's (a denied call's placeholder principal)
    if resource not in contract.METERED_RESOURCE_PATHS or (key_id is None and account_id is None):
        return None
    status = _number(record, contract.ACCESS_LOG_STATUS)
    if _field(record, contract.ACCESS_LOG_ERROR_RESPONSE_TYPE) is not None:
        return None
    if status in _GATEWAY_REFUSALS and _field(record, contract.ACCESS_LOG_INTEGRATION_LATENCY) is None:
        return None
    return MeteredCall(
        key_id or "",
        _number(record, contract.ACCESS_LOG_REQUEST_TIME_EPOCH),
        status,
        _field(record, contract.ACCESS_LOG_REQUEST_ID) or "",
        _field(record, contract.ACCESS_LOG_HTTP_METHOD) or "",
        _field(record, contract.ACCESS_LOG_PATH) or "",
        account_id or "",
    )


def _field(record: Mapping[str, object], name: str) -> str | None:
    value = record.get(name)
    if value is None or value == contract.ACCESS_LOG_MISSING_VALUE or value == "":
        return None
    return str(value)


def _number(record: Mapping[str, object], name: str) -> int:
    value = _field(record, name)
    if value is not None:
        with suppress(ValueError):
            return int(value)
    raise MalformedRecord(f"{name} is {record.get(name)!r}, not a number")


# --- Reports: what the usage reporter sends and remembers (tollgate.domain.metering) -------------


@dataclass(frozen=True)
class LedgerObject:
    """One object of the usage ledger."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class MeterReport:
    """One meter event: the billable calls of one customer in one ledger object."""

    identifier: str
    customer_id: str
    value: int
    timestamp: int  # epoch seconds
    source: LedgerObject
    price_id: str  # the customer's plan's price, whose meter counts the event ("": the default plan's)


class ReportState(StrEnum):
    PENDING = "pending"
    REPORTED = "reported"


@dataclass(frozen=True)
class ReportRecord:
    """What the usage reports table holds about one MeterReport."""

    report: MeterReport
    state: ReportState
    first_attempt_at: int  # epoch seconds

    def ambiguous_at(self, now: float) -> bool:
        """Still pending past Stripe's de-duplication window: Stripe may or may not have it."""
        return self.state is ReportState.PENDING and now - self.first_attempt_at >= STRIPE_DEDUP_WINDOW_SECONDS


@dataclass(frozen=True)
class BatchSummary:
    """What reporting one ledger object came to (kept per object for `make usage-report`)."""

    source: LedgerObject
    records: int
    malformed: int
    billable: int
    customers: int
    # caller (account id, or API key id in records without one) -> billable calls of no customer
    unknown_keys: dict[str, int] = field(default_factory=dict)
    ambiguous: int = 0
    reported_at: int = 0
    billed: int = 0  # the billable calls reported to a Stripe price (not those on a free plan or of no customer)
