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
from urllib.parse import urlsplit

from infra.branding import Branding
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
    return (
        "var PAGES = {" + pages + "};\n"
        "function handler(event) {\n"
        "  var request = event.request;\n"
        "  var page = PAGES[request.uri];\n"
        "  if (page) { request.uri = page; }\n"
        "  return request;\n"
        "}\n"
    )


HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 60 * 60  # two years: what HSTS preload lists ask for
HSTS_INCLUDE_SUBDOMAINS = True
FRAME_OPTION = "DENY"
REFERRER_POLICY = "strict-origin-when-cross-origin"
# A logo the owner drops into site/ (the first found) wins over the `logo_url` setting.
LOGO_FILES = ("logo.svg", "logo.png")


def site_config(
    api_url: str, plans: tuple[PlanSettings, ...], branding: Branding, site_dir: Path = SITE_DIR
) -> dict[str, Any]:
    """The config.json the page reads at load, so it never hard-codes the API's address (shown to the
    customer as the base URL of the metered API; the page itself calls only its own origin), the plans
    (the first is the default; `requirePaymentMethod` is the default plan's, for pages that ask) or the
    owner's brand (site/brand.js shows the "brand" part on every page)."""
    return {
        "apiUrl": api_url,
        "requirePaymentMethod": plans[0].require_payment_method,
        "plans": [plan.page_view() for plan in plans],
        "brand": {
            "productName": branding.product_name,
            "accentColor": branding.accent_color,
            "logo": logo_address(branding, site_dir),
            "termsUrl": branding.terms_url,
            "privacyUrl": branding.privacy_url,
            "supportUrl": branding.support_href,
            "supportLabel": branding.support_contact,
        },
    }


def logo_address(branding: Branding, site_dir: Path = SITE_DIR) -> str | None:
    """What the page loads as the logo: a file of site/ (relative), else `logo_url`, else none."""
    for name in LOGO_FILES:
        if (site_dir / name).is_file():
            return name
    return branding.logo_url


def logo_origin(branding: Branding, site_dir: Path = SITE_DIR) -> str | None:
    """The origin the CSP must let images come from for the logo, when it is not the site's own."""
    address = logo_address(branding, site_dir)
    if address is None or not address.startswith("https://"):
        return None
    parts = urlsplit(address)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(image_origin: str | None = None) -> str:
    """No inline script or style anywhere; the page may only call its own origin (the API's routes
    it needs are under `/api/...` there), and load images only from itself and the owner's logo host
    (`image_origin`).

    Navigation to Stripe Checkout is a top-level redirect, which connect-src does not restrict.
    The accent colour is set from script as CSS custom properties (element.style.setProperty),
    which style-src 'self' allows: CSP blocks style attributes and cssText, not CSSOM property
    setters (https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy/style-src).
    """
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            " ".join(("img-src 'self' data:", *((image_origin,) if image_origin else ()))),
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        )
    )


def strict_transport_security() -> str:
    return f"max-age={HSTS_MAX_AGE_SECONDS}" + ("; includeSubDomains" if HSTS_INCLUDE_SUBDOMAINS else "")


def security_headers(image_origin: str | None = None) -> dict[str, str]:
    """Every header the policy adds to each response of the site, as the browser receives it."""
    return {
        "Content-Security-Policy": content_security_policy(image_origin),
        "Strict-Transport-Security": strict_transport_security(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": FRAME_OPTION,
        "Referrer-Policy": REFERRER_POLICY,
    }
