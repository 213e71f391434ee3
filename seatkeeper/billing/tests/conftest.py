from seatkeeper.subscriptions.tests.conftest import _provision_by_hand, shop  # noqa: F401
