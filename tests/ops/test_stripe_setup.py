"""`make stripe-setup` (ops/stripe_setup.py), run through `main` as the Makefile runs it: against
Stripe as emulated by localstripe + the bridge, twice (the second run must find every object and
create nothing); bad options and keys stop before any Stripe call, with the option named. With
plans: a meter and price per paid plan, a block Settings accepts, a wrong plan refused by name."""

from __future__ import annotations

import json

import pytest

from infra.settings import Settings, load_cdk_json_context
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.stripe_setup import CDK_JSON, PLANS_BLOCK_PREFIX, build_parser, main, read_api_key
from tollgate import contract

STRIPE_KEY = STRIPE_TEST_SECRET_KEY
BASE = ["--product-name", "Acme API", "--meter-event-name", "acme_api_calls"]


def tollgate_products(client, lookup_key):
    return [
        p
        for p in client.v1.products.list({"limit": 100}).auto_paging_iter()
        if p.metadata.to_dict() == {"tollgate": "product", "tollgate_lookup_key": lookup_key}
    ]


OBJECTS = ("product", "meter", "price", "webhook")


def statuses(output: str) -> dict[str, str]:
    """`{"product": "created", ...}` from the command's `<object>  <id>  <status>` lines."""
    rows = [line.split() for line in output.splitlines()]
    return {row[0]: row[2] for row in rows if row and row[0] in OBJECTS}


def run(names, stripe_api, *extra):
    argv = [
        "--product-name",
        names["product"],
        "--meter-event-name",
        names["event"],
        "--lookup-key",
        names["lookup"],
        "--pricing-model",
        "graduated",
        "--tier",
        "up_to=1000,unit_amount_decimal=0.5",
        "--tier",
        "up_to=inf,unit_amount_decimal=0.2",
        "--webhook-url",
        names["webhook"],
        "--api-base",
        stripe_api,
        *extra,
    ]
    return main(argv, environ={"STRIPE_API_KEY": STRIPE_KEY})


def test_running_setup_twice_creates_one_product_meter_price_and_webhook(names, stripe_api, stripe_client, capsys):
    assert run(names, stripe_api) == 0
    first = capsys.readouterr().out
    assert run(names, stripe_api) == 0
    second = capsys.readouterr().out

    products = tollgate_products(stripe_client, names["lookup"])
    meters = [
        m
        for m in stripe_client.v1.billing.meters.list({"limit": 100}).auto_paging_iter()
        if m.event_name == names["event"]
    ]
    prices = stripe_client.v1.prices.list({"lookup_keys": [names["lookup"]]}).data
    endpoints = [
        e
        for e in stripe_client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter()
        if e.url == names["webhook"]
    ]
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
    assert (
        main(
            [
                "--product-name",
                names["product"],
                "--meter-event-name",
                names["event"],
                "--unit-amount",
                "1",
                "--api-base",
                stripe_api + "/no-such-prefix",
            ],
            environ={"STRIPE_API_KEY": STRIPE_KEY},
        )
        == 1
    )
    assert "Stripe refused" in capsys.readouterr().err


def test_an_unreachable_stripe_is_reported_in_one_line(names, capsys):
    assert (
        main(
            [
                "--product-name",
                names["product"],
                "--meter-event-name",
                names["event"],
                "--unit-amount",
                "1",
                "--api-base",
                "http://127.0.0.1:9",
            ],
            environ={"STRIPE_API_KEY": STRIPE_KEY},
        )
        == 1
    )
    assert capsys.readouterr().err == (
        "Could not reach Stripe at http://127.0.0.1:9; check the network and retry (re-running is safe).\n"
    )


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
        main([*BASE, "--unit-amount", "1"], environ={"STRIPE_API_KEY": "pk_test_publishable"})
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "must look like sk_test_" in err
    assert "pk_test_publishable" not in err


def test_usage_reported_by_moesif_is_refused_before_any_stripe_call(names, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [*BASE, "--unit-amount", "1", "--usage-reporter", "moesif", "--api-base", "http://127.0.0.1:9"],
            environ={"STRIPE_API_KEY": STRIPE_KEY},
        )  # nothing listens on port 9: a call would fail differently
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "usage_reporter is moesif, and the price make stripe-setup creates would bill nothing" in err
    assert "https://www.moesif.com/docs/metered-billing/integrate-with-stripe/" in err
    assert "set usage_reporter to tollgate" in err


# --- plans mode: a product, meter and price per paid plan, and the plans block to paste ---------

