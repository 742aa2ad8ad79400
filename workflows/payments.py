"""The payout and payment-batch workflows of DESIGN.md §3, built like `workflows.claim`.

Each machine is a `workflows.machine.Workflow` built once at import with no model, from a
spec table; `fire_payout` and `fire_batch` run an event on any object satisfying
`PayoutLike` or `BatchLike` without registering it and return a `TransitionRecord`. Guards
raise `RuleViolation` with a named `Rule` of the one family the claim machine uses; an
event the state does not allow raises `InvalidTransition` (HTTP 409).

Dual control lives here: who recorded an invoice does not approve it; a payout above the
approver's limit needs a second, different finance user; a batch is approved by one
finance user and released by another.

What the machines write, in memory only (the domain service persists it and writes the
audit event, in one transaction): `state`; approve writes `first_approved_by_id` (above the
limit) or `approved_by_id`; a batch's approve and release write `approved_by_id` and
`released_by_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from workflows.machine import (
    InvalidTransition,
    Spec,
    Step,
    TransitionRecord,
    UnknownEvent,
    Workflow,
    recorder,
)
from workflows.rules import Actor, Role, Rule, RuleViolation, check_role

__all__ = [
    "BATCH",
    "BATCH_EVENT_ROLES",
    "PAYMENT_RULES",
    "PAYOUT",
    "PAYOUT_EVENT_ROLES",
    "BatchEvent",
    "BatchLike",
    "BatchState",
    "InvalidTransition",
    "PaymentContext",
    "PayoutEvent",
    "PayoutLike",
    "PayoutState",
    "TransitionRecord",
    "UnknownEvent",
    "fire_batch",
    "fire_payout",
]


class PayoutState(StrEnum):
    REQUESTED = "requested"  # an invoice or receipt is in
    FIRST_APPROVED = "first_approved"  # above the approver's limit: a second check is due
    APPROVED = "approved"  # finance checked it against the grant
    BATCHED = "batched"  # in an open or approved batch
    SENT = "sent"  # its batch was released
    BOOKED = "booked"  # found on the bank statement
    RETURNED = "returned"  # the bank sent it back; waits for a correction
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class PayoutEvent(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ADD_TO_BATCH = "add_to_batch"
    REMOVE_FROM_BATCH = "remove_from_batch"
    SEND = "send"
    BOOK = "book"
    RETURN = "return"
    CORRECT = "correct"
    CANCEL = "cancel"


class BatchState(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    RELEASED = "released"
    BOOKED = "booked"
    CANCELLED = "cancelled"


class BatchEvent(StrEnum):
    APPROVE = "approve"
    RELEASE = "release"
    BOOK = "book"
    CANCEL = "cancel"


# The rules only these two machines raise (ROLE is shared with the claim machine).
PAYMENT_RULES: frozenset[Rule] = frozenset(
    {
        Rule.REQUESTER_APPROVES,
        Rule.SECOND_APPROVER,
        Rule.RELEASER_APPROVED,
        Rule.REASON_MISSING,
        Rule.EMPTY_BATCH,
    }
)

P, PE = PayoutState, PayoutEvent
B, BE = BatchState, BatchEvent

# Who fires each event: finance decides; the system moves what a batch or the bank did.
PAYOUT_EVENT_ROLES: Mapping[PayoutEvent, Role] = MappingProxyType(
    {
        PE.APPROVE: Role.FINANCE,
        PE.REJECT: Role.FINANCE,
        PE.ADD_TO_BATCH: Role.FINANCE,
        PE.CORRECT: Role.FINANCE,
        PE.CANCEL: Role.FINANCE,
        PE.REMOVE_FROM_BATCH: Role.SYSTEM,
        PE.SEND: Role.SYSTEM,
        PE.BOOK: Role.SYSTEM,
        PE.RETURN: Role.SYSTEM,
    }
)
BATCH_EVENT_ROLES: Mapping[BatchEvent, Role] = MappingProxyType(
    {
        BE.APPROVE: Role.FINANCE,
        BE.RELEASE: Role.FINANCE,
        BE.CANCEL: Role.FINANCE,
        BE.BOOK: Role.SYSTEM,
    }
)


class PayoutLike(Protocol):
    state: Any
    amount: Decimal
    requested_by_id: int | None
    first_approved_by_id: int | None
    approved_by_id: int | None


class BatchLike(Protocol):
    state: Any
    approved_by_id: int | None
    released_by_id: int | None
    item_count: int


@dataclass(frozen=True, slots=True)
class PaymentContext:
    """What only the database knows: the acting finance user's approval limit; the reason."""

    approval_limit: Decimal = Decimal("0.00")
    reason: str | None = None


def _roles(roles: Mapping[Any, Role]) -> Any:
    def authorisation(event: StrEnum) -> Step:
        role = roles[event]

        def authorise(obj: Any, actor: Actor, context: PaymentContext) -> None:
            check_role(actor, role, event)

        authorise.__name__ = f"authorise_{event}"
        return authorise

    return authorisation


# --- payout rules ---------------------------------------------------------------------------


def _not_the_requester(payout: PayoutLike, actor: Actor, context: PaymentContext) -> None:
    if payout.requested_by_id is not None and payout.requested_by_id == actor.user_id:
        raise RuleViolation(Rule.REQUESTER_APPROVES, "who recorded the invoice does not approve it")


