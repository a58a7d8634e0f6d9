"""The stage's WAF WebACL: per-client limits on the routes anyone can call without a key.

A stage or method throttle is shared by every caller, so one client sending a few requests a
second could use it up and lock every customer out of sign-up, and a flood of unsigned junk could
make Stripe's real deliveries fail. WAF counts per source IP instead (rate-based rules, scoped down
to the unauthenticated paths):
- POST /register and /billing/checkout (and its outcome): `signup_requests_per_ip` per 5 minutes per IP;
- /stripe/webhook: `webhook_requests_per_ip` per 5 minutes per IP, except from Stripe's published
  webhook IPs (https://docs.stripe.com/ips, `stripe_webhook_ips`), so a month-end burst of real
  deliveries is never limited; a junk sender is cut off by its own count.
- AWS's common rule set on everything but the webhook: Stripe signs its events, and a large or
  odd-looking event body (SizeRestrictions_BODY blocks over 8 KB) must never be dropped.
- the signup site's `/api/...` routes come through CloudFront, so the IP WAF sees is CloudFront's:
  the routes anyone may call without a session (sign-up, checkout, sign-up confirmation, sign-in) are
  limited to `signup_requests_per_ip` per 5 minutes per VIEWER IP, read from contract.VIEWER_IP_HEADER,
  which a CloudFront Function sets on every request (infra/customer_accounts.py). That header could be
  forged by calling the stage directly, so `/api/*` without CloudFront's secret origin header
  (contract.SITE_ORIGIN_SECRET_HEADER) is refused first. (X-Forwarded-For cannot serve: for
  rate-based rules WAF takes its FIRST address, which the client writes.)
Metered routes are not rate-limited per IP: usage plans limit each key, and a paying client behind
one IP may legitimately make many calls.
Rate-based rules: https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html

Every spelling of a route: a rule that matched only the exact path could be dodged by a spelling the
stage routes to the same method. WAF inspects the URI path as the client sent it, so each route is
matched by a regular expression on the path after two text transformations, URL_DECODE then
NORMALIZE_PATH ("Remove multiple slashes, directory self-references, and directory back-references
that are not at the beginning of the input", AWS WAF API reference, TextTransformation:
https://docs.aws.amazon.com/waf/latest/APIReference/API_TextTransformation.html). The expression
itself also takes runs of slashes anywhere (so it does not depend on where NORMALIZE_PATH leaves
them) and the route with or without trailing slashes, behind the stage's name (invoke URL) or not
(custom domain):
- trailing slash: REST API stages route `/register/` as `/register` (shown against real stages by
  the maintainers of AWS's own Powertools, aws-powertools/powertools-lambda-python#1552 and #1577,
  and of aws/chalice#65; LocalStack's parity-tested router strips trailing slashes likewise);
- repeated slashes: `/prod//register` reaches `/register` (localstack/localstack#11253, reported
  against AWS and fixed for parity in #11304);
- percent-encoding (`/%72egister`) and dot segments (`/x/../register`): AWS documents neither for
  REST API routing; both are counted, since a spelling that decodes to the route is that route;
- case: not folded. Resource paths are case-sensitive (a REST API can have both `/Register` and
  `/register`, serverless/serverless#11956), so `/Register` is not the sign-up route: it reaches the
  metered `/{proxy+}`, which wants an API key. Counting it would let the sign-up limit block a paying
  client's calls to a backend path of that spelling.
Only what the AWS WAF docs say is supported is used: no capturing group (the only alternation is
between the two prefixes, at the top level), "Supported regular expression syntax in AWS WAF"
(https://docs.aws.amazon.com/waf/latest/developerguide/waf-regex-pattern-support.html). Inline
regexes, not regex pattern sets: an account has only 10 pattern sets per Region (AWS WAF quotas,
https://docs.aws.amazon.com/waf/latest/developerguide/limits.html), and one deployment would use
several. tests/infra/test_waf.py evaluates these statements against every spelling of every route.
"""

from __future__ import annotations

import json
import re

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.settings import Settings
from tollgate import contract

_NO_TRANSFORMATION = wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
# Applied to the URI path before a route's expression is matched (lowest priority first).
PATH_TRANSFORMATIONS = ("URL_DECODE", "NORMALIZE_PATH")
# The longest regex kept in one statement; the WAF quotas page caps a regex pattern's characters (its
# API field allows 512). A route whose two spellings together are longer gets one statement each.
MAX_REGEX_LENGTH = 200
_LITERAL_ROUTE = re.compile(r"^(/[A-Za-z0-9_-]+)+$")  # nothing in it a regex would read as syntax
EVALUATION_WINDOW_SECONDS = 300  # WAF counts requests per IP over the last 5 minutes
TOO_MANY_BODY_KEY = "too-many-requests"
TOO_MANY_MESSAGE = "Too many requests from your network: please wait a few minutes, then try again."
SITE_ONLY_BODY_KEY = "site-only"
SITE_ONLY_MESSAGE = "These routes answer through the signup site only: open the site and try there."


