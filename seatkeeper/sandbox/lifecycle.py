"""Eventual consistency: moves orders from pending to completed (subscription ids appear on the
line items only then) and subscriptions from pending to active, by the sandbox clock.

Called at the start of every order/subscription/licence request instead of a background task, so
moving the clock is all a test needs to do.
"""

from __future__ import annotations

from .state import Sandbox
from .store import dumps, loads


def advance(sandbox: Sandbox) -> None:
    now = sandbox.clock.timestamp()
    store = sandbox.store
    with store.tx():
        for order_id, data in store.all(
            "SELECT id, data FROM orders WHERE status = 'pending' AND ready_at <= ?", (now,)
        ):
            order = loads(data)
            order["status"] = "completed"
            for item, sid in zip(
                order["lineItems"], order["_sandbox"]["subscriptionIds"], strict=False
            ):
                item["subscriptionId"] = sid
            store.run(
                "UPDATE orders SET status = 'completed', data = ? WHERE id = ?",
                (dumps(order), order_id),
            )
        for sub_id, data in store.all(
            "SELECT id, data FROM subscriptions WHERE status = 'pending' AND ready_at <= ?", (now,)
        ):
            sub = loads(data)
            sub["status"] = "active"
            store.run(
                "UPDATE subscriptions SET status = 'active', data = ? WHERE id = ?",
                (dumps(sub), sub_id),
            )
