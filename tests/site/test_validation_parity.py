"""The page's client-side checks (site/validation.js, run in Chromium) and the server's
(tollgate.domain.validation) accept and refuse exactly the same sign-ups: one table, both sides."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page

from testkit.fake_ports import TEST_PLANS
from signup_page import page_without_api
from tollgate.domain.errors import ValidationFailed
from tollgate.domain.validation import (
    MAX_EMAIL_LENGTH,
    MAX_EMAIL_LOCAL_PART_LENGTH,
    MAX_NAME_LENGTH,
    parse_registration,
)

pytestmark = pytest.mark.browser

VALID = {"email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace"}
LONGEST_DOMAIN = "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"
LONGEST_LOCAL = "l" * MAX_EMAIL_LOCAL_PART_LENGTH
EMAILS = [
    "ada@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.ie", "ADA@EXAMPLE.COM",
    "  ada@example.com  ", "ada@example.xn--p1ai", f"{LONGEST_LOCAL}@{LONGEST_DOMAIN}",
    f"{LONGEST_LOCAL}x@example.com", f"{LONGEST_LOCAL}@x{LONGEST_DOMAIN}", "", "   ", "ada", "ada@", "@example.com",
    "ada@localhost", "ada@example.c", "ada@example.123", "ada@-example.com", "ada@example-.com",
    "ada@exa_mple.com", "ada@example..com", "ada..b@example.com", ".ada@example.com", "a@b@example.com",
    "adä@example.com", "ada@exämple.com", "ada lovelace@example.com",
]
NAMES = [
    "Ada", "Zoë", "名前", "O'Brien-Smith", "  Ada  ", "L" * MAX_NAME_LENGTH, "L" * (MAX_NAME_LENGTH + 1),
    "😀" * MAX_NAME_LENGTH, "😀" * (MAX_NAME_LENGTH + 1), "", "   ", "A\u200bda", "A\tda", "A\u2028da", "\ue000",
    "A\u202eda", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0915\u094d\u200d\u0937",
    "\U0001f469\u200d\U0001f4bb", "A\u200eda", "A\ufeffda", "A\u2066da",
]
CASES = ([{**VALID, "email": email} for email in EMAILS]
         + [{**VALID, field: name} for name in NAMES for field in ("firstname", "lastname")])


def server_refuses(values: dict[str, str]) -> list[str]:
    try:
        parse_registration(json.dumps(values), TEST_PLANS.ids)
    except ValidationFailed as failure:
        return sorted(failure.fields)
    return []


@pytest.fixture(scope="module")
def page(browser_context: BrowserContext) -> Iterator[Page]:
    with page_without_api(browser_context, "window.TollgateValidation !== undefined") as page:
        yield page


def test_the_longest_valid_email_is_exactly_the_server_limit() -> None:
    assert len(f"{LONGEST_LOCAL}@{LONGEST_DOMAIN}") == MAX_EMAIL_LENGTH


def test_client_and_server_refuse_the_same_fields(page: Page) -> None:
    # The page trims what it reads from the form, as readSignup() does.
    client = page.evaluate("""cases => cases.map(values => Object.keys(TollgateValidation.validateSignup(
        Object.fromEntries(Object.entries(values).map(([name, value]) => [name, value.trim()])))).sort())""", CASES)
    disagreements = [(case, mine, server_refuses(case)) for case, mine in zip(CASES, client, strict=True)
                     if mine != server_refuses(case)]
    assert disagreements == []


def test_client_limits_are_the_server_limits(page: Page) -> None:
    assert page.evaluate("() => TollgateValidation.LIMITS") == {
        "emailMax": MAX_EMAIL_LENGTH, "emailLocalMax": MAX_EMAIL_LOCAL_PART_LENGTH, "nameMax": MAX_NAME_LENGTH}
