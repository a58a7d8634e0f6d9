"""Mailer on Amazon SES (API v2, `SendEmail` with simple content): plain-text emails from the
configured sender (`email_sender`, an identity verified in SES; docs/customer-accounts.md).

SES refuses a message (`MessageRejected`) when the sender is not verified, or, while the account is
in the SES sandbox, when the recipient is not verified either; that is a deployment problem (not
retryable). Throttling (`TooManyRequestsException`, the account's sending rate) and 5xx are.
"""

from __future__ import annotations

from typing import Any

from tollgate.adapters.aws_clients import call_aws
from tollgate.domain.models import Email
from tollgate.domain.ports.mail import Mailer

_SERVICE = "SES"
_UTF8 = "UTF-8"


class SesMailer(Mailer):
    """Emails through a boto3 `sesv2` client (see aws_clients.AwsClients)."""

    def __init__(self, client: Any, sender: str):
        self._client = client
        self._sender = sender

    def send(self, email: Email) -> None:
        call_aws(
            _SERVICE,
            "send email",
            self._client.send_email,
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [email.to]},
            Content={
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": _UTF8},
                    "Body": {"Text": {"Data": email.text, "Charset": _UTF8}},
                }
            },
        )
