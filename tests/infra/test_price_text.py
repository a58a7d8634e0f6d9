"""infra/price_text.py: how a plan's price_text is read (every price per call it states, in the
currency's minor unit as Stripe holds amounts) and held to the price that bills it. The commands
that use it are tested through their entry points: tests/ops/test_stripe_setup.py (a paid plan's
text against the price it creates) and tests/infra/test_plan_settings.py (a free plan at synth)."""

from decimal import Decimal

import pytest

from infra.price_text import PriceTextError, check_paid_plan, stated_rates


@pytest.mark.parametrize(
    ("text", "currency", "minor_units_per_call"),
    [
        ("$0.001 per call, billed monthly", "usd", ["0.1"]),
        ("From $0.0005 a call", "usd", ["0.05"]),
        ("$1 per 1,000 calls", "usd", ["0.1"]),
        ("€2 / 1k API calls", "eur", ["0.2"]),
        ("USD 0.50 per 1M requests", "usd", ["0.00005"]),
        ("0.002 EUR/call", "eur", ["0.2"]),
        ("0.1¢ per request", "usd", ["0.1"]),
        ("0.1 cents a call", "usd", ["0.1"]),
        ("¥1 per call", "jpy", ["1"]),  # a zero-decimal currency: the yen is the minor unit
        ("0.001 KWD per call", "kwd", ["1"]),  # three decimals: a thousandth of a dinar
        ("Free up to 1,000 calls, then $0.001 per successful call", "usd", ["0.1"]),
        ("Free up to 1,000 calls a month", "usd", []),  # a quantity, not a price
        ("$5 a month for 1,000 calls", "usd", []),  # a flat fee is not a price per call
        ("for 2 calls", "usd", []),  # "for" is not a currency code
    ],
)
def test_every_price_per_call_the_text_states_is_read_in_minor_units(text, currency, minor_units_per_call):
    assert [rate.in_minor_units(currency) for rate in stated_rates(text)] == [
        Decimal(amount) for amount in minor_units_per_call
    ]


def test_a_text_stating_one_of_the_tiers_rates_agrees_with_a_tiered_price():
    check_paid_plan("pro", "From $0.0005 a call", "usd", [Decimal("0.05"), Decimal("0.02")], "tiers")


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        (
            "$0.0002 per call",
            "usd",
            "plan 'pro': price_text '$0.0002 per call' says 0.0002 USD per call, but its Stripe price bills BILLED",
        ),
        (
            "Only $1 per 5,000 calls!",
            "usd",
            "price_text 'Only $1 per 5,000 calls!' says 0.0002 USD per call ('$1 per 5,000 calls'), but its Stripe price",
        ),
        (
            "€0.001 per call",
            "usd",
            "names a price in another currency than USD, the one its Stripe price bills: BILLED",
        ),
        ("Billed monthly", "usd", "price_text 'Billed monthly' states no price per call"),
    ],
)
def test_a_text_contradicting_the_price_is_refused_naming_the_plan_and_both_values(text, currency, message):
    with pytest.raises(PriceTextError) as raised:
        check_paid_plan("pro", text, currency, [Decimal("0.1")], "BILLED")

    assert message in str(raised.value)
