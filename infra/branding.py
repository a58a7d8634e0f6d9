"""The owner's brand on the customer-facing pages: product name, logo, accent colour and the terms,
privacy and support links. The page is the owner's, not Tollgate's.

Plain data, no CDK import, read from the same flat cdk.json context as every other setting (the
stack and `make dev` build it alike) and handed to the pages in config.json (infra/site_delivery.py).
The defaults shipped in cdk.json are neutral: a generic product name, the stock accent colour, and
no logo or links until the owner sets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.settings_reader import Reader

# Shown in the header and the tab title; no line breaks or control characters.
_PRODUCT_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,60}$")
_ACCENT_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
# Links the page shows and the logo it loads: https only, so a page served over https never mixes content.
_HTTPS_URL = r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:\d{1,5})?(/\S*)?"
_HTTPS_ADDRESS = re.compile(rf"^{_HTTPS_URL}$")
_EMAIL = r"[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
_SUPPORT_CONTACT = re.compile(rf"^({_HTTPS_URL}|{_EMAIL})$")
_HTTPS_EXPECTED = "an https URL"


@dataclass(frozen=True)
class Branding:
    """What the pages show of the owner; each field's `doc` is its key's line in docs/settings.md
    ([Customer accounts](customer-accounts.md#your-brand-on-the-pages) says how the pages use them)."""

    product_name: str = field(
        default="Your API",
        metadata={
            "doc": (
                "Your product's name as customers know it: the header and tab title of every page "
                "([Customer accounts](customer-accounts.md#your-brand-on-the-pages))."
            )
        },
    )
    accent_color: str = field(
        default="#3346d3",
        metadata={
            "doc": (
                "Buttons, links and the header mark; the pages derive the shades around it so text stays at WCAG AA in light "
                "and dark themes."
            )
        },
    )
    logo_url: str | None = field(
        default=None,
        metadata={
            "doc": (
                "The https URL of your logo (the CSP then lets images come from that host). A `site/logo.svg` or "
                "`site/logo.png` you add wins over it; neither: no logo."
            )
        },
    )
    terms_url: str | None = field(
        default=None,
        metadata={"doc": ("The https URL of your terms of service, linked in every page's footer; empty: no link.")},
    )
    privacy_url: str | None = field(
        default=None,
        metadata={"doc": ("The https URL of your privacy policy, linked in every page's footer; empty: no link.")},
    )
    support_contact: str | None = field(
        default=None,
        metadata={
            "doc": (
                'An email address (shown as a mailto link) or an https URL, linked in every page\'s footer as "Support"; '
                "empty: no link."
            )
        },
    )

    @classmethod
    def context_keys(cls) -> tuple[str, ...]:
        """The cdk.json context keys, one per field, named as the fields are."""
        return tuple(cls.__dataclass_fields__)

    @classmethod
    def from_context(cls, read: Reader) -> Branding:
        """Validated by Settings' reader, so a bad value fails the synth with the key's name."""
        return cls(
            product_name=read.matching(
                "product_name", _PRODUCT_NAME, "your product's name as customers know it, 1-60 characters on one line"
            ),
            accent_color=read.matching("accent_color", _ACCENT_COLOR, "a colour as #rrggbb, e.g. #3346d3").lower(),
            logo_url=read.optional_matching(
                "logo_url",
                _HTTPS_ADDRESS,
                _HTTPS_EXPECTED + " of your logo (or drop logo.svg or logo.png into site/, which wins)",
            ),
            terms_url=read.optional_matching(
                "terms_url", _HTTPS_ADDRESS, _HTTPS_EXPECTED + " of your terms of service"
            ),
            privacy_url=read.optional_matching(
                "privacy_url", _HTTPS_ADDRESS, _HTTPS_EXPECTED + " of your privacy policy"
            ),
            support_contact=read.optional_matching(
                "support_contact",
                _SUPPORT_CONTACT,
                "an email address (support@your-domain.com) or an https URL customers reach you at",
            ),
        )

    @property
    def support_href(self) -> str | None:
        """The support link's target: a mailto: link for an email address, else the URL itself."""
        if self.support_contact is None or self.support_contact.startswith("https://"):
            return self.support_contact
        return f"mailto:{self.support_contact}"
