"""The stage's WAF WebACL: per-client limits on the routes anyone can call without a key.

A stage or method throttle is shared by every caller, so one client sending a few requests a
second could use it up and lock every customer out of sign-up, and a flood of unsigned junk could
make Stripe's real deliveries fail. WAF counts per source IP instead (rate-based rules, scoped down
to the unauthenticated paths):
- POST /register and /billing/checkout: `signup_requests_per_ip` per 5 minutes per IP;
- /stripe/webhook: `webhook_requests_per_ip` per 5 minutes per IP, except from Stripe's published
  webhook IPs (https://docs.stripe.com/ips, `stripe_webhook_ips`), so a month-end burst of real
  deliveries is never limited; a junk sender is cut off by its own count.
- AWS's common rule set on everything but the webhook: Stripe signs its events, and a large or
  odd-looking event body (SizeRestrictions_BODY blocks over 8 KB) must never be dropped.
- the signup site's `/api/...` routes come through CloudFront, so the IP WAF sees is CloudFront's:
  the routes anyone may call without a session (sign-up confirmation, sign-in) are limited to
  `signup_requests_per_ip` per 5 minutes per VIEWER IP, read from contract.VIEWER_IP_HEADER, which a
  CloudFront Function sets on every request (infra/customer_accounts.py). That header could be
  forged by calling the stage directly, so `/api/*` without CloudFront's secret origin header
  (contract.SITE_ORIGIN_SECRET_HEADER) is refused first. (X-Forwarded-For cannot serve: for
  rate-based rules WAF takes its FIRST address, which the client writes.)
Metered routes are not rate-limited per IP: usage plans limit each key, and a paying client behind
one IP may legitimately make many calls.
Rate-based rules: https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html
"""

from __future__ import annotations

import json

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.settings import Settings
from tollgate import contract

_NO_TRANSFORMATION = wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
EVALUATION_WINDOW_SECONDS = 300  # WAF counts requests per IP over the last 5 minutes
TOO_MANY_BODY_KEY = "too-many-requests"
TOO_MANY_MESSAGE = "Too many requests from your network: please wait a few minutes, then try again."
SITE_ONLY_BODY_KEY = "site-only"
SITE_ONLY_MESSAGE = "These routes answer through the signup site only: open the site and try there."


class ApiFirewall(Construct):
    """A regional WebACL associated with the API's stage; `web_acl` is the L1 resource."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, stage_arn: str,
                 allowed_origin: str, site_origin_secret: str) -> None:
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
        webhook_path = _path_is(stage, contract.ROUTE_STRIPE_WEBHOOK)
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
                key: wafv2.CfnWebACL.CustomResponseBodyProperty(content_type="APPLICATION_JSON",
                                                               content=json.dumps({"error": message}))
                for key, message in ((TOO_MANY_BODY_KEY, TOO_MANY_MESSAGE), (SITE_ONLY_BODY_KEY, SITE_ONLY_MESSAGE))
            },
            rules=[
                # The signup page must be able to read the answer: the site's origin on it, as on
                # the stage's own 429 (infra/gateway_errors.py).
                _per_ip("SignUpAndCheckoutPerIp", 0, settings.signup_requests_per_ip,
                        _any_of(*(_path_is(stage, route) for route in contract.CORS_ROUTES)),
                        {"Access-Control-Allow-Origin": allowed_origin, "Cache-Control": "no-store"}),
                _per_ip("WebhookPerIpExceptStripe", 1, settings.webhook_requests_per_ip,
                        _all_of(webhook_path, not_from_stripe), {"Cache-Control": "no-store"}),
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
                _per_ip("SiteSignInPerViewerIp", 4, settings.signup_requests_per_ip,
                        _any_of(*(_path_is(stage, route) for route in contract.SITE_ROUTES_WITHOUT_SESSION)),
                        {"Cache-Control": "no-store"}, forwarded_ip_header=contract.VIEWER_IP_HEADER),
            ],
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn)


def _path_is(stage: str, route: str) -> wafv2.CfnWebACL.StatementProperty:
    """The request path is `route`, as sent to the stage's invoke URL (/<stage>/route) or to a
    custom domain mapped to the stage (/route)."""
    return _any_of(*(
        wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="EXACTLY",
                search_string=path,
                text_transformations=[_NO_TRANSFORMATION],
            )
        )
        for path in (f"/{stage}{route}", route)
    ))


def _site_api_only_through_cloudfront(stage: str, secret: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
    """Refuse `/api/*` requests that lack CloudFront's secret origin header (403, JSON)."""
    api_path = _any_of(*(
        wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), positional_constraint="STARTS_WITH",
            search_string=prefix, text_transformations=[_NO_TRANSFORMATION]))
        for prefix in (f"/{stage}{contract.SITE_API_PREFIX}", contract.SITE_API_PREFIX)))
    has_secret = wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
        field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
            single_header={"Name": contract.SITE_ORIGIN_SECRET_HEADER}),
        positional_constraint="EXACTLY", search_string=secret, text_transformations=[_NO_TRANSFORMATION]))
    return wafv2.CfnWebACL.RuleProperty(
        name="SiteApiOnlyThroughCloudFront",
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=403, custom_response_body_key=SITE_ONLY_BODY_KEY,
                response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Cache-Control", value="no-store")]))),
        statement=_all_of(api_path, wafv2.CfnWebACL.StatementProperty(
            not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=has_secret))),
        visibility_config=_visibility("SiteApiOnlyThroughCloudFront"),
    )


def _any_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=list(statements)))


def _all_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements)))


def _per_ip(name: str, priority: int, limit: int, scope: wafv2.CfnWebACL.StatementProperty,
            headers: dict[str, str], forwarded_ip_header: str | None = None) -> wafv2.CfnWebACL.RuleProperty:
    """Block an IP over `limit` requests in the window, answering 429 with the JSON error body
    (response headers keep their names: only inserted request headers get WAF's x-amzn-waf- prefix).
    With `forwarded_ip_header`, the IP is that header's (the viewer behind CloudFront)."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=429,
                custom_response_body_key=TOO_MANY_BODY_KEY,
                response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name=header, value=value)
                                  for header, value in headers.items()],
            )
        )),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit,
                aggregate_key_type="FORWARDED_IP" if forwarded_ip_header else "IP",
                forwarded_ip_config=wafv2.CfnWebACL.ForwardedIPConfigurationProperty(
                    header_name=forwarded_ip_header, fallback_behavior="MATCH") if forwarded_ip_header else None,
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
