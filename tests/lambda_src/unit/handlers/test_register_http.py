"""POST /register's HTTP contract on fakes (every port, both secrets and the idempotency store):
every malformed body is a 4xx naming the field, the size limit, unknown fields, base64 bodies,
no CORS, the site's twin route (/api/register) and logs. What needs real services (keys, Stripe,
DynamoDB races, the idempotency table) is in
tests/lambda_src/integration/handlers/test_register_handler.py."""

from __future__ import annotations

import json
import uuid

import pytest

from testkit.fake_wiring import deployed_on_fakes
from testkit.lambda_events import REGISTER_MODULE, DeployedFunction, api_gateway_event, cors_headers, invoke
from tollgate import contract


@pytest.fixture
def register_module() -> DeployedFunction:
    return deployed_on_fakes(REGISTER_MODULE)


@pytest.fixture
def log_output(register_module):
    with register_module.captured_logs() as logs:
        yield logs


def sign_up_body(email: str | None = None, **fields) -> str:
    return json.dumps(
        {"email": email or f"{uuid.uuid4().hex[:10]}@example.com", "firstname": "Ann", "lastname": "Lee"} | fields
    )


def register(module, body, headers=None):
    return invoke(module, api_gateway_event(body, headers=headers))


LONG = "x" * 101
# (description, raw body, field that must be named). Each must answer 4xx, never 5xx.
MALFORMED = [
    ("no body", None, "body"),
    ("empty body", "", "body"),
    ("whitespace body", "   ", "body"),
    ("not json", "email=ann@example.com", "body"),
    ("truncated json", '{"email": "ann@example.com"', "body"),
    ("1,000 nested arrays (4 KB)", '{"x": ' + "[" * 1000 + "]" * 1000 + "}", "body"),
    ("600 nested objects", '{"x": ' + '{"":' * 600 + "1" + "}" * 600 + "}", "body"),
    ("json array", "[]", "body"),
    ("json string", '"ann@example.com"', "body"),
    ("json number", "42", "body"),
    ("json null", "null", "body"),
    ("json true", "true", "body"),
    ("invalid utf-8", b"\xff\xfe\x00{", "body"),
    ("empty object", "{}", "email"),
    ("missing email", json.dumps({"firstname": "Ann", "lastname": "Lee"}), "email"),
    ("missing firstname", json.dumps({"email": "a@example.com", "lastname": "Lee"}), "firstname"),
    ("missing lastname", json.dumps({"email": "a@example.com", "firstname": "Ann"}), "lastname"),
    ("null email", sign_up_body(email=None).replace('"email": "', '"x": "'), "email"),
    ("email number", json.dumps({"email": 7, "firstname": "Ann", "lastname": "Lee"}), "email"),
    ("email list", json.dumps({"email": ["a@example.com"], "firstname": "Ann", "lastname": "Lee"}), "email"),
    ("email object", json.dumps({"email": {"a": 1}, "firstname": "Ann", "lastname": "Lee"}), "email"),
    ("email bool", json.dumps({"email": True, "firstname": "Ann", "lastname": "Lee"}), "email"),
    ("email empty", sign_up_body(email="x").replace('"x"', '""'), "email"),
    ("email blank", sign_up_body(email="   "), "email"),
    ("email without @", sign_up_body(email="ann.example.com"), "email"),
    ("email two @", sign_up_body(email="ann@@example.com"), "email"),
    ("email no domain", sign_up_body(email="ann@"), "email"),
    ("email no local part", sign_up_body(email="@example.com"), "email"),
    ("email no tld", sign_up_body(email="ann@example"), "email"),
    ("email numeric tld", sign_up_body(email="ann@example.123"), "email"),
    ("email space", sign_up_body(email="ann lee@example.com"), "email"),
    ("email double dot", sign_up_body(email="ann..lee@example.com"), "email"),
    ("email leading dot", sign_up_body(email=".ann@example.com"), "email"),
    ("email hyphen label", sign_up_body(email="ann@-example.com"), "email"),
    ("email too long", sign_up_body(email="a@" + "b" * 250 + ".com"), "email"),
    ("email local part too long", sign_up_body(email="a" * 65 + "@example.com"), "email"),
    ("email non-ascii", sign_up_body(email="zoë@example.com"), "email"),
    ("email newline", sign_up_body(email="ann@example.com\nbcc@evil.com"), "email"),
    ("email html", sign_up_body(email="<script>@example.com"), "email"),
    ("firstname number", sign_up_body(firstname=1), "firstname"),
    ("firstname null", json.dumps({"email": "a@example.com", "firstname": None, "lastname": "Lee"}), "firstname"),
    ("firstname empty", sign_up_body(firstname=""), "firstname"),
    ("firstname blank", sign_up_body(firstname=" \u00a0 "), "firstname"),
    ("firstname too long", sign_up_body(firstname=LONG), "firstname"),
    ("firstname newline", sign_up_body(firstname="Ann\nLee"), "firstname"),
    ("firstname tab", sign_up_body(firstname="Ann\tLee"), "firstname"),
    ("firstname nul", sign_up_body(firstname="Ann\u0000"), "firstname"),
    ("firstname escape", sign_up_body(firstname="\u001b[31mAnn"), "firstname"),
    ("firstname bidi override", sign_up_body(firstname="Ann\u202e"), "firstname"),
    ("firstname zero width", sign_up_body(firstname="A\u200bnn"), "firstname"),
    ("firstname lone surrogate", '{"email": "a@example.com", "firstname": "\\ud800", "lastname": "Lee"}', "firstname"),
    ("firstname object", sign_up_body(firstname={"first": "Ann"}), "firstname"),
    ("lastname list", sign_up_body(lastname=["Lee"]), "lastname"),
    ("lastname too long", sign_up_body(lastname=LONG), "lastname"),
    ("lastname line separator", sign_up_body(lastname="Lee\u2028Ann"), "lastname"),
    ("lastname delete char", sign_up_body(lastname="Lee\u007f"), "lastname"),
    ("lastname float", sign_up_body(lastname=1.5), "lastname"),
]