PLANS = [
    {
        "id": "free",
        "name": "Free",
        "description": "Try it",
        "price_text": "Free",
        "throttle_rate_limit": 1,
        "throttle_burst_limit": 2,
        "quota_limit": 1000,
        "quota_period": "MONTH",
        "stripe_price_id": "",
        "require_payment_method": False,
    },
    {
        "id": "standard",
        "name": "Standard",
        "description": "",
        "price_text": "$0.001 a call",
        "throttle_rate_limit": 10,
        "throttle_burst_limit": 20,
        "quota_limit": 100000,
        "quota_period": "MONTH",
        "stripe_price_id": "price_REPLACE_BEFORE_DEPLOY",
        "require_payment_method": False,
    },
    {
        "id": "pro",
        "name": "Pro",
        "description": "For production",
        "price_text": "From $0.0005 a call",
        "throttle_rate_limit": 100,
        "throttle_burst_limit": 200,
        "quota_limit": 5000000,
        "quota_period": "MONTH",
        "stripe_price_id": "",
        "require_payment_method": True,
    },
]
PRICES = {
    "standard": {"unit_amount": "0.1"},
    "pro": {
        "pricing_model": "graduated",
        "tiers": [{"up_to": 100000, "unit_amount_decimal": 0.05}, {"up_to": "inf", "unit_amount_decimal": "0.02"}],
    },
}


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def run_plans(names, stripe_api, tmp_path, plans=PLANS, prices=PRICES, *extra):
    argv = [
        "--plans-file",
        str(write_json(tmp_path / "plans.json", plans)),
        "--prices",
        str(write_json(tmp_path / "prices.json", prices)),
        "--plan-prefix",
        names["lookup"],
        "--product-name",
        names["product"],
        "--api-base",
        stripe_api,
        *extra,
    ]
    return main(argv, environ={"STRIPE_API_KEY": STRIPE_KEY})


def printed_block(output: str) -> list:
    """The plans block the command prints last, after `"plans": `."""
    return json.loads(output[output.index(PLANS_BLOCK_PREFIX + "[") + len(PLANS_BLOCK_PREFIX) :])


def _by_plan(output: str) -> dict[str, list[str]]:
    plans: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("plan "):
            current = plans.setdefault(line.split()[1], [])
        elif current is not None and line.startswith("  ") and line.split()[0] in ("product", "meter", "price"):
            current.append(line)
        elif not line.startswith("  "):
            current = None
    return plans


def test_setup_with_plans_makes_a_meter_and_price_per_paid_plan_and_prints_a_block_synth_accepts(
    names, stripe_api, stripe_client, tmp_path, capsys
):
    assert run_plans(names, stripe_api, tmp_path) == 0
    first = capsys.readouterr().out
    block = printed_block(first)

    prices = {
        plan_id: stripe_client.v1.prices.list({"lookup_keys": [f"{names['lookup']}_{plan_id}"]}).data
        for plan_id in ("standard", "pro", "free")
    }
    assert len(prices["standard"]) == 1 and len(prices["pro"]) == 1 and prices["free"] == []
    standard, pro = prices["standard"][0], prices["pro"][0]
    meters = {m.id: m.event_name for m in stripe_client.v1.billing.meters.list({"limit": 100}).auto_paging_iter()}
    assert meters[standard.recurring.meter] == f"{names['lookup']}_standard_calls"
    assert meters[pro.recurring.meter] == f"{names['lookup']}_pro_calls"
    assert pro.tiers_mode == "graduated" and str(standard.unit_amount_decimal) == "0.1"
    assert stripe_client.v1.products.retrieve(pro.product).name == f"{names['product']} (Pro)"
    assert statuses_of(first) == {
        f"{plan} {kind}": "created" for plan in ("standard", "pro") for kind in ("product", "meter", "price")
    }

    by_id = {item["id"]: item for item in block}
    assert by_id["standard"] == {**PLANS[1], "stripe_price_id": standard.id}
    assert by_id["pro"] == {**PLANS[2], "stripe_price_id": pro.id}
    assert by_id["free"] == PLANS[0] and [item["id"] for item in block] == ["free", "standard", "pro"]
    context = load_cdk_json_context(CDK_JSON)
    settings = Settings.from_context({**context, "plans": block})
    assert {plan.id: plan.stripe_price_id for plan in settings.plans} == {
        "free": None,
        "standard": standard.id,
        "pro": pro.id,
    }

    # Re-run from the printed block: everything is found, nothing is created, the block is the same.
    assert run_plans(names, stripe_api, tmp_path, block) == 0
    second = capsys.readouterr().out
    assert set(statuses_of(second).values()) == {"unchanged"}
    assert printed_block(second) == block
    assert len(stripe_client.v1.prices.list({"lookup_keys": [f"{names['lookup']}_pro"]}).data) == 1


