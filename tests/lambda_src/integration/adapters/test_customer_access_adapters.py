"""Issue 12: the customer-access adapters on moto: the access table (single-use links, the hourly
email count, sessions by owner, retirement reminders by due time) and SES v2."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_customer_access import DynamoCustomerAccess
from tollgate.adapters.ses_mailer import SesMailer
from tollgate.domain.customer_access import EmailLink, KeyRetirement, LinkPurpose, Session
from tollgate.domain.errors import DownstreamError
from tollgate.domain.models import Email, Registrant


@pytest.fixture
def access(aws) -> DynamoCustomerAccess:
    return DynamoCustomerAccess(AwsClients().client("dynamodb"), aws.access_table)


def test_a_link_round_trips_and_only_one_of_many_concurrent_uses_wins(access):
    link = EmailLink(uuid.uuid4().hex * 2, LinkPurpose.SIGN_UP, "ada@example.com", 2_000_000_000,
                     Registrant("ada@example.com", "Ada", "Lovelace"))
    access.put_link(link)
    assert access.get_link(link.token_hash) == link

    wins: list[bool] = []
    threads = [threading.Thread(target=lambda: wins.append(access.use_link(link.token_hash))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]
    assert access.get_link(link.token_hash) is None


def test_the_hourly_email_count_stops_at_the_limit_per_address_and_window(access):
    address = uuid.uuid4().hex
    assert [access.count_email(address, 3_600, 3, 7_200) for _ in range(4)] == [True, True, True, False]
    assert access.count_email(address, 7_200, 3, 10_800)  # the next hour
    assert access.count_email(uuid.uuid4().hex, 3_600, 3, 7_200)  # another address


def test_sessions_are_found_by_hash_and_listed_by_owner(access):
    owner = f"{uuid.uuid4().hex[:8]}@example.com"
    sessions = [Session(uuid.uuid4().hex * 2, owner, 1, 2_000_000_000) for _ in range(3)]
    for session in sessions:
        access.put_session(session)
    access.put_session(Session(uuid.uuid4().hex * 2, "someone@example.com", 1, 2_000_000_000))

    assert access.get_session(sessions[0].token_hash) == sessions[0]
    assert sorted(access.sessions_of(owner)) == sorted(s.token_hash for s in sessions)
    access.delete_session(sessions[0].token_hash)
    access.delete_session(sessions[0].token_hash)  # twice is fine
    assert access.get_session(sessions[0].token_hash) is None


def test_retirement_reminders_come_due_in_order_and_are_forgotten(access):
    later, sooner, future = (KeyRetirement(f"k{uuid.uuid4().hex[:6]}", "ada@example.com", at)
                             for at in (5_000, 4_000, 9_000))
    for reminder in (later, sooner, future):
        access.remind_retirement(reminder)
    due = [r for r in access.due_retirements(6_000) if r in (later, sooner, future)]
    assert due == [sooner, later]
    access.forget_retirement(sooner.key_id)
    assert sooner not in access.due_retirements(6_000)


def test_ses_sends_from_the_verified_sender(aws):
    mailer = SesMailer(AwsClients().client("sesv2"), aws.settings.email_sender)
    mailer.send(Email("ada@example.com", "Your sign-in link", "https://shop.example/account.html#signin=abc\n"))
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages[-1]
    assert (sent.source, sent.destinations["ToAddresses"], sent.subject) == (
        aws.settings.email_sender, ["ada@example.com"], "Your sign-in link")
    assert "#signin=abc" in sent.body


def test_an_unverified_sender_is_a_deployment_problem_not_a_retry(aws):
    mailer = SesMailer(boto3.client("sesv2"), "not-verified@example.org")
    with pytest.raises(DownstreamError) as refused:
        mailer.send(Email("ada@example.com", "subject", "text"))
    assert refused.value.service == "SES" and not refused.value.retryable