@pytest.mark.parametrize("raw, field", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_a_malformed_request_is_a_4xx_naming_the_field(register_module, raw, field):
    status, headers, body = register(register_module, raw)

    assert status == 400, body
    assert field in body["fields"], body
    assert body["fields"][field] and body["error"]
    assert not cors_headers(headers)


def test_the_malformed_corpus_is_large_enough():
    assert len(MALFORMED) >= 40


def test_unknown_fields_are_ignored(register_module):
    status, _, body = register(register_module, sign_up_body(apikey="mine", admin=True, status="active"))

    assert status == 201 and body["apikey"] != "mine"


def test_a_base64_encoded_body_is_accepted(register_module):
    event = api_gateway_event(sign_up_body().encode())

    status, _, _ = invoke(register_module, event)

    assert status == 201


def test_a_body_larger_than_any_sign_up_is_413(register_module):
    status, headers, body = register(register_module, sign_up_body(firstname="A" * 5000))

    assert status == 413 and "larger" in body["error"]
    assert not cors_headers(headers)


def test_an_over_long_idempotency_key_is_400(register_module):
    status, _, body = register(register_module, sign_up_body(), {contract.IDEMPOTENCY_HEADER: "k" * 256})

    assert status == 400 and contract.IDEMPOTENCY_HEADER in body["fields"]


def test_logs_carry_the_api_gateway_request_id_as_correlation_id(register_module, log_output):
    event = api_gateway_event(sign_up_body())

    invoke(register_module, event)

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert any(line.get("correlation_id") == event["requestContext"]["requestId"] for line in lines)


def test_no_preflight_is_answered_the_page_calls_its_own_origin(register_module):
    status, headers, _ = invoke(register_module, api_gateway_event(None, method="OPTIONS"))

    assert status == 404
    assert not cors_headers(headers)


def test_the_sites_register_route_answers_exactly_as_register_does(register_module):
    """POST /api/register is /register on the site's origin: the same validation, the same answer."""
    for body in (sign_up_body(email="not-an-email"), sign_up_body(firstname="A" * 5000)):
        api = register(register_module, body)
        site = invoke(register_module, api_gateway_event(body, path=contract.ROUTE_SITE_REGISTER))
        assert site == api and site[0] in (400, 413)
    status, _, answer = invoke(register_module, api_gateway_event(sign_up_body(), path=contract.ROUTE_SITE_REGISTER))
    assert status == 201 and set(answer) == set(register(register_module, sign_up_body(email="b@example.com"))[2])
