"""`make stripe-setup` against Stripe as emulated by localstripe + the bridge (gaps bridged there:
/v1/prices, billing meters, webhook endpoints and Idempotency-Key replay).

The command runs twice, through `main` (the path `make stripe-setup` takes): the second run must
find every object and create nothing."""

from __future__ import annotations

import uuid

import pytest

from ops.stripe_setup import CatalogSetup, CatalogSpec, main
from tollgate import contract

STRIPE_KEY = "sk_test_tollgate"


@pytest.fixture
def names():
    """Fresh names per test: the bridge is shared by the whole session."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "product": f"Setup test {suffix}",
        "event": f"setup_test_{suffix}",
        "lookup": f"setup_test_{suffix}",
        "webhook": f"http://127.0.0.1:9/stripe/webhook/{suffix}",
    }


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


def test_a_changed_pricing_model_creates_a_new_price_that_takes_the_lookup_key_over(names, stripe_client):
    setup = CatalogSetup(stripe_client)
    spec = dict(product_name=names["product"], meter_event_name=names["event"], lookup_key=names["lookup"])
    first = setup.ensure(CatalogSpec(pricing_model="per-unit", unit_amount_decimal=1, **spec))
    second = setup.ensure(CatalogSpec(pricing_model="per-unit", unit_amount_decimal=2, **spec))

    assert second.changes["price"].value == "replaced"
    assert (second.product_id, second.meter_id) == (first.product_id, first.meter_id)
    assert second.price_id != first.price_id
    assert [p.id for p in stripe_client.v1.prices.list({"lookup_keys": [names["lookup"]]}).data] == [second.price_id]


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
