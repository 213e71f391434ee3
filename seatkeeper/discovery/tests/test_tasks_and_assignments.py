"""Runs fanned out over the task queue, and the assignment of the customers they bring in."""

from __future__ import annotations

import pytest

from seatkeeper.activity.models import ActivityRecord
from seatkeeper.core.errors import PermissionRefused, ServiceError
from seatkeeper.discovery import assignments, services
from seatkeeper.discovery.models import Assignment, ResellerLink, RunCustomer, RunState
from seatkeeper.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(connected, monkeypatch):
    """Tasks run by the queue of the tests (inline), each opening its own connector."""
    monkeypatch.setattr(services, "get_provider", lambda account: connected.provider(account))
    return connected


def test_a_run_fans_out_every_customer_over_the_queue(
    queued, django_capture_on_commit_callbacks, monkeypatch
):
    enqueued = []
    original = services.import_customer

    def spy(run_id, vendor_customer_id, **kwargs):
        enqueued.append(vendor_customer_id)
        return original(run_id, vendor_customer_id, **kwargs)

    monkeypatch.setattr(services, "import_customer", spy)
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_start(actor=queued.cast.operator, account=queued.account)

    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
    customers = queued.vendor_customers()
    assert sorted(enqueued) == sorted(customer.id for customer in customers)
    assert Subscription.objects.count() == queued.vendor_subscription_count()
    assert services.run_figures(run).calls > 0


def test_the_queue_hands_every_customer_out_before_the_partners_invoices(
    queued, django_capture_on_commit_callbacks, monkeypatch
):
    # given: a spy on what the tasks do, in order
    done: list[str] = []
    import_customer, partner_step = services.import_customer, services.partner_step

    def customer_spy(run_id, vendor_customer_id, **kwargs):
        done.append("customer")
        return import_customer(run_id, vendor_customer_id, **kwargs)

    def partner_spy(run_id, **kwargs):
        done.append("partner")
        return partner_step(run_id, **kwargs)

    monkeypatch.setattr(services, "import_customer", customer_spy)
    monkeypatch.setattr(services, "partner_step", partner_spy)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        run = services.run_start(actor=queued.cast.operator, account=queued.account)

    # then: the listing read no invoice; the partner step came last, once, and the run is whole
    run.refresh_from_db()
    assert done == ["customer"] * len(queued.vendor_customers()) + ["partner"]
    assert run.state == RunState.COMPLETED and run.partner_done
    assert services.run_figures(run).customers_done == len(queued.vendor_customers())


def test_resume_through_the_queue_takes_only_the_customers_not_done(
    queued, django_capture_on_commit_callbacks
):
    run = services.run_start(actor=None, account=queued.account, enqueue=False)
    ids = services.list_customers(run.pk)
    services.import_customer(run.pk, ids[0])
    run = services.run_stop(actor=queued.cast.operator, run=run)
    first_done = RunCustomer.objects.get(run=run, vendor_customer_id=ids[0]).finished_at

    with django_capture_on_commit_callbacks(execute=True):
        services.run_resume(actor=queued.cast.operator, run=run)

    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
    assert RunCustomer.objects.get(run=run, vendor_customer_id=ids[0]).finished_at == first_done
    assert services.run_figures(run).customers_done == len(ids)


def _discovered(connected, count: int = 2) -> list[Assignment]:
    connected.discover()
    return list(assignments.unassigned(connected.cast.partner)[:count])


def test_staff_assign_a_discovered_customer_to_a_reseller(connected):
    first, _ = _discovered(connected)
    reseller = connected.cast.reseller

    assignments.customer_assign(actor=connected.cast.operator, assignment=first, reseller=reseller)

    customer = first.customer
    customer.refresh_from_db()
    assert customer.parent_id == reseller.pk
    assert customer.path == f"{reseller.path}{customer.pk}/"
    assert set(customer.subscriptions.values_list("reseller_id", flat=True)) == {reseller.pk}
    assert first not in assignments.unassigned(connected.cast.partner)
    assert ActivityRecord.objects.filter(operation="customer.assigned").count() == 1
    # A second discovery leaves the assignment as it is.
    connected.discover()
    customer.refresh_from_db()
    assert customer.parent_id == reseller.pk


def test_bulk_assignment_is_all_or_nothing(connected):
    first, second = _discovered(connected)
    reseller = connected.cast.reseller_two
    assignments.customer_assign(actor=connected.cast.operator, assignment=first, reseller=None)

    with pytest.raises(ServiceError):
        assignments.customers_assign_bulk(
            actor=connected.cast.operator,
            partner=connected.cast.partner,
            assignment_ids=[first.pk, second.pk],
            reseller=reseller,
        )
    second.customer.refresh_from_db()
    assert second.customer.parent_id == connected.cast.partner.pk

    waiting = [a.pk for a in assignments.unassigned(connected.cast.partner)]
    assigned = assignments.customers_assign_bulk(
        actor=connected.cast.cloud_admin,
        partner=connected.cast.partner,
        assignment_ids=waiting,
        reseller=reseller,
    )
    assert assigned == len(waiting)
    assert not assignments.unassigned(connected.cast.partner).exists()


def test_only_the_partners_staff_assign_and_only_to_its_resellers(connected):
    first, _ = _discovered(connected)
    for actor in (connected.cast.reseller_admin, connected.cast.outsider):
        with pytest.raises(PermissionRefused):
            assignments.customer_assign(
                actor=actor, assignment=first, reseller=connected.cast.reseller
            )
    with pytest.raises(ServiceError):
        assignments.customer_assign(
            actor=connected.cast.operator,
            assignment=first,
            reseller=connected.cast.customer,  # not a reseller
        )


def test_the_indirect_reseller_named_by_the_vendor_proposes_the_assignment(connected):
    # Partner Center names the indirect reseller of a customer (associatedPartnerId); once staff
    # placed one of its customers, the next customer it names is proposed for the same reseller.
    run = services.run_start(actor=None, account=connected.account, enqueue=False)
    with connected.provider() as provider:
        ids = services.list_customers(run.pk, provider=provider)
        RunCustomer.objects.filter(run=run, vendor_customer_id__in=ids[:2]).update(
            vendor_reseller_id="4847383"
        )
        services.import_customer(run.pk, ids[0], provider=provider)
        first = Assignment.objects.get(customer__tenants__vendor_customer_id=ids[0])
        assert first.vendor_reseller_id == "4847383" and first.proposed_reseller is None
        assignments.customer_assign(
            actor=connected.cast.operator, assignment=first, reseller=connected.cast.reseller
        )
        assert ResellerLink.objects.get(vendor_reseller_id="4847383").reseller == (
            connected.cast.reseller
        )

        services.import_customer(run.pk, ids[1], provider=provider)

    second = Assignment.objects.get(customer__tenants__vendor_customer_id=ids[1])
    assert second.proposed_reseller == connected.cast.reseller
    assert second.assigned_at is None  # proposed, not decided
