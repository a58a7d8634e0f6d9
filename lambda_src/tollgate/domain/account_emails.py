"""The emails a customer gets from Tollgate, and the links in them.

Links point at the signup site and carry the token in the URL fragment (`#confirm=...`,
`#signin=...`): a browser never sends a fragment to a server, so the token stays out of CloudFront
and API Gateway logs and out of Referer headers; the page posts it to the API itself. Opening the
link does nothing on its own, so a mail scanner that fetches every link spends no token.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tollgate import contract
from tollgate.domain.models import Email
from tollgate.domain.spend_control import PeriodCharges, QuotaUsage, Threshold, Window, shown
from tollgate.plans import Plan

CONFIRM_FRAGMENT = "confirm"  # site/app.js reads #confirm=<token>
SIGNIN_FRAGMENT = "signin"  # site/account.js reads #signin=<token>


class AccountEmails:
    """Builds each email from the signup site's URL (ending in '/') and the links' lifetime."""

    def __init__(self, site_url: str, link_ttl_seconds: int):
        self._site_url = site_url if site_url.endswith("/") else site_url + "/"
        self._hours = max(1, round(link_ttl_seconds / 3600))

    def confirm_link(self, token: str) -> str:
        return f"{self._site_url}#{CONFIRM_FRAGMENT}={token}"

    def sign_in_link(self, token: str) -> str:
        return f"{self._site_url}{contract.ACCOUNT_PAGE}#{SIGNIN_FRAGMENT}={token}"

    @property
    def account_page(self) -> str:
        return self._site_url + contract.ACCOUNT_PAGE

    def confirm_sign_up(self, to: str, token: str) -> Email:
        return Email(
            to,
            "Confirm your email to get your API key",
            self._body(
                "Someone (we hope you) asked for an API key with this email address.",
                f"Open this link to confirm it and get your key:\n\n{self.confirm_link(token)}",
                f"The link works once, for {self._hours} hours. If you did not sign up, ignore this email: "
                "nothing was created and nothing will be charged.",
            ),
        )

    def already_signed_up(self, to: str, token: str) -> Email:
        return Email(
            to,
            "You already have an account: sign in",
            self._body(
                "Someone (we hope you) tried to sign up again with this email address, which already has an account.",
                f"Sign in to see your usage, rotate your key or manage billing:\n\n{self.sign_in_link(token)}",
                f"The link works once, for {self._hours} hours. If this was not you, ignore this email: "
                "your account is unchanged.",
            ),
        )

    def sign_in(self, to: str, token: str) -> Email:
        return Email(
            to,
            "Your sign-in link",
            self._body(
                "Open this link to sign in to your account:",
                self.sign_in_link(token),
                f"The link works once, for {self._hours} hours. If you did not ask for it, ignore this email.",
            ),
        )

    def no_account(self, to: str) -> Email:
        return Email(
            to,
            "No account with this email",
            self._body(
                "Someone (we hope you) asked to sign in with this email address, but it has no account.",
                f"Sign up here:\n\n{self._site_url}",
                "If you did not ask, ignore this email.",
            ),
        )

    def quota_alert(self, to: str, threshold: Threshold, plan: Plan, used: QuotaUsage) -> Email:
        """A percentage of the quota the customer set (or the free plan's default) was reached this period."""
        subject = f"You have used {threshold.value}% of your {plan.name} quota"
        what = (
            f"Your account made {used.calls:,} calls this period, {threshold.value}% or more of the "
            f"{plan.quota_limit:,} calls your {plan.name} plan allows."
        )
        then = (
            "Calls over the quota are refused with HTTP 429 until the period ends"
            if threshold.value >= 100
            else "Past the quota, calls are refused with HTTP 429"
        )
        return self._alert(to, subject, what, then, used.window)

    def charges_alert(self, to: str, threshold: Threshold, plan: Plan, charged: PeriodCharges) -> Email:
        """An amount of the period's charges the customer set was reached."""
        amount = shown(threshold.value, charged.currency)
        what = (
            f"Your account's charges this period reached {shown(charged.spent, charged.currency)} "
            f"({charged.billable:,} billed calls on the {plan.name} plan), past the {amount} alert you set."
        )
        return self._alert(
            to,
            f"Your charges this period reached {amount}",
            what,
            "Calls go on and are billed as usual unless you set a spend cap",
            charged.window,
        )

    def _alert(self, to: str, subject: str, what: str, then: str, period: Window) -> Email:
        ends = datetime.fromtimestamp(period.end, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return Email(
            to,
            subject,
            self._body(
                what,
                f"{then}; the period ends {ends}.",
                f"Change your alerts, your spend cap or your plan on your account page:\n\n{self.account_page}",
            ),
        )

    @staticmethod
    def _body(*paragraphs: str) -> str:
        return "\n\n".join(paragraphs) + "\n"
