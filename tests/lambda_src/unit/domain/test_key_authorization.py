"""The authorizer's decision: which presented values are worth a table read, and which key items call."""

from __future__ import annotations

import pytest

from tollgate import contract
from tollgate.domain import api_key_format
from tollgate.domain.key_authorization import Denial, Grant, decide, worth_a_read

NOW = 1_800_000_000


def item(**overrides: object) -> dict[str, object]:
    """A live key of an active account, as the authorizer reads it."""
    return {
        contract.KEYS_ATTR_STATE: "active",
        contract.KEYS_ATTR_ACCOUNT_STATUS: "active",
        contract.KEYS_ATTR_ACCOUNT_ID: "acct_0123456789abcdefghij",
        contract.KEYS_ATTR_PLAN: "basic",
        contract.KEYS_ATTR_HINT: "Ab3z",
        contract.KEYS_ATTR_USAGE_KEY: "usagekeyvalue0123456789",
        **overrides,
    }


@pytest.mark.parametrize("prefix, mode", [("tgk", "live"), ("tgk", "test"), ("acme2", "live")])
def test_every_well_formed_tollgate_key_is_worth_a_read_whatever_its_prefix(prefix: str, mode: str) -> None:
    assert worth_a_read(api_key_format.new_key(prefix, mode))


def test_legacy_api_gateway_key_values_are_worth_a_read() -> None:
    assert worth_a_read("a" * 20) and worth_a_read("Z9" * 64)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "a" * 19,  # shorter than any API Gateway key
        "a" * 129,  # longer than any
        "abc-def-ghi-jkl-mno-pqr",  # not letters and digits
        "tgk_live_" + "0" * 49,  # the format, a wrong checksum
        "Tgk_live_" + "0" * 49,  # not a prefix
    ],
)
def test_values_that_cannot_be_a_key_cost_no_read(presented: str) -> None:
    assert not worth_a_read(presented)


def test_a_mistyped_tollgate_key_costs_no_read() -> None:
    key = api_key_format.new_key("tgk", "live")
    typo = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    assert not worth_a_read(typo)


def test_an_active_key_of_an_active_account_calls_as_its_account_on_its_usage_key() -> None:
    assert decide(item(), NOW) == Grant(
        account_id="acct_0123456789abcdefghij", plan="basic", key_hint="Ab3z", usage_key="usagekeyvalue0123456789"
    )


def test_a_rotated_out_key_calls_until_its_grace_ends_and_not_at_its_end() -> None:
    rotating = item(**{contract.KEYS_ATTR_STATE: "rotating_out", contract.KEYS_ATTR_NOT_AFTER: NOW + 60})
    assert isinstance(decide(rotating, NOW + 59), Grant)
    assert decide(rotating, NOW + 60) == Denial("key past its rotation grace")


def test_a_rotated_out_key_without_a_grace_end_is_over() -> None:
    assert isinstance(decide(item(**{contract.KEYS_ATTR_STATE: "rotating_out"}), NOW), Denial)


@pytest.mark.parametrize("state", ["revoked", "retired", "", None])
def test_ended_keys_are_denied(state: object) -> None:
    assert isinstance(decide(item(**{contract.KEYS_ATTR_STATE: state}), NOW), Denial)


@pytest.mark.parametrize("status", ["suspended", "canceled", "pending", "failed", "awaiting_payment_method", None])
def test_keys_of_an_account_that_may_not_call_are_denied(status: object) -> None:
    assert decide(item(**{contract.KEYS_ATTR_ACCOUNT_STATUS: status}), NOW) == Denial(f"account {status}")


def test_an_unknown_key_is_denied() -> None:
    assert decide(None, NOW) == Denial("no such key")


@pytest.mark.parametrize(
    "missing",
    [contract.KEYS_ATTR_ACCOUNT_ID, contract.KEYS_ATTR_PLAN, contract.KEYS_ATTR_HINT, contract.KEYS_ATTR_USAGE_KEY],
)
def test_an_item_without_what_a_grant_needs_is_denied(missing: str) -> None:
    incomplete = item()
    del incomplete[missing]
    assert decide(incomplete, NOW) == Denial(f"key item lacks {missing}")
