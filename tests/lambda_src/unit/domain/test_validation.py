"""parse_registration: what a valid sign-up looks like after normalisation, and that each kind
of malformed body names the right field. (The handler tests replay a larger corpus end to end.)"""

from __future__ import annotations

import json

import pytest

from testkit.fake_ports import TEST_PLANS
from tollgate.domain.errors import RequestTooLarge, ValidationFailed
from tollgate.domain.models import Registrant
from tollgate.domain.validation import MAX_BODY_BYTES, parse_registration


def body(**fields) -> str:
    return json.dumps({"email": "ann@example.com", "firstname": "Ann", "lastname": "Lee"} | fields)


def test_email_is_trimmed_and_case_folded_and_names_are_trimmed():
    registrant = parse_registration(
        body(email="  Ann.Lee+Test@Example.COM \n", firstname=" Ann ", lastname="Lee\u00a0"), TEST_PLANS.ids
    )

    assert registrant == Registrant(email="ann.lee+test@example.com", first_name="Ann", last_name="Lee")


def test_unknown_fields_are_ignored():
    assert (
        parse_registration(body(apikey="x", admin=True, email="ann@example.com"), TEST_PLANS.ids).email
        == "ann@example.com"
    )


def test_bytes_and_unicode_names_are_accepted():
    registrant = parse_registration(body(firstname="Zoë", lastname="O'Brien-Łukasz 山田").encode(), TEST_PLANS.ids)

    assert (registrant.first_name, registrant.last_name) == ("Zoë", "O'Brien-Łukasz 山田")


@pytest.mark.parametrize(
    "raw, field, problem",
    [
        ("", "body", "JSON object"),
        ("{", "body", "JSON object"),
        ("[]", "body", "JSON object"),
        (b"\xff\xfe{}", "body", "JSON object"),
        (body(email=None), "email", "required"),
        (body(email=3), "email", "string"),
        (body(email="   "), "email", "empty"),
        (body(email="ann.example.com"), "email", "name@example.com"),
        (body(email="ann@localhost"), "email", "domain"),
        (body(email="ann@exa mple.com"), "email", "domain"),
        (body(email="a..b@example.com"), "email", "before the @"),
        (body(email="ann@example.c0m"), "email", "domain"),
        (body(email="ännä@example.com"), "email", "ASCII"),
        (body(email="a" * 65 + "@example.com"), "email", "before the @"),
        (body(email="a@" + "b" * 250 + ".com"), "email", "254"),
        (body(firstname="A" * 101), "firstname", "100"),
        (body(lastname="Lee\nDROP"), "lastname", "control"),
        (body(lastname="Lee\u200b"), "lastname", "invisible"),
        (body(lastname="Lee\u202e"), "lastname", "invisible"),  # a bidi override stays refused
        (body(lastname="Lee\u2066"), "lastname", "invisible"),
        ('{"email": "ann@example.com", "x": ' + "[" * 1000 + "]" * 1000 + "}", "body", "flat"),
        ("[" * 4000, "body", "flat"),
        (body(firstname=["Ann"]), "firstname", "string"),
    ],
)
def test_a_malformed_body_names_the_field_and_what_is_wrong(raw, field, problem):
    with pytest.raises(ValidationFailed) as raised:
        parse_registration(raw, TEST_PLANS.ids)

    assert problem in raised.value.fields[field]
    assert field in str(raised.value) or field == "body"


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationFailed) as raised:
        parse_registration(json.dumps({"email": "nope", "lastname": 7}), TEST_PLANS.ids)

    assert set(raised.value.fields) == {"email", "firstname", "lastname"}
    assert str(raised.value) == "Some fields are invalid: email, firstname, lastname."


def test_a_body_larger_than_any_valid_sign_up_is_too_large():
    with pytest.raises(RequestTooLarge):
        parse_registration(body(firstname="A" * MAX_BODY_BYTES), TEST_PLANS.ids)


@pytest.mark.parametrize(
    "name",
    [
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian with ZERO WIDTH NON-JOINER
        "\u0915\u094d\u200d\u0937",  # Devanagari conjunct with ZERO WIDTH JOINER
        "\U0001f469\u200d\U0001f4bb",  # an emoji ZWJ sequence
    ],
)
def test_the_joiners_real_names_need_are_accepted(name):
    assert parse_registration(body(firstname=name), TEST_PLANS.ids).first_name == name


def test_nesting_inside_strings_does_not_count():
    assert parse_registration(body(firstname="[[[[{{{{" * 10), TEST_PLANS.ids).first_name == "[[[[{{{{" * 10


def test_the_plan_chosen_is_one_of_the_plans_on_offer_or_the_default_when_left_out():
    assert parse_registration(body(plan="free"), TEST_PLANS.ids).plan_id == "free"
    assert parse_registration(body(), TEST_PLANS.ids).plan_id is None


@pytest.mark.parametrize("plan", ["gold", "", 5, None.__class__.__name__])
def test_a_plan_not_on_offer_is_refused_naming_the_plans_that_are(plan):
    with pytest.raises(ValidationFailed) as refused:
        parse_registration(body(plan=plan), TEST_PLANS.ids)

    assert refused.value.fields == {"plan": "must be one of the plans on offer: standard, free, pro"}
