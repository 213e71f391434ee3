"""Discovery's background work: the customer list, then a task per few customers (fanned out
over the database queue on one machine, over RQ workers on Redis when scaled out). Every task talks
to the vendor through the connector, whose rate limiter is shared per partner by all workers."""

from __future__ import annotations

from django.tasks import task

from seatkeeper.discovery import services


@task()
def discovery_list(run_id: int) -> int:
    # The customers are handed out first; the partner-level kinds (the invoices, long to read)
    # follow as one more task, so the workers import customers meanwhile.
    ids = services.list_customers(run_id, partner=False)
    enqueue_customers(run_id, ids)
    discovery_partner.enqueue(run_id=run_id)
    services.complete_if_done(run_id)
    return len(ids)


@task()
def discovery_partner(run_id: int) -> None:
    services.partner_step(run_id)
    services.complete_if_done(run_id)


# Customers per task: a worker writes one customer while it reads the next
# (`services.import_customers`), so the fewer tasks, the more writes hide behind the vendor's
# answers; the more, the more evenly the workers finish together.
CUSTOMERS_PER_TASK = 4


def enqueue_customers(run_id: int, vendor_customer_ids: list[str]) -> None:
    size = CUSTOMERS_PER_TASK
    for start in range(0, len(vendor_customer_ids), size):
        discovery_customers.enqueue(
            run_id=run_id, vendor_customer_ids=vendor_customer_ids[start : start + size]
        )


@task()
def discovery_customers(run_id: int, vendor_customer_ids: list[str]) -> list[str]:
    outcomes = services.import_customers(run_id, vendor_customer_ids)
    services.complete_if_done(run_id)
    return outcomes


@task()
def discovery_customer(run_id: int, vendor_customer_id: str) -> str:
    """One customer (the tasks queued before `discovery_customers` existed)."""
    outcome = services.import_customer(run_id, vendor_customer_id)
    services.complete_if_done(run_id)
    return outcome


# How often the scheduler looks for accounts due a run (each account has its own schedule).
SCHEDULE_CHECK_MINUTES = 15


@task()
def discovery_schedule() -> int:
    return len(services.start_scheduled())
