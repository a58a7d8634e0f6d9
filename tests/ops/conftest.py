"""Fixtures of the ops tests. Stripe is the session's localstripe behind the bridge (tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh catalog names per test: the bridge is shared by the whole session."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "product": f"Setup test {suffix}",
        "event": f"setup_test_{suffix}",
        "lookup": f"setup_test_{suffix}",
        "webhook": f"http://127.0.0.1:9/stripe/webhook/{suffix}",
    }
