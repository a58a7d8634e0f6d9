"""`make stripe-setup` (ops/stripe_setup.py), run through `main` as the Makefile runs it: against
Stripe as emulated by localstripe + the bridge, twice (the second run must find every object and
create nothing); bad options and keys stop before any Stripe call, with the option named."""

from __future__ import annotations

import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.stripe_setup import build_parser, main, read_api_key
from tollgate import contract

STRIPE_KEY = STRIPE_TEST_SECRET_KEY
BASE = ["--product-name", "Acme API", "--meter-event-name", "acme_api_calls"]


def tollgate_products(client, lookup_key):
    return [p for p in client.v1.products.list({"limit": 100}).auto_paging_iter()
            if p.metadata.to_dict() == {"tollgate": "product", "tollgate_lookup_key": lookup_key}]


OBJECTS = ("product", "meter", "price", "webhook")


def statuses(output: str) -> dict[str, str]:
    """`{"product": "created", ...}` from the command's `<object>  <id>  <status>` lines."""
    rows = [line.split() for line in output.splitlines()]
    return {row[0]: row[2] for row in rows if row and row[0] in OBJECTS}


def run(names, stripe_api, *extra):
    argv = [
        "--product-name", names["product"],
        "--meter-event-name", names["event"],
        "--lookup-key", names["lookup"],
        "--pricing-model", "graduated",
        "--tier", "up_to=1000,unit_amount_decimal=0.5",
        "--tier", "up_to=inf,unit_amount_decimal=0.2",
        "--webhook-url", names["webhook"],
        "--api-base", stripe_api,
        *extra,
    ]
    return main(argv, environ={"STRIPE_API_KEY": STRIPE_KEY})


def test_running_setup_twice_creates_one_product_meter_price_and_webhook(names, stripe_api, stripe_client, capsys):
    assert run(names, stripe_api) == 0
    first = capsys.readouterr().out
    assert run(names, stripe_api) == 0
    second = capsys.readouterr().out

    products = tollgate_products(stripe_client, names["lookup"])
    meters = [m for m in stripe_client.v1.billing.meters.list({"limit": 100}).auto_paging_iter()
              if m.event_name == names["event"]]
    prices = stripe_client.v1.prices.list({"lookup_keys": [names["lookup"]]}).data
    endpoints = [e for e in stripe_client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter()
                 if e.url == names["webhook"]]
    assert len(products) == 1 and len(meters) == 1 and len(prices) == 1 and len(endpoints) == 1
    product = products[0]
    assert product.name == names["product"]

    price = prices[0]
    assert price.product == product.id
    assert price.recurring.usage_type == "metered" and price.recurring.meter == meters[0].id
    assert price.recurring.interval == "month"
    assert price.tiers_mode == "graduated"
    assert sorted(endpoints[0].enabled_events) == sorted(contract.STRIPE_WEBHOOK_EVENTS)

    assert statuses(first) == dict.fromkeys(OBJECTS, "created")
    assert statuses(second) == dict.fromkeys(OBJECTS, "unchanged")
    assert "whsec_" in first and "whsec_" not in second  # the signing secret is shown once
    for output in (first, second):
        assert f'"stripe_price_id": "{price.id}",' in output and f"-c stripe_price_id={price.id}" in output


def test_a_stripe_refusal_is_reported_without_a_traceback(names, stripe_api, capsys):
    assert main(
        ["--product-name", names["product"], "--meter-event-name", names["event"], "--unit-amount", "1",
         "--api-base", stripe_api + "/no-such-prefix"],
        environ={"STRIPE_API_KEY": STRIPE_KEY},
    ) == 1
    assert "Stripe refused" in capsys.readouterr().err


def test_an_unreachable_stripe_is_reported_in_one_line(names, capsys):
    assert main(
        ["--product-name", names["product"], "--meter-event-name", names["event"], "--unit-amount", "1",
         "--api-base", "http://127.0.0.1:9"],
        environ={"STRIPE_API_KEY": STRIPE_KEY},
    ) == 1
    assert capsys.readouterr().err == (
        "Could not reach Stripe at http://127.0.0.1:9; check the network and retry (re-running is safe).\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--unit-amount", "abc"], "is not a number"),
        (["--unit-amount", "-1"], "must be zero or more"),
        (["--unit-amount", "0.0000000000001"], "more than 12 decimal places"),
        (["--pricing-model", "package", "--unit-amount", "1", "--package-size", "0"], "1 or more"),
        (["--pricing-model", "graduated", "--tier", "up_to=10"], "needs unit_amount_decimal"),
        (["--pricing-model", "graduated", "--tier", "unit_amount_decimal=1"], "needs up_to"),
        (["--pricing-model", "graduated", "--tier", "up_to=10,price=1"], "unknown tier field(s) price"),
        (["--pricing-model", "graduated", "--tier", "up_to10"], "is not name=value"),
        (["--pricing-model", "flat"], "invalid choice: 'flat'"),
        (["--interval", "fortnight"], "invalid choice: 'fortnight'"),
        (["--unit-amount", "1", "--webhook-url", "ftp://example.com/hook"], "is not an http(s) URL"),
    ],
)
def test_malformed_arguments_are_rejected_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(BASE + argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_api_key_comes_from_the_environment_without_prompting():
    def no_prompt(_):
        raise AssertionError("must not prompt when STRIPE_API_KEY is set")

    assert read_api_key({"STRIPE_API_KEY": "sk_test_abc"}, no_prompt) == "sk_test_abc"


def test_api_key_is_prompted_for_when_the_environment_has_none():
    assert read_api_key({}, lambda _: " rk_live_xyz ") == "rk_live_xyz"


def test_a_malformed_key_is_refused_without_echoing_it(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(BASE + ["--unit-amount", "1"], environ={"STRIPE_API_KEY": "pk_test_publishable"})
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must look like sk_test_" in err
    assert "pk_test_publishable" not in err


def test_usage_reported_by_moesif_is_refused_before_any_stripe_call(names, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(BASE + ["--unit-amount", "1", "--usage-reporter", "moesif", "--api-base", "http://127.0.0.1:9"],
             environ={"STRIPE_API_KEY": STRIPE_KEY})  # nothing listens on port 9: a call would fail differently
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "usage_reporter is moesif, and the price make stripe-setup creates would bill nothing" in err
    assert "https://www.moesif.com/docs/metered-billing/integrate-with-stripe/" in err
    assert "set usage_reporter to tollgate" in err
