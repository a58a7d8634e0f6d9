"""The handler tests' deployment on fakes (testkit.world). It starts at the real time: the functions
under test are wired as deployed (testkit.fake_wiring), so their services read the real clock."""

from __future__ import annotations

import pytest

from testkit.world import World


@pytest.fixture
def world() -> World:
    return World.create()
