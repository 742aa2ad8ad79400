"""The payout and payment-batch workflows of DESIGN.md §3: two `transitions` machines.

Like `workflows.claim`, each machine is built once with no model; `fire_payout` and
`fire_batch` run an event on any object with a `state` attribute without registering it.
Guards raise `PaymentRuleViolation` naming their rule, so a refusal always says why; an
event the state does not allow raises `InvalidPaymentTransition` (HTTP 409).

Dual control lives here: a payout above the approver's limit needs a second, different
finance user; a batch is approved by one finance user and released by another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, cast

from transitions import EventData, Machine, MachineError

from workflows.rules import Actor, WorkflowError

FINANCE = "finance"


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


class PaymentRule(StrEnum):
    ROLE = "role"
    APPROVAL_LIMIT = "approval_limit"  # the second approval is above this user's limit too
    SECOND_APPROVER = "second_approver"  # the second approval by the first approver
    REQUESTER_APPROVES = "requester_approves"  # who recorded the invoice checks it too
    RELEASER_APPROVED = "releaser_approved"  # the batch's approver releases it
    REASON_MISSING = "reason_missing"
    EMPTY_BATCH = "empty_batch"


class PaymentRuleViolation(WorkflowError):
    def __init__(self, rule: PaymentRule, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class InvalidPaymentTransition(WorkflowError, MachineError):
    def __init__(self, event: str, state: str) -> None:
        super().__init__(f"{event} is not allowed in state {state}")
        self.event = event
        self.state = state

    def __str__(self) -> str:
        return str(self.value)


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
    """What only the database knows: the acting finance user's approval limit."""

    approval_limit: Decimal = Decimal("0.00")
    reason: str | None = None


def _finance(actor: Actor, event: str) -> None:
    if actor.is_system or FINANCE not in actor.roles:
        raise PaymentRuleViolation(PaymentRule.ROLE, f"{event} needs the finance role")


def _system(actor: Actor, event: str) -> None:
    if not actor.is_system:
        raise PaymentRuleViolation(PaymentRule.ROLE, f"{event} is fired by the system")


def _context(event_data: EventData) -> PaymentContext:
    context = event_data.kwargs.get("context")
    return context if isinstance(context, PaymentContext) else PaymentContext()


def _actor(event_data: EventData) -> Actor:
    return cast(Actor, event_data.kwargs["actor"])


# --- payout guards --------------------------------------------------------------------------


def _may_check(event_data: EventData) -> bool:
    actor, payout = _actor(event_data), cast(PayoutLike, event_data.model)
    _finance(actor, "approve")
    if payout.requested_by_id is not None and payout.requested_by_id == actor.user_id:
        raise PaymentRuleViolation(
            PaymentRule.REQUESTER_APPROVES, "who recorded the invoice does not approve it"
        )
    return True


def _within_limit(event_data: EventData) -> bool:
    payout = cast(PayoutLike, event_data.model)
    return payout.amount <= _context(event_data).approval_limit


def _second_approval(event_data: EventData) -> bool:
    actor, payout = _actor(event_data), cast(PayoutLike, event_data.model)
    _may_check(event_data)
    if payout.first_approved_by_id == actor.user_id:
        raise PaymentRuleViolation(
            PaymentRule.SECOND_APPROVER, "the second approval needs a different finance user"
        )
    return True


def _finance_only(event: str) -> Callable[[EventData], bool]:
    def guard(event_data: EventData) -> bool:
        _finance(_actor(event_data), event)
        return True

    guard.__name__ = f"finance_{event}"
    return guard


def _with_reason(event: str) -> Callable[[EventData], bool]:
    def guard(event_data: EventData) -> bool:
        _finance(_actor(event_data), event)
        if not (_context(event_data).reason or "").strip():
            raise PaymentRuleViolation(PaymentRule.REASON_MISSING, f"{event} needs a reason")
        return True

    guard.__name__ = f"reason_{event}"
    return guard


def _system_only(event: str) -> Callable[[EventData], bool]:
    def guard(event_data: EventData) -> bool:
        _system(_actor(event_data), event)
        return True

    guard.__name__ = f"system_{event}"
    return guard


def _record_first_approval(event_data: EventData) -> None:
    cast(PayoutLike, event_data.model).first_approved_by_id = _actor(event_data).user_id


def _record_approval(event_data: EventData) -> None:
    cast(PayoutLike, event_data.model).approved_by_id = _actor(event_data).user_id


P, PE = PayoutState, PayoutEvent


