"""Signing in to the account page by emailed link, and the sessions that follow.

- `request_sign_in` answers the same whatever the address: an account holder gets a sign-in link,
  any other address an email saying it has no account (one count and one email either way, so the
  timing tells nothing either).
- `open` spends a sign-in link and starts a session: a new `secrets.token_urlsafe(32)` for the
  cookie, only its SHA-256 stored, for contract.SESSION_SECONDS (12 h). The cookie is HttpOnly, so
  no page script can read it (tollgate.handlers.account).
- A session is revocable: signing out deletes it; "sign out everywhere" deletes every session of
  the account. An expired session is refused even before its TTL removes it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from tollgate import contract
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.account_emails import AccountEmails
from tollgate.domain.customer_access import LinkPurpose, Session, token_hash
from tollgate.domain.email_links import TOKEN_BYTES, EmailLinks
from tollgate.domain.errors import InvalidLink, SignedOut
from tollgate.domain.ports.accounts import Accounts
from tollgate.domain.ports.customer_access import CustomerAccess

# Accounts whose holder may sign in: every one with a Stripe customer (a canceled one still has its
# invoices in the portal). Pending and failed rows are no one's account.
SIGN_IN_STATUSES = frozenset(
    {AccountStatus.ACTIVE, AccountStatus.AWAITING_PAYMENT_METHOD, AccountStatus.SUSPENDED, AccountStatus.CANCELED}
)


class CustomerSessions:
    def __init__(
        self,
        accounts: Accounts,
        access: CustomerAccess,
        links: EmailLinks,
        emails: AccountEmails,
        *,
        session_seconds: int = contract.SESSION_SECONDS,
        clock: Callable[[], float] = time.time,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
    ):
        self._accounts = accounts
        self._access = access
        self._links = links
        self._emails = emails
        self.session_seconds = session_seconds
        self._clock = clock
        self._new_token = new_token

    def request_sign_in(self, email: str) -> None:
        """Email a sign-in link to an account holder, a "no account" note to anyone else. Raises
        TooManyEmails when the address had its share of emails this hour."""
        account = self._accounts.get(email)
        if account is not None and account.status in SIGN_IN_STATUSES:
            self._links.send_link(LinkPurpose.SIGN_IN, email, lambda token: self._emails.sign_in(email, token))
        else:
            self._links.send_notice(self._emails.no_account(email))

    def open(self, link_token: str) -> tuple[str, Session]:
        """Spend a sign-in link; return the new session's token (for the cookie only) and session."""
        link = self._links.redeem(LinkPurpose.SIGN_IN, link_token)
        account = self._accounts.get(link.email)
        if account is None or account.status not in SIGN_IN_STATUSES:
            raise InvalidLink("the account of this sign-in link is gone")
        token, now = self._new_token(), int(self._clock())
        session = Session(token_hash(token), link.email, now, now + self.session_seconds)
        self._access.put_session(session)
        return token, session

    def account(self, session_token: str | None) -> Account:
        """The signed-in account; SignedOut without a valid session."""
        if not session_token:
            raise SignedOut("no session cookie")
        session = self._access.get_session(token_hash(session_token))
        if session is None or session.expires_at <= self._clock():
            raise SignedOut("unknown, closed or expired session")
        account = self._accounts.get(session.email)
        if account is None or account.status not in SIGN_IN_STATUSES:
            raise SignedOut("the session's account is gone")
        return account

    def close(self, session_token: str | None, everywhere: bool = False) -> None:
        """Sign this browser out, or every browser of the account. Signing out twice is not an error."""
        if not session_token:
            return
        session = self._access.get_session(token_hash(session_token))
        if session is None:
            return
        hashes = self._access.sessions_of(session.email) if everywhere else []
        for stale in {session.token_hash, *hashes}:
            self._access.delete_session(stale)
