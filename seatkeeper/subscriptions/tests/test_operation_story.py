"""The story of a subscription: every status change through the transition map and recorded,
vendor dates recorded when they move, every attempt at the vendor kept, rejected changes rolled
back or withdrawn, and renewal waits that end."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from seatkeeper.accounts import services as account_services
from seatkeeper.activity.models import ActivityRecord
from seatkeeper.billing import charges
from seatkeeper.billing.models import ChargeLine
from seatkeeper.conftest import sign_in
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError
from seatkeeper.providers.errors import ValidationFailed
from seatkeeper.subscriptions import lifecycle, services, tasks
from seatkeeper.subscriptions.models import (
    WORKER,
    AttemptOutcome,
    OperationKind,
    OperationState,
    RenewalOption,
    Status,
    Subscription,
    SyncStatus,
)
from seatkeeper.subscriptions.tests.helpers import START, order
from seatkeeper.subscriptions.transitions import ADOPTED, transition

PACKAGE = Path(services.__file__).parent


@pytest.fixture
def frozen():
    with clock.frozen(START) as frozen:
        yield frozen


def _records(subscription: Subscription, operation: str) -> list[ActivityRecord]:
    return list(
        ActivityRecord.objects.filter(
            object_type="subscription", object_id=str(subscription.pk), operation=operation
        ).order_by("pk")
    )


def _term_end(subscription: Subscription) -> dt.datetime:
    return dt.datetime.combine(
        subscription.commitment_end_date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )


# --- 1. one transition function -----------------------------------------------------------------


def test_no_status_is_set_outside_the_transition_function():
    # Creating a subscription as pending is its first status, not a change.
    # `x.status = …` and `queryset.update(status=…)`; a vendor request's status is not ours.
    assignment = re.compile(r"\.status\s*=[^=]|\.update\([^)]*\bstatus\s*=")
    offenders = [
        f"{path.name}:{number}"
        for path in PACKAGE.glob("*.py")
        if path.name != "transitions.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if assignment.search(line) and "sync_status" not in line
    ]
    assert offenders == []


def test_no_other_app_sets_a_subscription_status_itself():
    # Discovery adopts the vendor's status through `transition(adopted=True)`; people and
    # billing only read it. (Their own rows' statuses, an import run's, are theirs.)
    assignment = re.compile(r"subscription\w*\.status\s*=[^=]|\.update\([^)]*\bstatus\s*=")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for app in ("discovery", "people", "billing")
        for path in (PACKAGE.parent / app).rglob("*.py")
        if "tests" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if assignment.search(line) and "sync_status" not in line
    ]
    assert offenders == []


def test_the_vendor_setting_a_subscription_up_is_recorded(cast, shop, frozen):
    subscription = order(cast, shop)
    assert subscription.status == Status.ACTIVE
    (record,) = _records(subscription, "subscription.status")
    changes = record.details["changes"]
    assert changes["status"] == ["pending", "active"]
    assert changes["commitment_end_date"] == [None, "2027-11-21"]
    assert record.details["cause"] == "provisioned"


def test_a_move_outside_the_map_is_refused_and_not_recorded(cast, shop, frozen):
    subscription = order(cast, shop)
    Subscription.objects.filter(pk=subscription.pk).update(status=Status.EXPIRED)
    subscription.refresh_from_db()
    before = ActivityRecord.objects.count()
    with pytest.raises(ServiceError):
        transition(subscription, Status.ACTIVE, actor=None, cause="test")
    assert subscription.status == Status.EXPIRED
    assert ActivityRecord.objects.count() == before


def test_a_status_adopted_from_the_vendor_is_taken_outside_the_map(cast, shop, frozen):
    # given an expired subscription the vendor shows active again
    subscription = order(cast, shop)
    Subscription.objects.filter(pk=subscription.pk).update(status=Status.EXPIRED)
    subscription.refresh_from_db()
    before = ActivityRecord.objects.count()
    # when it is adopted (the discovery operation carrying it records it)
    change = transition(
        subscription, Status.ACTIVE, actor=None, cause=ADOPTED, record=False, adopted=True
    )
    # then the status moved and the change is handed back for that record
    assert subscription.status == Status.ACTIVE
    assert change == {"status": [Status.EXPIRED, Status.ACTIVE]}
    assert ActivityRecord.objects.count() == before


def test_an_expiry_records_the_status_it_left(cast, shop, frozen):
    subscription = order(cast, shop, term="P1M")
    services.subscription_set_renewal(
        actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.NONE
    )
    frozen.set(_term_end(subscription))
    assert lifecycle.run(clock.now())["expired"] == 1
    (record,) = _records(subscription, "subscription.expire")
    assert record.details["changes"]["status"] == ["active", "expired"]


def test_a_vendor_date_refresh_is_recorded(cast, shop, frozen, monkeypatch):
    subscription = order(cast, shop)
    Subscription.objects.filter(pk=subscription.pk).update(commitment_end_date=None)
    monkeypatch.setattr(tasks, "get_provider", lambda account: shop.provider)
    assert tasks.refresh_vendor_facts.call() == 1
    refresh = subscription.operations.get(kind=OperationKind.REFRESH)
    assert refresh.state == OperationState.DONE
    assert refresh.payload == {"commitment_end_date": "2027-11-21"}
    (record,) = _records(subscription, "subscription.refresh")
    assert record.details["changes"] == {"commitment_end_date": [None, "2027-11-21"]}


def test_an_operation_whose_answer_moves_the_dates_records_them(cast, shop, frozen):
    subscription = order(cast, shop)
    vendor_id = subscription.vendor_subscription_id
    from dataclasses import replace

    shop.provider.subscriptions[vendor_id] = replace(
        shop.provider.subscriptions[vendor_id], commitment_end=dt.date(2027, 12, 21)
    )
    services.subscription_edit_details(
        actor=cast.reseller_admin, subscription=subscription, friendly_name="Renamed"
    )
    assert shop.provision(subscription) == "done"
    subscription.refresh_from_db()
    assert subscription.commitment_end_date == dt.date(2027, 12, 21)
    kinds = list(subscription.operations.order_by("sequence").values_list("kind", flat=True))
    assert kinds == [OperationKind.CREATE, OperationKind.RENAME, OperationKind.REFRESH]
    (record,) = _records(subscription, "subscription.refresh")
    assert record.details["changes"]["commitment_end_date"] == ["2027-11-21", "2027-12-21"]


# --- 2. retry keeps history ---------------------------------------------------------------------


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _failed_then_retried(cast, shop, frozen) -> Subscription:
    subscription = order(cast, shop)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=7
    )
    shop.provider.failures = [
        ValidationFailed("Quantity outside limits", code="2002", http_status=400)
    ]
    assert shop.provision(subscription) == "failed"
    frozen.advance(minutes=30)
    failed = subscription.operations.get(state=OperationState.FAILED)
    services.operation_retry(actor=cast.reseller_admin, operation=failed)
    frozen.advance(minutes=1)
    assert shop.provision(subscription) == "done"
    return subscription


def test_a_retry_keeps_every_attempt_and_the_vendors_error(cast, shop, frozen):
    subscription = _failed_then_retried(cast, shop, frozen)
    change = subscription.operations.get(kind=OperationKind.QUANTITY)
    assert change.state == OperationState.DONE
    rows = list(change.attempt_log.values_list("outcome", "by_name", "error_code"))
    assert rows == [
        (AttemptOutcome.FAILED, WORKER, "2002"),
        (AttemptOutcome.RETRY_ASKED, "reselleradmin", ""),
        (AttemptOutcome.DONE, WORKER, ""),
    ]
    assert change.attempt_log.get(outcome=AttemptOutcome.FAILED).error_message == (
        "Quantity outside limits"
    )


def test_the_history_page_and_the_activity_log_tell_the_whole_story(cast, shop, frozen, client):
    subscription = _failed_then_retried(cast, shop, frozen)
    page = sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/")
    history = _text(page.content.decode().split('id="history"')[1].split("</table>")[0])
    assert "2 attempts" in history
    assert "Failed: 2002 Quantity outside limits" in history
    assert "reselleradmin · Sent again" in history
    operations = [
        record.operation
        for record in ActivityRecord.objects.filter(
            object_type="subscription", object_id=str(subscription.pk)
        ).order_by("pk")
    ]
    assert operations[-4:] == [
        "subscription.quantity",
        "subscription.vendor_failed",
        "subscription.retry",
        "subscription.vendor_done",
    ]
    log = _text(sign_in(client, "reselleradmin").get("/activity/").content.decode())
    assert "The vendor refused “Change quantity” for Office seats: 2002" in log
    assert "The vendor carried out “Change quantity” for Office seats after 2 attempts." in log


def test_the_api_history_lists_every_attempt(cast, shop, frozen):
    subscription = _failed_then_retried(cast, shop, frozen)
    api = APIClient()
    _token, plain = account_services.api_token_create(actor=cast.reseller_admin, name="t")
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    body = api.get(f"/api/v1/subscriptions/{subscription.pk}/history/").json()
    change = next(row for row in body["results"] if row["kind"] == "quantity")
    assert [row["outcome"] for row in change["attempt_history"]] == [
        "failed",
        "retry_asked",
        "done",
    ]
    assert change["attempt_history"][0]["error_code"] == "2002"
    assert change["attempt_history"][1]["by"] == "reselleradmin"


# --- 3. a rejected manual change rolls back -----------------------------------------------------


def _manual(cast, shop) -> Subscription:
    line = services.OrderLine(
        offer=shop.world.uc_business, quantity=4, term="P1M", billing_cycle="monthly"
    )
    subscription = services.order_place(
        actor=cast.reseller_admin, customer=cast.customer, lines=[line]
    ).subscriptions.get()
    services.fulfilment_complete(
        actor=cast.operator, operation=subscription.operations.get(), vendor_reference="UC-1"
    )
    subscription.refresh_from_db()
    return subscription


def _reject_no_renewal(cast, shop) -> tuple[Subscription, object]:
    subscription = _manual(cast, shop)
    services.subscription_set_renewal(
        actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.NONE
    )
    change = subscription.operations.get(kind=OperationKind.AUTO_RENEW)
    services.fulfilment_reject(actor=cast.operator, operation=change, reason="Contract locked")
    subscription.refresh_from_db()
    change.refresh_from_db()
    return subscription, change


def test_a_rejected_renewal_change_rolls_back_and_says_so(cast, shop, frozen, client):
    subscription, change = _reject_no_renewal(cast, shop)
    assert (subscription.auto_renew, subscription.renewal_option) == (
        True,
        RenewalOption.EVERY_TIME,
    )
    assert change.state == OperationState.REJECTED and change.settled_at is None
    (record,) = _records(subscription, "subscription.rejected")
    assert record.details["changes"]["renewal_option"] == ["none", "every_time"]
    account_services.user_update(actor=cast.cloud_admin, user=cast.reseller_admin, language="fr")
    page = _text(
        sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/").content.decode()
    )
    assert "l'abonnement a été ramené à ce qu'a l'éditeur" in page
    assert "Toujours renouveler" in page  # the renewal option shown is the vendor's again
    log = _text(client.get("/activity/").content.decode())
    assert "l'abonnement est revenu à ce qu'a l'éditeur" in log


def test_a_rejected_change_can_be_sent_again(cast, shop, frozen):
    subscription, change = _reject_no_renewal(cast, shop)
    services.operation_retry(actor=cast.reseller_admin, operation=change)
    subscription.refresh_from_db()
    change.refresh_from_db()
    assert subscription.renewal_option == RenewalOption.NONE
    assert change.settled_at is not None
    again = subscription.operations.order_by("-sequence").first()
    assert (again.kind, again.state) == (
        OperationKind.AUTO_RENEW,
        OperationState.AWAITING_FULFILMENT,
    )


def test_a_rejected_change_can_be_dropped(cast, shop, frozen):
    subscription, change = _reject_no_renewal(cast, shop)
    services.operation_withdraw(actor=cast.reseller_admin, operation=change)
    subscription.refresh_from_db()
    change.refresh_from_db()
    assert change.state == OperationState.WITHDRAWN
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED
    assert subscription.renewal_option == RenewalOption.EVERY_TIME


# --- 4. a refused operation can be withdrawn ----------------------------------------------------


def _refused_increase(cast, shop) -> tuple[Subscription, object]:
    subscription = order(cast, shop)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=7
    )
    services.subscription_edit_details(
        actor=cast.reseller_admin, subscription=subscription, friendly_name="Renamed"
    )
    shop.provider.failures = [
        ValidationFailed("Quantity outside limits", code="2002", http_status=400)
    ]
    assert shop.provision(subscription) == "failed"
    assert shop.provision(subscription) == "held"
    return subscription, subscription.operations.get(state=OperationState.FAILED)


def test_withdrawing_a_refused_increase_restores_the_vendors_state_and_releases_the_rest(
    cast, shop, frozen
):
    subscription, refused = _refused_increase(cast, shop)
    assert subscription.lots.aggregate(total=Sum("quantity"))["total"] == 7
    services.operation_withdraw(actor=cast.reseller_admin, operation=refused)
    subscription.refresh_from_db()
    assert subscription.quantity == 5
    assert subscription.lots.aggregate(total=Sum("quantity"))["total"] == 5
    (record,) = _records(subscription, "subscription.withdrawn")
    assert record.details["changes"] == {"quantity": [7, 5]}
    assert shop.provision(subscription) == "done"  # the rename it held goes on
    subscription.refresh_from_db()
    vendor = shop.provider.subscriptions[subscription.vendor_subscription_id]
    assert (vendor.quantity, vendor.friendly_name) == (5, "Renamed")
    assert subscription.sync_status == SyncStatus.SYNCHRONIZED


def test_a_withdrawn_increase_is_never_billed(cast, shop, frozen):
    subscription, refused = _refused_increase(cast, shop)
    services.operation_withdraw(actor=cast.reseller_admin, operation=refused)
    with clock.frozen(dt.datetime(2026, 12, 22, tzinfo=dt.UTC)):
        charges.billing_run(account=cast.reseller, day=dt.date(2026, 11, 15), actor=None)
    lines = list(ChargeLine.objects.filter(subscription=subscription))
    assert [(line.kind, line.quantity) for line in lines] == [("cycle_fee", 5)]


def test_a_withdrawn_decrease_gives_the_seats_back(cast, shop, frozen):
    subscription = order(cast, shop)
    frozen.advance(hours=1)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=3
    )
    shop.provider.failures = [ValidationFailed("No", code="2002", http_status=400)]
    assert shop.provision(subscription) == "failed"
    refused = subscription.operations.get(state=OperationState.FAILED)
    services.operation_withdraw(actor=cast.reseller_admin, operation=refused)
    subscription.refresh_from_db()
    assert subscription.quantity == 5
    assert list(subscription.lots.values_list("quantity", flat=True)) == [5]


def test_withdraw_from_the_page_the_queue_and_the_api(cast, shop, frozen, client):
    subscription, refused = _refused_increase(cast, shop)
    page = sign_in(client, "operator").get(f"/subscriptions/{subscription.pk}/").content.decode()
    assert f'action="/operations/{refused.pk}/withdraw/"' in page
    queue = client.get("/fulfilment/").content.decode()
    assert f'action="/operations/{refused.pk}/withdraw/"' in queue
    answer = client.post(f"/operations/{refused.pk}/withdraw/", {"back": "queue"})
    assert answer.status_code == 302 and answer.url == "/fulfilment/"
    refused.refresh_from_db()
    assert refused.state == OperationState.WITHDRAWN
    api = APIClient()
    _token, plain = account_services.api_token_create(actor=cast.reseller_admin, name="t")
    api.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    again = api.post(f"/api/v1/operations/{refused.pk}/withdraw/")
    assert again.status_code == 409  # already withdrawn
    done = subscription.operations.get(kind=OperationKind.CREATE)
    assert api.post(f"/api/v1/operations/{done.pk}/withdraw/").status_code == 409


# --- 5. a renewal wait that ends ----------------------------------------------------------------


def _renewed_once_but_expired_at_the_vendor(cast, shop, frozen) -> Subscription:
    """'Renew once' here; at the vendor the term ends and no new term ever appears."""
    subscription = order(cast, shop, term="P1M")
    services.subscription_set_renewal(
        actor=cast.reseller_admin, subscription=subscription, option=RenewalOption.ONCE
    )
    shop.provision(subscription)
    frozen.set(_term_end(subscription) + dt.timedelta(hours=1))
    assert lifecycle.run(clock.now())["renewed"] == 1
    return subscription


def test_a_renewal_wait_fails_after_the_bound_and_emails_the_people_concerned(
    cast, shop, frozen, settings, mailoutbox, django_capture_on_commit_callbacks, client
):
    settings.SEATKEEPER_RENEWAL_WAIT_HOURS = 24
    subscription = _renewed_once_but_expired_at_the_vendor(cast, shop, frozen)
    term_end = _term_end(subscription)  # from the dates before the local renewal
    assert shop.provision(subscription) == "waiting"
    waiting = subscription.operations.get(kind=OperationKind.AUTO_RENEW, state="pending")
    assert waiting.next_attempt_at == clock.now() + dt.timedelta(minutes=30)
    frozen.set(term_end + dt.timedelta(hours=23, minutes=50))
    assert shop.provision(subscription) == "waiting"
    waiting.refresh_from_db()
    assert waiting.next_attempt_at <= term_end + dt.timedelta(hours=24)  # never past the bound
    frozen.set(term_end + dt.timedelta(hours=24))
    with django_capture_on_commit_callbacks(execute=True):
        assert shop.provision(subscription) == "failed"
    waiting.refresh_from_db()
    assert (waiting.state, waiting.error_code) == (OperationState.FAILED, "renewal_not_seen")
    subscription.refresh_from_db()
    assert subscription.sync_status == SyncStatus.FAILED
    recipients = {address for mail in mailoutbox for address in mail.to}
    assert cast.reseller_admin.email in recipients  # staff who can retry
    assert cast.customer_admin.email in recipients  # whose subscription did not renew
    assert "no new term has appeared" in mailoutbox[0].body
    account_services.user_update(actor=cast.cloud_admin, user=cast.reseller_admin, language="fr")
    page = _text(
        sign_in(client, "reselleradmin").get(f"/subscriptions/{subscription.pk}/").content.decode()
    )
    assert "l'éditeur n'a montré aucune nouvelle période" in page
    # A person's retry waits the whole bound again, not a single poll.
    services.operation_retry(actor=cast.reseller_admin, operation=waiting)
    assert shop.provision(subscription) == "waiting"


def test_a_later_change_of_the_same_field_stands_when_the_refused_one_is_withdrawn(
    cast, shop, frozen
):
    subscription = order(cast, shop)
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=7
    )
    shop.provider.failures = [ValidationFailed("No", code="2002", http_status=400)]
    assert shop.provision(subscription) == "failed"
    subscription.refresh_from_db()
    services.subscription_change_quantity(
        actor=cast.reseller_admin, subscription=subscription, quantity=8
    )
    refused = subscription.operations.get(state=OperationState.FAILED)
    services.operation_withdraw(actor=cast.reseller_admin, operation=refused)
    subscription.refresh_from_db()
    assert subscription.quantity == 8  # the later change is what people want now
    later = subscription.operations.get(kind=OperationKind.QUANTITY, state="pending")
    assert later.payload["_before"]["quantity"] == 5  # what the vendor has, if it fails too
    assert shop.provision(subscription) == "done"
    assert shop.provider.subscriptions[subscription.vendor_subscription_id].quantity == 8
