"""The customer-accounts settings of the test world (link lifetime, emails per hour, rotation grace) and
the environment the stack gives the functions that serve customer accounts."""

from __future__ import annotations

from tollgate import contract
from tollgate.domain.key_items import KeyIssuer

LINK_TTL_SECONDS = 24 * 3600


EMAILS_PER_HOUR = 3


GRACE_SECONDS = 24 * 3600


def accounts_environment(function_environment: dict[str, str], verify_email: bool = True) -> dict[str, str]:
    """`function_environment` plus what the stack sets on the functions that serve customer accounts."""
    return {
        **function_environment,
        contract.ENV_CUSTOMER_ACCESS_TABLE: "customer-access",
        contract.ENV_VERIFY_EMAIL: "true" if verify_email else "false",
        contract.ENV_EMAIL_SENDER: "no-reply@shop.example",
        contract.ENV_EMAIL_LINK_TTL_SECONDS: str(LINK_TTL_SECONDS),
        contract.ENV_EMAILS_PER_ADDRESS_PER_HOUR: str(EMAILS_PER_HOUR),
        contract.ENV_KEY_ROTATION_GRACE_SECONDS: str(GRACE_SECONDS),
    }


ISSUER = KeyIssuer("tgk", lambda: "test")  # the test world's keys: the fakes' Stripe is a test deployment's
