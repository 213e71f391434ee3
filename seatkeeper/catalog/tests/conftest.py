import pytest

from seatkeeper.pricing.tests.world import build_world


@pytest.fixture
def world(cast):
    return build_world(cast)
