"""The stage's WAF (infra/waf.py): per-IP limits on the routes anyone may call, counted whatever the
spelling of the path, the webhook left to Stripe, `/api/*` only through CloudFront. Rules are judged
by evaluating their statements against requests (tests/infra/waf_rules.py)."""

from __future__ import annotations

import json
import re

import pytest
from infra_synth import resolve_join
from waf_rules import Request, WebAcl

from infra.waf import EVALUATION_WINDOW_SECONDS, MAX_REGEX_LENGTH, TOO_MANY_MESSAGE, route_regexes, route_statement
from tollgate import contract


def spellings(stage: str, route: str) -> list[str]:
    """Paths the stage routes to `route`'s method, or that decode to it (module docstring of infra/waf.py):
    with and without the stage, trailing and repeated slashes, percent-encoding, dot segments."""
    segments = route.strip("/").split("/")
    last = segments[-1]
    encoded_letter = "/" + "/".join([*segments[:-1], f"%{ord(last[0]):02X}{last[1:]}"])
    paths = []
    for prefix in ("", f"/{stage}"):
        paths += [
            prefix + route,
            prefix + route + "/",
            prefix + route + "//",
            "/" + prefix + route,
            prefix + "/" + "//".join(segments) + "/",
            prefix + encoded_letter,
            prefix + "/" + "%2F".join(segments),
            prefix + route + "%2F",
            prefix + "/." + route,
            prefix + "/elsewhere/.." + route,
        ]
        if prefix:
            paths.append(prefix + "/" + route)  # a slash run between the stage and the route
    return list(dict.fromkeys(paths))


def other_paths(stage: str, route: str) -> list[str]:
    """Paths that are not `route`: longer, shorter, another case (the metered /{proxy+} serves those), or
    behind a prefix that is not the stage."""
    head, _, last = route.rpartition("/")
    return [
        route + "x",
        route + "/more",
        f"{head}/{last.capitalize()}",
        route.upper(),
        f"/other{route}",
        f"/{stage}x{route}",
        f"/{stage}/{stage}{route}",
        route[: len(route) - 1],
        f"{route}.json",
    ]


@pytest.fixture(scope="module")
def waf(synth) -> WebAcl:
    return WebAcl(synth)


# Each rate-limited rule and the routes it counts (the site's with the viewer IP CloudFront sets).
RATE_LIMITED = [
    ("SignUpAndCheckoutPerIp", contract.SIGN_UP_ROUTES),
    ("WebhookPerIpExceptStripe", (contract.ROUTE_STRIPE_WEBHOOK,)),
    ("SiteSignInPerViewerIp", contract.SITE_ROUTES_WITHOUT_SESSION),
]


@pytest.mark.parametrize("rule, routes", RATE_LIMITED, ids=[rule for rule, _ in RATE_LIMITED])
def test_every_spelling_of_a_rate_limited_route_is_counted_by_its_rule(waf, synth, rule, routes):
    stage = synth.settings.stage_name
    for route in routes:
        assert waf.counts(rule, Request(route)) and waf.counts(rule, Request(route + "/")), route
        missed = [path for path in spellings(stage, route) if not waf.counts(rule, Request(path))]
        assert not missed, (rule, route, missed)
        counted = [path for path in other_paths(stage, route) if waf.counts(rule, Request(path))]
        assert not counted, (rule, route, counted)


def test_the_expressions_alone_take_slash_runs_and_trailing_slashes_whatever_normalize_path_leaves():
    """Without any transformation, `/prod//register//` still matches: the rule does not depend on where
    NORMALIZE_PATH leaves repeated or trailing slashes."""
    with_stage, without_stage = route_regexes("prod", contract.ROUTE_CHECKOUT_OUTCOME)
    for regex, path in (
        (with_stage, "//prod//billing///checkout//outcome//"),
        (without_stage, "/billing//checkout/outcome/"),
    ):
        assert re.search(regex, path), (regex, path)
    assert not re.search(without_stage, "/billing/checkout/outcomes")


def test_a_stage_name_too_long_for_one_expression_gets_one_statement_per_spelling():
    stage = "s" * 128  # the longest stage name the settings accept
    statement = route_statement(stage, contract.ROUTE_SITE_CHECKOUT_OUTCOME)
    regexes = [nested.regex_match_statement.regex_string for nested in statement.or_statement.statements]

    assert regexes == list(route_regexes(stage, contract.ROUTE_SITE_CHECKOUT_OUTCOME))
    assert all(len(regex) <= MAX_REGEX_LENGTH for regex in regexes)


def test_the_deployed_expressions_stay_within_the_quota_and_use_no_capturing_group(synth):
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    regexes = _all_values(acl["Properties"]["Rules"], "RegexString")

    assert regexes and all(len(regex) <= MAX_REGEX_LENGTH for regex in regexes)
    assert not any("(" in regex for regex in regexes)  # "Supported regular expression syntax in AWS WAF"


def test_a_route_a_regex_would_misread_stops_the_synth():
    with pytest.raises(ValueError, match="letters, digits"):
        route_regexes("prod", "/billing/check.out")


