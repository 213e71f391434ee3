"""A provider double for domain tests: keeps orders and subscriptions in memory, can be told to
fail, and counts calls. End-to-end tests use the real sandbox over HTTP instead."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

from seatkeeper.providers import errors
from seatkeeper.providers import interface as vendor


class FakeSubscriptionsProvider:
    kind = "microsoft"

    def __init__(self, *, complete_after_polls: int = 0) -> None:
        self.orders: dict[str, vendor.Order] = {}
        self.by_request_key: dict[str, str] = {}
        self.subscriptions: dict[str, vendor.Subscription] = {}
        self.calls: list[str] = []
        self.failures: list[errors.ProviderError] = []  # raised by the next calls, in order
        self.complete_after_polls = complete_after_polls
        # Run once inside the next update, between its read and its write (a stalled worker).
        self.between_read_and_write = None
        self._polls: dict[str, int] = {}
        self._ids = itertools.count(1)

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.failures:
            raise self.failures.pop(0)

    def create_order(self, *, customer_id, lines, request_key):
        self._maybe_fail("create_order")
        if request_key in self.by_request_key:  # MS-RequestId: the same request, the same order
            return [self.orders[self.by_request_key[request_key]]]
        order_id = f"order-{next(self._ids)}"
        items = tuple(
            vendor.OrderLineItem(
                line_number=n,
                offer_id=line.catalog_item_id,
                quantity=line.quantity,
                term_duration=line.term_duration,
                friendly_name=line.friendly_name,
            )
            for n, line in enumerate(lines)
        )
        self.orders[order_id] = vendor.Order(
            id=order_id,
            customer_id=customer_id,
            status=vendor.OrderStatus.PENDING,
            billing_cycle=lines[0].billing_cycle,
            currency="GBP",
            created_at=None,
            lines=items,
        )
        self.by_request_key[request_key] = order_id
        self._polls[order_id] = 0
        return [self.orders[order_id]]

    def get_order(self, *, customer_id, order_id):
        self._maybe_fail("get_order")
        order = self.orders[order_id]
        self._polls[order_id] += 1
        if (
            order.status == vendor.OrderStatus.PENDING
            and self._polls[order_id] > self.complete_after_polls
        ):
            lines = []
            for line in order.lines:
                sub_id = f"sub-{next(self._ids)}"
                self.subscriptions[sub_id] = vendor.Subscription(
                    id=sub_id,
                    customer_id=customer_id,
                    offer_id=line.offer_id,
                    offer_name=line.offer_id,
                    friendly_name=line.friendly_name,
                    quantity=line.quantity,
                    status=vendor.SubscriptionStatus.ACTIVE,
                    billing_cycle=order.billing_cycle,
                    term_duration=line.term_duration,
                    auto_renew=True,
                    order_id=order_id,
                    commitment_end=dt.date(2027, 11, 21),
                    cancellation_allowed_until=dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
                )
                lines.append(replace(line, subscription_id=sub_id))
            order = replace(order, status=vendor.OrderStatus.COMPLETED, lines=tuple(lines))
            self.orders[order_id] = order
        return order

    def get_subscription(self, *, customer_id, subscription_id):
        self._maybe_fail("get_subscription")
        return self.subscriptions[subscription_id]

    def update_subscription(
        self, *, customer_id, subscription_id, change, stale_retries=1, before_write=None
    ):
        self._maybe_fail("update_subscription")
        current = self.subscriptions[subscription_id]  # the fresh GET (its etag)
        if self.between_read_and_write is not None:
            hook, self.between_read_and_write = self.between_read_and_write, None
            hook()
        if before_write is not None:
            before_write()
        if self.subscriptions[subscription_id] is not current:  # 2055: the etag went stale
            if stale_retries > 0:
                return self.update_subscription(
                    customer_id=customer_id,
                    subscription_id=subscription_id,
                    change=change,
                    stale_retries=stale_retries - 1,
                    before_write=before_write,
                )
            raise errors.StaleVersion("stale etag", code="2055", http_status=400)
        self.calls.append("patch")
        values = {
            key: value
            for key, value in (
                ("quantity", change.quantity),
                ("friendly_name", change.friendly_name),
                ("auto_renew", change.auto_renew),
                ("status", change.status),
            )
            if value is not None
        }
        if change.next_term is not None:
            values["next_term"] = change.next_term
        elif change.clear_next_term or (
            change.quantity is not None and change.quantity != current.quantity
        ):
            values["next_term"] = None  # as Partner Center: a mid-term change deletes them
        if change.auto_renew is False:
            values["next_term"] = None
        self.subscriptions[subscription_id] = replace(current, **values)
        return self.subscriptions[subscription_id]

    def suspend_subscription(self, *, customer_id, subscription_id):
        return self._status("suspend", subscription_id, vendor.SubscriptionStatus.SUSPENDED)

    def reactivate_subscription(self, *, customer_id, subscription_id):
        return self._status("reactivate", subscription_id, vendor.SubscriptionStatus.ACTIVE)

    def cancel_subscription(self, *, customer_id, subscription_id):
        return self._status("cancel", subscription_id, vendor.SubscriptionStatus.DELETED)

    def _status(self, name, subscription_id, status):
        self._maybe_fail(name)
        self.subscriptions[subscription_id] = replace(
            self.subscriptions[subscription_id], status=status
        )
        return self.subscriptions[subscription_id]
