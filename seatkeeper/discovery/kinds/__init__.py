"""What a discovery run imports, one module per kind.

Each kind module has `NAME` (the key of its counts), `LABEL` (what pages call it),
`fetch(context)`, which reads that kind for one customer through the connector into
`context.data[NAME]`, and `import_customer(context)`, which writes it and records created /
updated / unchanged / removed on the context. `fetch` talks to the vendor only: a worker runs
it in a thread of its own while it writes the customer before (`services.import_customers`);
what a kind must read from the database first, it reads in an optional `prepare(context)`.
A kind the vendor keeps per partner, not per customer (invoices), says `SCOPE = "partner"`
and has `import_partner(context)` instead: it runs once per run, as soon as the customer list
is read, with a `PartnerContext`, and its counts join the customers' in the run's figures.
Every kind fetches first, outside any transaction (the database is never locked while the
vendor answers); then the kinds write in the order of `KINDS` within one transaction per
customer. "customers" comes first and fills in
`context.customer` and `context.tenant` for the others. Adding a kind (users and licences,
invoices) is one module and one line here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seatkeeper.accounts.models import Organisation
    from seatkeeper.discovery.models import DiscoveryRun
    from seatkeeper.providers import interface as vendor
    from seatkeeper.providers.models import ProviderAccount
    from seatkeeper.subscriptions.models import Tenant

KINDS = (
    "seatkeeper.discovery.kinds.customers",
    "seatkeeper.discovery.kinds.subscriptions",
    "seatkeeper.discovery.kinds.invoices",
    "seatkeeper.discovery.kinds.users",
)
CUSTOMER, PARTNER = "customer", "partner"


OUTCOMES = ("created", "updated", "unchanged", "removed")


def kinds() -> list[ModuleType]:
    return [import_module(dotted) for dotted in KINDS]


def customer_kinds() -> list[ModuleType]:
    return [module for module in kinds() if getattr(module, "SCOPE", CUSTOMER) == CUSTOMER]


def partner_kinds() -> list[ModuleType]:
    return [module for module in kinds() if getattr(module, "SCOPE", CUSTOMER) == PARTNER]


def kind_labels() -> dict[str, str]:
    return {module.NAME: module.LABEL for module in kinds()}


class _Tally:
    counts: dict[str, Counter]
    problems: list[dict[str, str]]

    def count(self, kind: str, outcome: str, number: int = 1) -> None:
        assert outcome in OUTCOMES, outcome
        self.counts.setdefault(kind, Counter())[outcome] += number

    def skip(self, kind: str, record_id: str, reason: str) -> None:
        self.problems.append({"kind": kind, "id": record_id, "reason": reason})

    def plain_counts(self) -> dict[str, dict[str, int]]:
        return {
            kind: {outcome: counter.get(outcome, 0) for outcome in OUTCOMES}
            for kind, counter in self.counts.items()
        }


@dataclass
class CustomerContext(_Tally):
    """One customer being imported: the vendor's facts, what Seatkeeper matched them to."""

    run: DiscoveryRun
    account: ProviderAccount
    provider: vendor.Provider
    facts: vendor.Customer
    customer: Organisation | None = None
    tenant: Tenant | None = None
    # What each kind fetched from the vendor, by kind name.
    data: dict = field(default_factory=dict)
    # Who changed each subscription at the vendor, where its audit records say (RunCustomer).
    changed_by: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Counter] = field(default_factory=dict)
    # Records left out, each with the reason: {"kind", "id", "reason"}.
    problems: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PartnerContext(_Tally):
    """The partner-level step of a run: what the vendor keeps for the partner as a whole."""

    run: DiscoveryRun
    account: ProviderAccount
    provider: vendor.Provider
    counts: dict[str, Counter] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)
