"""The Mailer port (tollgate.domain.ports.mail): FakeMailer and SesMailer on moto answer alike.

What sign-up confirmation and sign-in links rely on: one plain-text email reaches its recipient with
its subject and text as given, non-ASCII included. On SES the sender is the configured, verified
identity, and an unverified one is a deployment problem (not retryable)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from testkit.fake_access import FakeMailer
from tollgate.adapters.ses_mailer import SesMailer
from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import Email
from tollgate.domain.ports.mail import Mailer


@dataclass
class Mail:
    """The port, and the emails its counterpart delivered to an address, oldest first."""

    port: Mailer
    delivered_to: Callable[[str], list[Email]]


def ses_delivered_to(address: str) -> list[Email]:
    """What moto's SES sent to `address` (sesv2 SendEmail with simple content keeps subject and text)."""
    return [
        Email(address, message.subject, message.body)
        for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        if address in message.destinations["ToAddresses"]
    ]


@pytest.fixture(scope="module", params=["fake", "ses"])
def mail(request) -> Iterator[Mail]:
    if request.param == "fake":
        fake = FakeMailer()
        yield Mail(fake, fake.to)
        return
    aws = request.getfixturevalue("aws")
    yield Mail(
        SesMailer(request.getfixturevalue("aws_clients").client("sesv2"), aws.settings.email_sender), ses_delivered_to
    )


def address() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.com"


def test_an_email_reaches_its_recipient_with_its_subject_and_text(mail):
    email = Email(address(), "Your sign-in link", "Open https://shop.example/account.html#signin=abc\nZoë\n")

    mail.port.send(email)

    assert mail.delivered_to(email.to) == [email]


def test_each_email_is_sent_once_and_only_to_its_recipient(mail):
    first, second = Email(address(), "Confirm your sign-up", "one"), Email(address(), "Confirm your sign-up", "two")

    mail.port.send(first)
    mail.port.send(first)
    mail.port.send(second)

    assert mail.delivered_to(first.to) == [first, first] and mail.delivered_to(second.to) == [second]


def test_ses_sends_from_the_configured_sender(aws, aws_clients):
    to = address()

    SesMailer(aws_clients.client("sesv2"), aws.settings.email_sender).send(Email(to, "subject", "text"))

    (sent,) = [
        message
        for message in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
        if to in message.destinations["ToAddresses"]
    ]
    assert sent.source == aws.settings.email_sender


def test_an_unverified_sender_is_a_deployment_problem_not_a_retry(aws, aws_clients):
    with pytest.raises(DownstreamError) as refused:
        SesMailer(aws_clients.client("sesv2"), "not-verified@example.org").send(Email(address(), "subject", "text"))

    assert refused.value.service == "SES" and not refused.value.retryable
