"""Sign-up with a verified email (`verify_email`, on by default): nothing is created for an address
until its owner opens the link sent to it.

`request` answers the same way whatever the address: a new (or cancelled) one gets a confirmation
link holding the validated sign-up; one that already has an account gets a sign-in link instead,
in an email saying so. The HTTP answer cannot tell them apart, and both cost one count, one link
write and one email (same timing class).

`confirm` runs the register flow (tollgate.domain.registration: rollback, the email reservation and
all) for the sign-up the link holds. The link is spent only once the flow has an answer that will
not change: a key, or "this email already has an account". A failing service leaves it usable, so
the customer just opens it again; two tabs confirming at once get "already being processed" for
the second (the link's hash is the request fingerprint the reservation compares).
"""

from __future__ import annotations

from contextlib import suppress

from tollgate import contract
from tollgate.domain.account import AccountStatus
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.customer_access import EmailLink, LinkPurpose
from tollgate.domain.email_links import EmailLinks
from tollgate.domain.errors import DownstreamError, EmailAlreadyRegistered, InvalidLink
from tollgate.domain.models import Registrant
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.registration import Registration, RegistrationService

# Accounts a customer has: signing up again with their email gets a sign-in link. A canceled account
# signs up again (a new key and subscription); pending and failed rows are no one's account.
ACCOUNT_HOLDER_STATUSES = frozenset(
    {AccountStatus.ACTIVE, AccountStatus.AWAITING_PAYMENT_METHOD, AccountStatus.SUSPENDED}
)


class VerifiedSignUp:
    def __init__(self, accounts: Accounts, links: EmailLinks, emails: AccountEmails, registration: RegistrationService):
        self._accounts = accounts
        self._links = links
        self._emails = emails
        self._registration = registration

    def request(self, registrant: Registrant) -> None:
        """Email a confirmation link, or a sign-in link when the address has an account. Raises
        TooManyEmails when the address had its share of emails this hour."""
        self._registration.metrics.count(contract.METRIC_SIGNUPS_REQUESTED)
        existing = self._accounts.get(registrant.email)
        if existing is not None and existing.status in ACCOUNT_HOLDER_STATUSES:
            self._links.send_link(
                LinkPurpose.SIGN_IN,
                registrant.email,
                lambda token: self._emails.already_signed_up(registrant.email, token),
            )
            return
        self._links.send_link(
            LinkPurpose.SIGN_UP,
            registrant.email,
            lambda token: self._emails.confirm_sign_up(registrant.email, token),
            registrant,
        )

    def confirm(self, token: str) -> Registration:
        """Register the sign-up behind `token`. Raises InvalidLink, or what RegistrationService.register
        raises (EmailAlreadyRegistered spends the link, the others leave it usable)."""
        link = self._links.find(LinkPurpose.SIGN_UP, token)
        if link.registrant is None:
            raise InvalidLink("a sign-up link without its sign-up")
        try:
            registration = self._registration.register(link.registrant, request_fingerprint=link.token_hash)
        except EmailAlreadyRegistered:
            self._spend(link)
            raise
        self._spend(link)
        return registration

    def _spend(self, link: EmailLink) -> None:
        """Spend the link once the answer is final. Should that fail, the answer stands: opening the
        link again registers nothing twice, it answers "this email already has an account"."""
        with suppress(InvalidLink, DownstreamError):
            self._links.use(link)