def test_the_webhook_is_never_limited_for_stripes_ips_nor_judged_by_the_managed_rules(waf, synth):
    stage = synth.settings.stage_name
    stripe_ip = synth.settings.stripe_webhook_ips[0]
    managed = waf.rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["ScopeDownStatement"]
    for path in spellings(stage, contract.ROUTE_STRIPE_WEBHOOK):
        assert not waf.counts("WebhookPerIpExceptStripe", Request(path, ip=stripe_ip)), path
        assert not waf.matches(managed, Request(path)), path
    assert waf.matches(managed, Request(contract.ROUTE_REGISTER))


def test_the_site_api_answers_only_through_cloudfront_whatever_the_spelling(waf, synth):
    stage = synth.settings.stage_name
    (secret_match,) = _all_values(waf.rules["SiteApiOnlyThroughCloudFront"], "ByteMatchStatement")
    assert secret_match["FieldToMatch"] == {"SingleHeader": {"Name": contract.SITE_ORIGIN_SECRET_HEADER}}
    # CloudFront sends what the dynamic reference resolves to; the evaluator compares the reference itself.
    with_secret = {contract.SITE_ORIGIN_SECRET_HEADER: resolve_join(secret_match["SearchString"])}
    rule = "SiteApiOnlyThroughCloudFront"
    for route in contract.SITE_ROUTES:
        for path in spellings(stage, route):
            assert waf.counts(rule, Request(path)), path
            assert not waf.counts(rule, Request(path, headers=with_secret)), path
    assert not waf.counts(rule, Request(contract.ROUTE_REGISTER))
    assert not waf.counts(rule, Request(f"/{stage}/apis/x"))


def test_waf_per_ip_rules_are_on_by_default_with_their_limits(synth, waf):
    signup = waf.rules["SignUpAndCheckoutPerIp"]["Statement"]["RateBasedStatement"]
    assert (signup["AggregateKeyType"], signup["Limit"]) == ("IP", synth.settings.signup_requests_per_ip)
    assert signup["EvaluationWindowSec"] == EVALUATION_WINDOW_SECONDS

    webhook = waf.rules["WebhookPerIpExceptStripe"]["Statement"]["RateBasedStatement"]
    assert (webhook["AggregateKeyType"], webhook["Limit"]) == ("IP", synth.settings.webhook_requests_per_ip)
    (ip_set,) = synth.resources("AWS::WAFv2::IPSet").values()
    assert ip_set["Properties"]["Addresses"] == [f"{ip}/32" for ip in synth.settings.stripe_webhook_ips]
    assert len(ip_set["Properties"]["Addresses"]) >= 12  # Stripe's published webhook IPs

    metered = waf.rules.keys() - {
        "SignUpAndCheckoutPerIp",
        "WebhookPerIpExceptStripe",
        "AWSManagedRulesCommonRuleSet",
        "SiteApiOnlyThroughCloudFront",
        "SiteSignInPerViewerIp",
    }
    assert not metered  # metered routes are limited per key by usage plans, never per IP
    assert not waf.counts("SignUpAndCheckoutPerIp", Request("/hello")) and not waf.counts(
        "SiteSignInPerViewerIp", Request(contract.ROUTE_ACCOUNT)
    )  # a session's routes: per account, in the handler


def test_a_blocked_sign_up_gets_a_json_429_without_cors(synth, waf):
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    for rule in ("SignUpAndCheckoutPerIp", "SiteSignInPerViewerIp"):
        response = waf.rules[rule]["Action"]["Block"]["CustomResponse"]
        headers = {header["Name"]: resolve_join(header["Value"]) for header in response["ResponseHeaders"]}

        assert response["ResponseCode"] == 429
        assert headers == {"Cache-Control": "no-store"}  # the page reads it on its own origin: no CORS header
        body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
        assert json.loads(body["Content"]) == {"error": TOO_MANY_MESSAGE}


def test_waf_is_attached_to_the_stage_and_can_be_turned_off(synth, synth_custom):
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    assert "Stage" in json.dumps(association["Properties"]["ResourceArn"])
    assert not synth_custom.resources("AWS::WAFv2::WebACL")  # enable_waf=false, the operator's choice


def test_the_spellings_under_test_are_other_spellings():
    """Guards the generator: it must not merely repeat the route."""
    paths = spellings("prod", contract.ROUTE_CHECKOUT)
    assert len(paths) >= 20
    assert {
        "/prod/billing/checkout/",
        "//billing/checkout",
        "/billing/%63heckout",
        "/billing%2Fcheckout",
        "/prod//billing/checkout",
        "/elsewhere/../billing/checkout",
    } <= set(paths)


def _all_values(value, key: str) -> list:
    """Every value under `key` anywhere in `value`."""
    if isinstance(value, dict):
        here = [value[key]] if key in value else []
        return here + [item for child in value.values() for item in _all_values(child, key)]
    if isinstance(value, list):
        return [item for child in value for item in _all_values(child, key)]
    return []