def statuses_of(output: str) -> dict[str, str]:
    """`{"pro price": "created", ...}` from the indented lines under each `plan <id>` line."""
    return {f"{plan} {line.split()[0]}": line.split()[2] for plan, lines in _by_plan(output).items() for line in lines}


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (
            {"standard": {"unit_amount": "0.1"}, "pro": {"pricing_model": "graduated"}},
            "plan 'pro' in the --prices file: the graduated model needs at least one tiers",
        ),
        (
            {"standard": {"unit_amount": "0.1"}, "pro": {"unit_amount": "-1"}},
            "plan 'pro' in the --prices file: '-1' must be zero or more",
        ),
        (
            {"standard": {"unit_amount": "0.1"}, "pro": {"unit_amount": "1", "price": 3}},
            "plan 'pro' in the --prices file: unknown field 'price'",
        ),
        (
            {
                "standard": {"unit_amount": "0.1"},
                "pro": {"unit_amount": "1", "meter_event_name": "shared_calls"},
                "free": {"unit_amount": "1", "meter_event_name": "shared_calls"},
            },
            "plans 'free' and 'pro' would share the meter 'shared_calls'",
        ),
        (
            {"pro": {"unit_amount": "1"}},
            "plan 'standard' has stripe_price_id 'price_REPLACE_BEFORE_DEPLOY' but the --prices file has no entry",
        ),
        (
            {"standard": {"unit_amount": "0.1"}, "enterprise": {"unit_amount": "1"}},
            "the --prices file prices plan 'enterprise', which --plans-file",
        ),
    ],
)
def test_a_wrong_price_file_is_refused_naming_the_plan_before_any_stripe_call(names, tmp_path, prices, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_plans(names, "http://127.0.0.1:9", tmp_path, PLANS, prices)  # nothing listens on port 9
    assert exit_info.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(
    ("price_text", "prices", "message"),
    [
        (
            "$0.001 per call",
            {"unit_amount": "0.5"},
            "plan 'standard': price_text '$0.001 per call' says 0.001 USD per call, but its Stripe price bills 0.005 USD "
            "per call (unit_amount 0.5, in the currency's minor unit)",
        ),
        (
            "$1 per 5,000 calls",
            {"pricing_model": "package", "unit_amount": "100", "package_size": 1000},
            "says 0.0002 USD per call, but its Stripe price bills 0.001 USD per call (unit_amount 100 per package of "
            "1,000 calls",
        ),
        (
            "Pay per call, billed monthly",
            {"unit_amount": "0.1"},
            "plan 'standard': price_text 'Pay per call, billed monthly' states no price per call",
        ),
    ],
)
def test_a_price_text_that_contradicts_the_price_is_refused_before_any_stripe_call(
    names, tmp_path, capsys, price_text, prices, message
):
    """The page would advertise one price (a fifth of the first, say) and Stripe bill another."""
    plans = [PLANS[0], {**PLANS[1], "price_text": price_text}, PLANS[2]]
    with pytest.raises(SystemExit) as exit_info:
        run_plans(names, "http://127.0.0.1:9", tmp_path, plans, {**PRICES, "standard": prices})  # nothing on port 9
    assert exit_info.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_a_plans_block_synth_would_refuse_is_refused_naming_the_plan(names, tmp_path, capsys):
    plans = [PLANS[0], {**PLANS[1], "quota_period": "YEAR"}]
    with pytest.raises(SystemExit):
        run_plans(names, "http://127.0.0.1:9", tmp_path, plans, {"standard": {"unit_amount": "1"}})
    assert "(id 'standard') field 'quota_period' must be one of DAY, WEEK, MONTH" in capsys.readouterr().err


def test_single_price_options_are_refused_with_plans(names, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_plans(names, "http://127.0.0.1:9", tmp_path, PLANS, PRICES, "--unit-amount", "1")
    assert "--unit-amount: with --plans each plan's price comes from the --prices file" in capsys.readouterr().err


def test_the_single_price_mode_still_needs_its_product_and_meter(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--unit-amount", "1"], environ={"STRIPE_API_KEY": STRIPE_KEY})
    assert exit_info.value.code == 2
    assert "--product-name and --meter-event-name required" in capsys.readouterr().err


def test_plans_reads_cdk_json_and_fills_in_its_paid_plan(names, stripe_api, tmp_path, capsys):
    prices = write_json(tmp_path / "prices.json", {"standard": {"unit_amount": "0.1"}})
    assert (
        main(
            ["--plans", "--prices", str(prices), "--plan-prefix", names["lookup"], "--api-base", stripe_api],
            environ={"STRIPE_API_KEY": STRIPE_KEY},
        )
        == 0
    )
    output = capsys.readouterr().out
    given = load_cdk_json_context(CDK_JSON)["plans"]
    block = printed_block(output)
    assert block[0]["id"] == "standard" and block[0]["stripe_price_id"] not in ("", given[0]["stripe_price_id"])
    assert block[1:] == given[1:] and {**block[0], "stripe_price_id": ""} == {**given[0], "stripe_price_id": ""}
    assert "free plan(s) free: nothing in Stripe" in output
