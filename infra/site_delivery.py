"""What the signup page is delivered with, one source of truth in plain data (no CDK import):
the files of site/, the generated config.json and the security headers.

The stack (infra/signup_site.py: BucketDeployment + CloudFront's response-headers policy) is
built from these, and the local site server (localdev/site_server.py) serves the same config and
sends `security_headers()` as they are, so a CSP that would break the page breaks it first in
`make dev` and in the browser tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.plan_settings import PlanSettings
from tollgate import contract

SITE_DIR = Path(__file__).resolve().parent.parent / "site"
CONFIG_OBJECT_KEY = "config.json"
# Pages served at an address without the file's extension (what customers see and emails link to):
# address -> the site/ file. CloudFront rewrites only these addresses (a function on their own
# behaviours, so no other request runs it); the local site server does the same.
PAGE_ROUTES = {f"/{contract.ACCOUNT_PAGE}": contract.ACCOUNT_PAGE_FILE}


def page_rewrite_function() -> str:
    """The CloudFront Function (JavaScript runtime 2.0) on PAGE_ROUTES' behaviours: the address's
    file becomes the request's URI, so S3 serves it with its own content type."""
    pages = ", ".join(f'"{route}": "/{page}"' for route, page in PAGE_ROUTES.items())
    return ("var PAGES = {" + pages + "};\n"
            "function handler(event) {\n"
            "  var request = event.request;\n"
            "  var page = PAGES[request.uri];\n"
            "  if (page) { request.uri = page; }\n"
            "  return request;\n"
            "}\n")

HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 60 * 60  # two years: what HSTS preload lists ask for
HSTS_INCLUDE_SUBDOMAINS = True
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"


def site_config(api_url: str, plans: tuple[PlanSettings, ...]) -> dict[str, Any]:
    """The config.json the page reads at load, so it never hard-codes the API's address or the plans
    (the first is the default; `requirePaymentMethod` is the default plan's, for pages that ask)."""
    return {"apiUrl": api_url, "requirePaymentMethod": plans[0].require_payment_method,
            "plans": [plan.page_view() for plan in plans]}


def content_security_policy(api_origin: str) -> str:
    """No inline script or style anywhere; the page may only call its own origin and the API.

    Navigation to Stripe Checkout is a top-level redirect, which connect-src does not restrict.
    """
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {api_origin}",
            "img-src 'self' data:",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


def strict_transport_security() -> str:
    return f"max-age={HSTS_MAX_AGE_SECONDS}" + ("; includeSubDomains" if HSTS_INCLUDE_SUBDOMAINS else "")


def security_headers(api_origin: str) -> dict[str, str]:
    """Every header the policy adds to each response of the site, as the browser receives it."""
    return {
        "Content-Security-Policy": content_security_policy(api_origin),
        "Strict-Transport-Security": strict_transport_security(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": FRAME_OPTION,
        "Referrer-Policy": REFERRER_POLICY,
    }
