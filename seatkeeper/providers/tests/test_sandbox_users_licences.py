"""Tenant users and licence assignment (App+User endpoints), against the sandbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from seatkeeper.providers import errors
from seatkeeper.providers import interface as i
from seatkeeper.providers.microsoft.adapter import MicrosoftProvider
from seatkeeper.providers.tests.helpers import buy, new_customer, order_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(provider: MicrosoftProvider) -> i.Customer:
    return new_customer(provider).customer


def new_user(provider: MicrosoftProvider, customer: i.Customer, name: str = "ada") -> i.TenantUser:
    return provider.create_user(
        customer_id=customer.id,
        user=i.NewTenantUser(
            user_principal_name=f"{name}@{customer.domain}",
            display_name=name.title(),
            first_name=name.title(),
            last_name="Test",
            usage_location="US",
            password="Str0ng-Passw0rd!",
        ),
        request_key=f"user-{uuid.uuid4()}",
    )


def test_user_lifecycle_create_update_delete_restore(
    provider: MicrosoftProvider, customer: i.Customer, sandbox: Any
) -> None:
    # create
    user = new_user(provider, customer)
    assert user.user_principal_name == f"ada@{customer.domain}"
    assert user.state is i.UserState.ACTIVE
    # the call went out with an App+User token: the endpoint refuses app-only ones
    assert sandbox.admin.calls(method="POST", path=f"/v1/customers/{customer.id}/users")[0][
        "status"
    ] in (200, 201)

    assert provider.get_user(customer_id=customer.id, user_id=user.id) == user

    # update
    updated = provider.update_user(
        customer_id=customer.id,
        user_id=user.id,
        change=i.TenantUserUpdate(display_name="Ada L.", usage_location="FR"),
    )
    assert (updated.display_name, updated.usage_location) == ("Ada L.", "FR")

    # delete: gone from the active list, present in the deleted one
    provider.delete_user(customer_id=customer.id, user_id=user.id)
    active = [u.id for u in provider.list_users(customer_id=customer.id)]
    deleted = list(provider.list_users(customer_id=customer.id, deleted=True))
    assert user.id not in active
    assert [u.id for u in deleted] == [user.id]
    assert deleted[0].state is i.UserState.DELETED

    # restore
    restored = provider.restore_user(customer_id=customer.id, user_id=user.id)
    assert restored.state is i.UserState.ACTIVE
    assert user.id in [u.id for u in provider.list_users(customer_id=customer.id)]


def test_a_weak_password_is_refused(provider: MicrosoftProvider, customer: i.Customer) -> None:
    with pytest.raises(errors.ValidationFailed):
        provider.create_user(
            customer_id=customer.id,
            user=i.NewTenantUser(
                user_principal_name=f"bob@{customer.domain}",
                display_name="Bob",
                first_name="Bob",
                last_name="Weak",
                usage_location="US",
                password="short",
            ),
            request_key="weak",
        )


def test_licences_are_assigned_counted_and_removed(
    provider: MicrosoftProvider, customer: i.Customer
) -> None:
    # given: 2 seats bought and two users
    buy(provider, customer.id, order_line(provider, quantity=2))
    (pool,) = provider.list_subscribed_skus(customer_id=customer.id)
    assert (pool.total_units, pool.consumed_units) == (2, 0)
    users = [new_user(provider, customer, name) for name in ("ann", "ben", "cal")]

    # when
    for user in users[:2]:
        provider.change_user_licences(
            customer_id=customer.id, user_id=user.id, assign=[pool.sku_id]
        )

    # then
    (licence,) = provider.list_user_licences(customer_id=customer.id, user_id=users[0].id)
    assert licence.sku_id == pool.sku_id
    (pool,) = provider.list_subscribed_skus(customer_id=customer.id)
    assert (pool.consumed_units, pool.available_units) == (2, 0)

    # a third seat does not exist
    with pytest.raises(errors.QuotaExceeded) as raised:
        provider.change_user_licences(
            customer_id=customer.id, user_id=users[2].id, assign=[pool.sku_id]
        )
    assert raised.value.code == "60012"

    # removing frees the seat
    provider.change_user_licences(
        customer_id=customer.id, user_id=users[0].id, remove=[pool.sku_id]
    )
    assert provider.list_user_licences(customer_id=customer.id, user_id=users[0].id) == []
    (pool,) = provider.list_subscribed_skus(customer_id=customer.id)
    assert pool.consumed_units == 1


def test_without_user_consent_user_calls_are_forbidden(
    provider: MicrosoftProvider, customer: i.Customer
) -> None:
    # given: a connector that only has app-only credentials
    provider.client.tokens._refresh_token = None  # type: ignore[attr-defined]

    with pytest.raises(errors.Forbidden) as raised:
        list(provider.list_users(customer_id=customer.id))
    assert raised.value.code == "900329"


def test_users_can_be_read_a_page_at_a_time(
    provider: MicrosoftProvider, customer: i.Customer
) -> None:
    created = {new_user(provider, customer, name).id for name in ("dan", "eve", "fay")}

    first = provider.users_page(customer_id=customer.id, page_size=2)
    assert len(first.items) == 2 and first.next_cursor
    rest: list[i.TenantUser] = []
    cursor: str | None = first.next_cursor
    while cursor:
        page = provider.users_page(customer_id=customer.id, cursor=cursor, page_size=2)
        rest.extend(page.items)
        cursor = page.next_cursor

    ids = [u.id for u in (*first.items, *rest)]
    assert len(ids) == len(set(ids))
    assert created <= set(ids)
    assert set(ids) == {u.id for u in provider.list_users(customer_id=customer.id)}
