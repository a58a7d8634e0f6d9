"""The domain tests' one deployment on fakes (testkit.world), at a fixed time so that every time in a
test is exact."""

from __future__ import annotations

import pytest

from testkit.clock import START, Clock
from testkit.fake_ports import FakePorts
from testkit.world import World


@pytest.fixture
def world() -> World:
    return World.create(start=START)


@pytest.fixture
def ports() -> FakePorts:
    """Every port as a bare fake, for the services tested on their own (registrations.service_for)."""
    return FakePorts.create()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)
