"""One-time links sent by email: one machinery for sign-up confirmation and sign-in.

- A token is `secrets.token_urlsafe(32)`: 256 random bits. Only its SHA-256 is stored (the customer
  access table), with the purpose, the address and an expiry (`ttl_seconds`, default 24 h): a copy
  of the table lets nobody use a link.
- A link is found by the hash of the token presented, so no secret is ever compared byte by byte in
  code; the one comparison left (the stored hash against the presented one) is constant time.
- Single use: using a link is a conditional delete that only one caller can win.
- A tampered, unknown, expired, used or other-purpose token gets the same InvalidLink.
- Opening a link signs nobody in by itself (login CSRF: a link to someone else's account, mailed to
  a victim, must not sign the victim's browser in to it). The page first shows whose link it is
  (`peek`, which spends nothing) and asks for a click; only that click uses the link.
- Every address gets at most `emails_per_hour` of Tollgate's emails per clock hour, whatever they
  are and whether the address has an account or not (TooManyEmails names when to try again), so
  the sign-up and sign-in forms cannot be used to flood someone's inbox.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

from tollgate.domain.customer_access import EmailLink, LinkPurpose, token_hash
from tollgate.domain.errors import InvalidLink, TooManyEmails
from tollgate.domain.models import Email, Registrant
from tollgate.domain.ports.customer_access import CustomerAccess
from tollgate.domain.ports.mail import Mailer

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 256 bits, 43 URL-safe characters
EMAIL_COUNT_WINDOW_SECONDS = 3600


class EmailLinks:
    """Sends emails (with a one-time link when they carry one) and redeems the links."""

    def __init__(
        self,
        access: CustomerAccess,
        mailer: Mailer,
        *,
        ttl_seconds: int,
        emails_per_hour: int,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
    ):
        self._access = access
        self._mailer = mailer
        self.ttl_seconds = ttl_seconds
        self._emails_per_hour = emails_per_hour
        self._clock = clock
        self._new_token = new_token

    def send_link(
        self, purpose: LinkPurpose, email: str, message: Callable[[str], Email], registrant: Registrant | None = None
    ) -> None:
        """Store a new link for `email` and send `message(token)`. Raises TooManyEmails first when
        the address had its share this hour (nothing is stored then)."""
        self._count(email)
        token = self._new_token()
        now = int(self._clock())
        self._access.put_link(EmailLink(token_hash(token), purpose, email, now + self.ttl_seconds, registrant))
        self._mailer.send(message(token))

    def send_notice(self, email: Email) -> None:
        """Send an email without a link, counted like the others."""
        self._count(email.to)
        self._mailer.send(email)

    def find(self, purpose: LinkPurpose, token: str) -> EmailLink:
        """The unused, unexpired link of `purpose` behind `token`; InvalidLink otherwise."""
        link = self.peek(token)
        if link.purpose is not purpose:
            raise InvalidLink(f"a {link.purpose.value} link presented for {purpose.value}")
        return link

    def peek(self, token: str) -> EmailLink:
        """The unused, unexpired link behind `token`, whatever its purpose, left unspent (what the page
        shows before the click that uses it); InvalidLink otherwise, alike for every reason."""
        presented = token_hash(token)
        link = self._access.get_link(presented)
        if link is None or not hmac.compare_digest(link.token_hash, presented):
            raise InvalidLink("unknown or used link")
        if link.expires_at <= self._clock():
            raise InvalidLink(f"an expired {link.purpose.value} link")
        return link

    def use(self, link: EmailLink) -> None:
        """Spend the link; InvalidLink when someone else spent it first."""
        if not self._access.use_link(link.token_hash):
            raise InvalidLink("link used meanwhile")

    def redeem(self, purpose: LinkPurpose, token: str) -> EmailLink:
        """Find and spend a link in one go (sign-in)."""
        link = self.find(purpose, token)
        self.use(link)
        return link

    def _count(self, email: str) -> None:
        now = int(self._clock())
        window = now - now % EMAIL_COUNT_WINDOW_SECONDS
        window_end = window + EMAIL_COUNT_WINDOW_SECONDS
        if not self._access.count_email(token_hash(email), window, self._emails_per_hour, window_end):
            raise TooManyEmails(
                f"{self._emails_per_hour} emails were sent to this address this hour", retry_after=window_end - now
            )
