"""MoesifAnalytics against the local Moesif collector: path, headers, body, retries, timeout."""

from __future__ import annotations

import socket
import time

import pytest

from tollgate.adapters.moesif_analytics import MoesifAnalytics
from tollgate.domain.errors import DownstreamError


@pytest.fixture
def analytics(clean_moesif) -> MoesifAnalytics:
    return MoesifAnalytics(lambda: "app-id-123", clean_moesif.base_url)


def test_company_and_user_are_posted_with_the_application_id(analytics, clean_moesif):
    analytics.upsert_company("sub_1", {"email": "ann@example.com"})
    analytics.upsert_user("key-1", "sub_1", {"email": "ann@example.com", "first_name": "Ann"})

    company_request, user_request = clean_moesif.requests()
    assert (company_request.method, company_request.path) == ("POST", "/v1/companies")
    assert (user_request.method, user_request.path) == ("POST", "/v1/users")
    assert all(r.header("X-Moesif-Application-Id") == "app-id-123" for r in (company_request, user_request))
    assert company_request.body["company_id"] == "sub_1"
    assert company_request.body["metadata"] == {"email": "ann@example.com"}
    assert user_request.body["user_id"] == "key-1" and user_request.body["company_id"] == "sub_1"
    assert user_request.body["metadata"] == {"email": "ann@example.com", "first_name": "Ann"}


def test_a_transient_failure_is_retried(analytics, clean_moesif):
    clean_moesif.fail_next(503, count=2)

    analytics.upsert_user("key-2", "sub_2", {})

    assert [u["user_id"] for u in clean_moesif.users()] == ["key-2"]
    assert len(clean_moesif.requests()) == 3


def test_persistent_failures_are_a_retryable_downstream_error(analytics, clean_moesif):
    clean_moesif.fail_next(503, count=5)

    with pytest.raises(DownstreamError) as raised:
        analytics.upsert_company("sub_3", {})

    assert raised.value.retryable and "503" in str(raised.value)
    assert len(clean_moesif.requests()) == 3  # one try and two retries, then it gives up


def test_a_refused_request_is_not_retried(analytics, clean_moesif):
    clean_moesif.fail_next(400)

    with pytest.raises(DownstreamError) as raised:
        analytics.upsert_company("sub_4", {})

    assert raised.value.retryable is False


def test_a_silent_server_times_out_instead_of_hanging():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    try:
        analytics = MoesifAnalytics(lambda: "app", f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=(0.5, 0.3))
        started = time.monotonic()
        with pytest.raises(DownstreamError) as raised:
            analytics.upsert_company("sub_5", {})
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert raised.value.retryable
    assert elapsed < 3  # three attempts of 0.3 s and short backoffs, not forever