def _not_the_first_approver(payout: PayoutLike, actor: Actor, context: PaymentContext) -> None:
    if payout.first_approved_by_id == actor.user_id:
        raise RuleViolation(
            Rule.SECOND_APPROVER, "the second approval needs a different finance user"
        )


def _within_limit(payout: PayoutLike, actor: Actor, context: PaymentContext) -> bool:
    return payout.amount <= context.approval_limit


def _with_reason(obj: Any, actor: Actor, context: PaymentContext) -> None:
    if not (context.reason or "").strip():
        raise RuleViolation(Rule.REASON_MISSING, "this step needs a reason")


# --- batch rules ----------------------------------------------------------------------------


def _not_empty(batch: BatchLike, actor: Actor, context: PaymentContext) -> None:
    if batch.item_count < 1:
        raise RuleViolation(Rule.EMPTY_BATCH, "an empty batch is not approved")


def _not_the_approver(batch: BatchLike, actor: Actor, context: PaymentContext) -> None:
    if batch.approved_by_id == actor.user_id:
        raise RuleViolation(
            Rule.RELEASER_APPROVED, "a second, different finance user releases the batch"
        )


# DESIGN.md §3, one line per transition. Within the approver's limit one approval is
# enough; above it (the first route does not take it) a second user checks.
_PAYOUT_SPECS: tuple[Spec[PayoutState, PayoutEvent], ...] = (
    Spec(
        PE.APPROVE,
        (P.REQUESTED,),
        P.APPROVED,
        (_not_the_requester,),
        (recorder("approved_by_id"),),
        route=_within_limit,
    ),
    Spec(
        PE.APPROVE,
        (P.REQUESTED,),
        P.FIRST_APPROVED,
        (_not_the_requester,),
        (recorder("first_approved_by_id"),),
    ),
    Spec(
        PE.APPROVE,
        (P.FIRST_APPROVED,),
        P.APPROVED,
        (_not_the_requester, _not_the_first_approver),
        (recorder("approved_by_id"),),
    ),
    Spec(PE.REJECT, (P.REQUESTED, P.FIRST_APPROVED), P.REJECTED, (_with_reason,)),
    Spec(PE.ADD_TO_BATCH, (P.APPROVED,), P.BATCHED),
    Spec(PE.REMOVE_FROM_BATCH, (P.BATCHED,), P.APPROVED),
    Spec(PE.SEND, (P.BATCHED,), P.SENT),
    Spec(PE.BOOK, (P.SENT,), P.BOOKED),
    Spec(PE.RETURN, (P.SENT, P.BOOKED), P.RETURNED),
    Spec(PE.CORRECT, (P.RETURNED,), P.APPROVED, (_with_reason,)),
    # A returned payout may be given up too (the supplier has no account any more): it is
    # not paid again, and what it took of the grant is free again.
    Spec(
        PE.CANCEL,
        (P.REQUESTED, P.FIRST_APPROVED, P.APPROVED, P.RETURNED),
        P.CANCELLED,
        (_with_reason,),
    ),
)

_BATCH_SPECS: tuple[Spec[BatchState, BatchEvent], ...] = (
    Spec(BE.APPROVE, (B.OPEN,), B.APPROVED, (_not_empty,), (recorder("approved_by_id"),)),
    Spec(
        BE.RELEASE,
        (B.APPROVED,),
        B.RELEASED,
        (_not_the_approver,),
        (recorder("released_by_id"),),
    ),
    Spec(BE.BOOK, (B.RELEASED,), B.BOOKED),
    Spec(BE.CANCEL, (B.OPEN, B.APPROVED), B.CANCELLED, (_with_reason,)),
)

PAYOUT: Workflow[PayoutState, PayoutEvent] = Workflow(
    "payout",
    states=PayoutState,
    events=PayoutEvent,
    initial=P.REQUESTED,
    specs=_PAYOUT_SPECS,
    authorisation=_roles(PAYOUT_EVENT_ROLES),
    recorded=("first_approved_by_id", "approved_by_id"),
    context_type=PaymentContext,
    default_context=PaymentContext,
    final=frozenset({P.REJECTED, P.CANCELLED}),
)

BATCH: Workflow[BatchState, BatchEvent] = Workflow(
    "batch",
    states=BatchState,
    events=BatchEvent,
    initial=B.OPEN,
    specs=_BATCH_SPECS,
    authorisation=_roles(BATCH_EVENT_ROLES),
    recorded=("approved_by_id", "released_by_id"),
    context_type=PaymentContext,
    default_context=PaymentContext,
    final=frozenset({B.BOOKED, B.CANCELLED}),
)


def fire_payout(
    payout: PayoutLike,
    event: PayoutEvent | str,
    *,
    actor: Actor,
    context: PaymentContext | None = None,
) -> TransitionRecord[PayoutState, PayoutEvent]:
    """Fire a payout event; return what changed, or raise (nothing changes then)."""
    return PAYOUT.fire(payout, event, actor=actor, context=context)


def fire_batch(
    batch: BatchLike,
    event: BatchEvent | str,
    *,
    actor: Actor,
    context: PaymentContext | None = None,
) -> TransitionRecord[BatchState, BatchEvent]:
    """Fire a batch event; return what changed, or raise (nothing changes then)."""
    return BATCH.fire(batch, event, actor=actor, context=context)
