"""Discovery's background work: the customer list, then one task per customer (fanned out over
the database queue on one machine, over RQ workers on Redis when scaled out). Every task talks
to the vendor through the connector, whose rate limiter is shared per partner by all workers."""

from __future__ import annotations

from django.tasks import task

from seatkeeper.discovery import services


@task()
def discovery_list(run_id: int) -> int:
    # The customers are handed out first; the partner-level kinds (the invoices, long to read)
    # follow as one more task, so the workers import customers meanwhile.
    ids = services.list_customers(run_id, partner=False)
    for vendor_customer_id in ids:
        discovery_customer.enqueue(run_id=run_id, vendor_customer_id=vendor_customer_id)
    discovery_partner.enqueue(run_id=run_id)
    services.complete_if_done(run_id)
    return len(ids)


@task()
def discovery_partner(run_id: int) -> None:
    services.partner_step(run_id)
    services.complete_if_done(run_id)


@task()
def discovery_customer(run_id: int, vendor_customer_id: str) -> str:
    outcome = services.import_customer(run_id, vendor_customer_id)
    services.complete_if_done(run_id)
    return outcome


# How often the scheduler looks for accounts due a run (each account has its own schedule).
SCHEDULE_CHECK_MINUTES = 15


@task()
def discovery_schedule() -> int:
    return len(services.start_scheduled())
