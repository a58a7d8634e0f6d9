"""The domain tests' one deployment on fakes (testkit.world), at a fixed time so that every time in a
test is exact."""

from __future__ import annotations

import pytest

from testkit.world import START, World


@pytest.fixture
def world() -> World:
    return World.create(start=START)
