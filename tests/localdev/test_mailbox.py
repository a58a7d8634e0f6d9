"""localdev/mailbox.py: every email moto's SES v2 sent, newest first, its links clickable, as a page
(strict CSP, no script) and as JSON."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

from localdev.emulators import AWS_REGION, FAKE_AWS_CREDENTIALS
from localdev.mailbox import Mailbox


@pytest.fixture(scope="module")
def mailbox(moto_server):
    ses = boto3.client(
        "sesv2",
        endpoint_url=moto_server.endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    ses.create_email_identity(EmailIdentity="mailbox-test@example.com")
    for subject, body in (("First <b>", "no link"), ("Second", "Open https://site.test/#signin=t0k-en_1 now.")):
        ses.send_email(
            FromEmailAddress="mailbox-test@example.com",
            Destination={"ToAddresses": ["ann@example.com"]},
            Content={"Simple": {"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}}},
        )
    with Mailbox(moto_server.endpoint_url) as running:
        yield running


def test_messages_are_listed_newest_first_with_their_links(mailbox):
    with urllib.request.urlopen(mailbox.url + "/messages.json", timeout=10) as answer:
        mine = [m for m in json.loads(answer.read()) if m["from"] == "mailbox-test@example.com"]
    assert [m["subject"] for m in mine] == ["Second", "First <b>"]
    assert mine[0]["to"] == "ann@example.com" and mine[0]["links"] == ["https://site.test/#signin=t0k-en_1"]


def test_the_page_shows_them_escaped_with_clickable_links_under_a_strict_policy(mailbox):
    with urllib.request.urlopen(mailbox.url + "/", timeout=10) as answer:
        page, policy = answer.read().decode(), answer.headers["Content-Security-Policy"]
    assert '<a href="https://site.test/#signin=t0k-en_1">' in page and "First &lt;b&gt;" in page
    assert "<script" not in page and "style=" not in page and "default-src 'none'" in policy
    with urllib.request.urlopen(mailbox.url + "/mailbox.css", timeout=10) as stylesheet:
        assert stylesheet.headers["Content-Type"].startswith("text/css")