def _build_payout_machine() -> Machine:
    machine = Machine(
        model=None,
        states=list(PayoutState),
        initial=P.REQUESTED,
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
        queued=False,
        name="payout",
    )
    add = machine.add_transition
    # Within the approver's limit one approval is enough; above it, a second user checks.
    add(PE.APPROVE, P.REQUESTED, P.APPROVED, conditions=[_may_check, _within_limit],
        before=[_record_approval])  # fmt: skip
    add(PE.APPROVE, P.REQUESTED, P.FIRST_APPROVED, conditions=[_may_check],
        before=[_record_first_approval])  # fmt: skip
    add(PE.APPROVE, P.FIRST_APPROVED, P.APPROVED, conditions=[_second_approval],
        before=[_record_approval])  # fmt: skip
    add(PE.REJECT, [P.REQUESTED, P.FIRST_APPROVED], P.REJECTED, conditions=[_with_reason("reject")])
    add(PE.ADD_TO_BATCH, P.APPROVED, P.BATCHED, conditions=[_finance_only("add_to_batch")])
    add(PE.REMOVE_FROM_BATCH, P.BATCHED, P.APPROVED, conditions=[_system_only("remove")])
    add(PE.SEND, P.BATCHED, P.SENT, conditions=[_system_only("send")])
    add(PE.BOOK, P.SENT, P.BOOKED, conditions=[_system_only("book")])
    add(PE.RETURN, [P.SENT, P.BOOKED], P.RETURNED, conditions=[_system_only("return")])
    add(PE.CORRECT, P.RETURNED, P.APPROVED, conditions=[_with_reason("correct")])
    # A returned payout may be given up too (the supplier has no account any more): it is
    # not paid again, and what it took of the grant is free again.
    add(PE.CANCEL, [P.REQUESTED, P.FIRST_APPROVED, P.APPROVED, P.RETURNED], P.CANCELLED,
        conditions=[_with_reason("cancel")])  # fmt: skip
    return machine


# --- batch guards ------------------------------------------------------------------------


def _batch_not_empty(event_data: EventData) -> bool:
    _finance(_actor(event_data), "approve")
    if cast(BatchLike, event_data.model).item_count < 1:
        raise PaymentRuleViolation(PaymentRule.EMPTY_BATCH, "an empty batch is not approved")
    return True


def _releaser_is_second(event_data: EventData) -> bool:
    actor, batch = _actor(event_data), cast(BatchLike, event_data.model)
    _finance(actor, "release")
    if batch.approved_by_id == actor.user_id:
        raise PaymentRuleViolation(
            PaymentRule.RELEASER_APPROVED, "a second, different finance user releases the batch"
        )
    return True


def _record_batch_approval(event_data: EventData) -> None:
    cast(BatchLike, event_data.model).approved_by_id = _actor(event_data).user_id


def _record_release(event_data: EventData) -> None:
    cast(BatchLike, event_data.model).released_by_id = _actor(event_data).user_id


B, BE = BatchState, BatchEvent


def _build_batch_machine() -> Machine:
    machine = Machine(
        model=None,
        states=list(BatchState),
        initial=B.OPEN,
        auto_transitions=False,
        send_event=True,
        model_attribute="state",
        queued=False,
        name="payment_batch",
    )
    add = machine.add_transition
    add(BE.APPROVE, B.OPEN, B.APPROVED, conditions=[_batch_not_empty],
        before=[_record_batch_approval])  # fmt: skip
    add(BE.RELEASE, B.APPROVED, B.RELEASED, conditions=[_releaser_is_second],
        before=[_record_release])  # fmt: skip
    add(BE.BOOK, B.RELEASED, B.BOOKED, conditions=[_system_only("book")])
    add(BE.CANCEL, [B.OPEN, B.APPROVED], B.CANCELLED, conditions=[_with_reason("cancel")])
    return machine


_PAYOUT = _build_payout_machine()
_BATCH = _build_batch_machine()


def _fire(machine: Machine, states: type[StrEnum], model: Any, event: str, **kwargs: Any) -> str:
    source = states(model.state)
    model.state = source  # transitions looks states up by enum member
    transitions = machine.events.get(event)
    if transitions is None or not transitions.transitions.get(source.name):
        raise InvalidPaymentTransition(event, source.value)
    if not transitions.trigger(model, **kwargs):
        # Every routing condition said no (e.g. above the limit with no second route).
        raise InvalidPaymentTransition(event, source.value)
    model.state = states(model.state).value
    return str(model.state)


def fire_payout(
    payout: PayoutLike, event: PayoutEvent | str, *, actor: Actor,
    context: PaymentContext | None = None,
) -> str:  # fmt: skip
    """Fire a payout event; return the new state, or raise (nothing changes then)."""
    return _fire(_PAYOUT, PayoutState, payout, PayoutEvent(event).value, actor=actor,
                 context=context or PaymentContext())  # fmt: skip


def fire_batch(
    batch: BatchLike, event: BatchEvent | str, *, actor: Actor,
    context: PaymentContext | None = None,
) -> str:  # fmt: skip
    """Fire a batch event; return the new state, or raise (nothing changes then)."""
    return _fire(_BATCH, BatchState, batch, BatchEvent(event).value, actor=actor,
                 context=context or PaymentContext())  # fmt: skip


def payout_transitions() -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (source, name, t.dest)
        for name, event in _PAYOUT.events.items()
        for source, ts in event.transitions.items()
        for t in ts
    )
