"""The Analytics port (tollgate.domain.ports.analytics): FakeAnalytics and MoesifAnalytics on the local
Moesif collector answer alike.

What Moesif's billing meters attribute usage by: a company (the Stripe subscription) and a user (the
API key id) that each upsert creates or updates by its id ("If you attempt to update a user and the
user_id doesn't exist, a new user will be created (i.e. upsert)",
https://www.moesif.com/docs/getting-started/users/): the latest upsert's company and metadata are what
Moesif holds. The adapter's request shapes, retries and timeout are tests/lambda_src/integration/
adapters/test_moesif_analytics.py's."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testkit.fake_ports import FakeAnalytics
from tollgate.domain.ports.analytics import Analytics


@dataclass
class Profiles:
    """The port, and what its counterpart holds: a company's metadata, a user's (company, metadata)."""

    port: Analytics
    company: Callable[[str], dict[str, str] | None]
    user: Callable[[str], tuple[str, dict[str, str]] | None]


def latest(posted: list[dict[str, Any]], id_field: str, wanted: str) -> dict[str, Any] | None:
    """What Moesif holds of an id: the last upsert that named it (the collector keeps every one)."""
    return next((item for item in reversed(posted) if item.get(id_field) == wanted), None)


@pytest.fixture(scope="module", params=["fake", "moesif"])
def profiles(request) -> Iterator[Profiles]:
    if request.param == "fake":
        fake = FakeAnalytics()
        yield Profiles(
            fake,
            fake.companies.get,
            lambda user_id: (
                (fake.users[user_id]["company_id"], fake.users[user_id]["metadata"]) if user_id in fake.users else None
            ),
        )
        return
    from tollgate.adapters.moesif_analytics import MoesifAnalytics

    collector = request.getfixturevalue("moesif_collector")

    def company(company_id: str) -> dict[str, str] | None:
        held = latest(collector.companies(), "company_id", company_id)
        return held["metadata"] if held else None

    def user(user_id: str) -> tuple[str, dict[str, str]] | None:
        held = latest(collector.users(), "user_id", user_id)
        return (held["company_id"], held["metadata"]) if held else None

    yield Profiles(MoesifAnalytics(lambda: "moesif-contract-app", collector.base_url), company, user)


def ids() -> tuple[str, str]:
    """A subscription id and an API key id of their own."""
    return f"sub_{uuid.uuid4().hex[:14]}", f"key{uuid.uuid4().hex[:8]}"


def test_a_company_is_created_by_its_first_upsert_and_updated_by_the_next(profiles):
    company_id, _ = ids()
    assert profiles.company(company_id) is None

    profiles.port.upsert_company(company_id, {"email": "ann@example.com", "plan": "free"})
    assert profiles.company(company_id) == {"email": "ann@example.com", "plan": "free"}
    profiles.port.upsert_company(company_id, {"email": "ann@example.com", "plan": "pro"})

    assert profiles.company(company_id) == {"email": "ann@example.com", "plan": "pro"}


def test_a_user_belongs_to_the_company_its_latest_upsert_names(profiles):
    (first_company, key_id), (second_company, other_key) = ids(), ids()

    profiles.port.upsert_user(key_id, first_company, {"email": "ann@example.com", "first_name": "Ann"})
    profiles.port.upsert_user(other_key, first_company, {"email": "bo@example.com", "first_name": "Bo"})
    assert profiles.user(key_id) == (first_company, {"email": "ann@example.com", "first_name": "Ann"})
    profiles.port.upsert_user(key_id, second_company, {"email": "ann@example.com", "first_name": "Ann"})

    assert profiles.user(key_id) == (second_company, {"email": "ann@example.com", "first_name": "Ann"})
    assert profiles.user(other_key) == (first_company, {"email": "bo@example.com", "first_name": "Bo"})
    assert profiles.user(ids()[1]) is None