class ApiFirewall(Construct):
    """A regional WebACL associated with the API's stage; `web_acl` is the L1 resource."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, stage_arn: str, site_origin_secret: str
    ) -> None:
        super().__init__(scope, construct_id)
        stripe_ips = wafv2.CfnIPSet(
            self,
            "StripeWebhookIps",
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=[f"{address}/32" for address in settings.stripe_webhook_ips],
            description="Stripe webhook source IPs, docs.stripe.com/ips - exempt from the per-IP limit",
        )
        stage = settings.stage_name
        webhook_path = route_statement(stage, contract.ROUTE_STRIPE_WEBHOOK)
        not_from_stripe = wafv2.CfnWebACL.StatementProperty(
            not_statement=wafv2.CfnWebACL.NotStatementProperty(
                statement=wafv2.CfnWebACL.StatementProperty(
                    ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(arn=stripe_ips.attr_arn)
                )
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("tollgate-api"),
            custom_response_bodies={
                key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps({"error": message})
                )
                for key, message in ((TOO_MANY_BODY_KEY, TOO_MANY_MESSAGE), (SITE_ONLY_BODY_KEY, SITE_ONLY_MESSAGE))
            },
            rules=[
                _per_ip(
                    "SignUpAndCheckoutPerIp",
                    0,
                    settings.signup_requests_per_ip,
                    _any_of(*(route_statement(stage, route) for route in contract.SIGN_UP_ROUTES)),
                    {"Cache-Control": "no-store"},
                ),
                _per_ip(
                    "WebhookPerIpExceptStripe",
                    1,
                    settings.webhook_requests_per_ip,
                    _all_of(webhook_path, not_from_stripe),
                    {"Cache-Control": "no-store"},
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="AWSManagedRulesCommonRuleSet",
                    priority=2,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name="AWSManagedRulesCommonRuleSet",
                            scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                                not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=webhook_path)
                            ),
                        )
                    ),
                    visibility_config=_visibility("common-rule-set"),
                ),
                _site_api_only_through_cloudfront(stage, site_origin_secret, priority=3),
                _per_ip(
                    "SiteSignInPerViewerIp",
                    4,
                    settings.signup_requests_per_ip,
                    _any_of(*(route_statement(stage, route) for route in contract.SITE_ROUTES_WITHOUT_SESSION)),
                    {"Cache-Control": "no-store"},
                    forwarded_ip_header=contract.VIEWER_IP_HEADER,
                ),
            ],
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn)


def route_statement(stage: str, route: str, *, prefix: bool = False) -> wafv2.CfnWebACL.StatementProperty:
    """The request's URI path is `route` (with `prefix`: starts with it), however spelled: see the module
    docstring. One regex of both spellings (behind the stage's name and not), or two statements when that
    regex would be over MAX_REGEX_LENGTH."""
    spellings = route_regexes(stage, route, prefix=prefix)
    joined = "|".join(spellings)
    regexes = (joined,) if len(joined) <= MAX_REGEX_LENGTH else spellings
    return _any_of(*(_regex_statement(regex) for regex in regexes))


def route_regexes(stage: str, route: str, *, prefix: bool = False) -> tuple[str, str]:
    """The expressions of `route` as sent to the stage's invoke URL (/<stage>/route) and to a custom
    domain mapped to the stage (/route): any run of slashes where the route has one, trailing slashes
    allowed (or, with `prefix`, anything after the route's last slash)."""
    if not _LITERAL_ROUTE.match(route.rstrip("/") if prefix else route):
        raise ValueError(f"route {route!r}: WAF path rules take letters, digits, '_' and '-' between slashes")
    path = "/+".join(route.strip("/").split("/")) + ("/" if prefix else "/*$")
    return f"^/+{stage}/+{path}", f"^/+{path}"


def _regex_statement(regex: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            regex_string=regex,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=priority, type=transformation)
                for priority, transformation in enumerate(PATH_TRANSFORMATIONS)
            ],
        )
    )


def _site_api_only_through_cloudfront(stage: str, secret: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    """Refuse `/api/*` requests (however spelled) that lack CloudFront's secret origin header (403, JSON)."""
    api_path = route_statement(stage, contract.SITE_API_PREFIX, prefix=True)
    has_secret = wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                single_header={"Name": contract.SITE_ORIGIN_SECRET_HEADER}
            ),
            positional_constraint="EXACTLY",
            search_string=secret,
            text_transformations=[_NO_TRANSFORMATION],
        )
    )
    return wafv2.CfnWebACL.RuleProperty(
        name="SiteApiOnlyThroughCloudFront",
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=403,
                    custom_response_body_key=SITE_ONLY_BODY_KEY,
                    response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store")],
                )
            )
        ),
        statement=_all_of(
            api_path,
            wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=has_secret)),
        ),
        visibility_config=_visibility("SiteApiOnlyThroughCloudFront"),
    )


def _any_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return wafv2.CfnWebACL.StatementProperty(
        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=list(statements))
    )


def _all_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements))
    )


def _per_ip(
    name: str,
    priority: int,
    limit: int,
    scope: wafv2.CfnWebACL.StatementProperty,
    headers: dict[str, str],
    forwarded_ip_header: str | None = None,
) -> wafv2.CfnWebACL.RuleProperty:
    """Block an IP over `limit` requests in the window, answering 429 with the JSON error body
    (response headers keep their names: only inserted request headers get WAF's x-amzn-waf- prefix).
    With `forwarded_ip_header`, the IP is that header's (the viewer behind CloudFront)."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    custom_response_body_key=TOO_MANY_BODY_KEY,
                    response_headers=[
                        wafv2.CfnWebACL.CustomHTTPHeaderProperty(name=header, value=value)
                        for header, value in headers.items()
                    ],
                )
            )
        ),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                aggregate_key_type="FORWARDED_IP" if forwarded_ip_header else "IP",
                forwarded_ip_config=wafv2.CfnWebACL.ForwardedIPConfigurationProperty(
                    header_name=forwarded_ip_header, fallback_behavior="MATCH"
                )
                if forwarded_ip_header
                else None,
                evaluation_window_sec=EVALUATION_WINDOW_SECONDS,
                scope_down_statement=scope,
            )
        ),
        visibility_config=_visibility(name),
    )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )
