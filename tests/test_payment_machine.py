"""The payout and batch machines: the designed transitions, every rule's refusal, dual control.

Pure Python: no database, no app. Payouts and batches are plain dataclasses.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal

import pytest
from transitions import MachineError

from workflows.claim import InvalidTransition as ClaimInvalidTransition
from workflows.machine import InvalidTransition, TransitionRecord, UnknownEvent
from workflows.payments import (
    BATCH,
    BATCH_EVENT_ROLES,
    PAYMENT_RULES,
    PAYOUT,
    PAYOUT_EVENT_ROLES,
    BatchEvent,
    BatchState,
    PaymentContext,
    PayoutEvent,
    PayoutState,
    fire_batch,
    fire_payout,
)
from workflows.rules import Actor, Role, Rule, RuleViolation

P, PE = PayoutState, PayoutEvent
B, BE = BatchState, BatchEvent

CLERK_ID, F1_ID, F2_ID = 1, 2, 3
F1 = Actor(user_id=F1_ID, roles=frozenset({Role.FINANCE}))
F2 = Actor(user_id=F2_ID, roles=frozenset({Role.FINANCE}))
ASSESSOR = Actor(user_id=CLERK_ID, roles=frozenset({Role.ASSESSOR}))
SYSTEM = Actor.system()


@dataclass
class FakePayout:
    state: PayoutState | str = P.REQUESTED
    amount: Decimal = Decimal("500.00")
    requested_by_id: int | None = CLERK_ID
    first_approved_by_id: int | None = None
    approved_by_id: int | None = None


@dataclass
class FakeBatch:
    state: BatchState | str = B.OPEN
    approved_by_id: int | None = None
    released_by_id: int | None = None
    item_count: int = 2


EXPECTED_PAYOUT = {
    (P.REQUESTED, PE.APPROVE, P.APPROVED),
    (P.REQUESTED, PE.APPROVE, P.FIRST_APPROVED),
    (P.FIRST_APPROVED, PE.APPROVE, P.APPROVED),
    (P.REQUESTED, PE.REJECT, P.REJECTED),
    (P.FIRST_APPROVED, PE.REJECT, P.REJECTED),
    (P.APPROVED, PE.ADD_TO_BATCH, P.BATCHED),
    (P.BATCHED, PE.REMOVE_FROM_BATCH, P.APPROVED),
    (P.BATCHED, PE.SEND, P.SENT),
    (P.SENT, PE.BOOK, P.BOOKED),
    (P.SENT, PE.RETURN, P.RETURNED),
    (P.BOOKED, PE.RETURN, P.RETURNED),
    (P.RETURNED, PE.CORRECT, P.APPROVED),
    (P.REQUESTED, PE.CANCEL, P.CANCELLED),
    (P.FIRST_APPROVED, PE.CANCEL, P.CANCELLED),
    (P.APPROVED, PE.CANCEL, P.CANCELLED),
    (P.RETURNED, PE.CANCEL, P.CANCELLED),
}
EXPECTED_BATCH = {
    (B.OPEN, BE.APPROVE, B.APPROVED),
    (B.APPROVED, BE.RELEASE, B.RELEASED),
    (B.RELEASED, BE.BOOK, B.BOOKED),
    (B.OPEN, BE.CANCEL, B.CANCELLED),
    (B.APPROVED, BE.CANCEL, B.CANCELLED),
}


def test_the_machines_have_exactly_the_designed_transitions() -> None:
    assert set(PAYOUT.transition_table()) == EXPECTED_PAYOUT
    assert set(BATCH.transition_table()) == EXPECTED_BATCH
    assert set(PAYOUT_EVENT_ROLES) == set(PayoutEvent)
    assert set(BATCH_EVENT_ROLES) == set(BatchEvent)


def test_the_machines_are_built_once_without_models_or_shortcuts() -> None:
    for workflow, events in ((PAYOUT, PayoutEvent), (BATCH, BatchEvent)):
        assert workflow.machine.models == []
        assert workflow.machine.auto_transitions is False
        assert set(workflow.machine.events) == {e.value for e in events}


def test_one_error_family_for_every_machine() -> None:
    assert InvalidTransition is ClaimInvalidTransition
    with pytest.raises(InvalidTransition) as raised:
        fire_payout(FakePayout(state="booked"), "send", actor=SYSTEM)
    assert (raised.value.event, raised.value.state) == (PE.SEND, P.BOOKED)
    assert isinstance(raised.value, MachineError)
    assert str(raised.value) == "send is not allowed in state booked"
    with pytest.raises(UnknownEvent, match="'grant' is not a batch event"):
        fire_batch(FakeBatch(), "grant", actor=F1)


def test_approval_within_the_limit_is_final() -> None:
    payout = FakePayout(state="requested")
    record = fire_payout(
        payout, "approve", actor=F1, context=PaymentContext(approval_limit=Decimal("500.00"))
    )
    assert record == TransitionRecord(
        event=PE.APPROVE,
        source=P.REQUESTED,
        dest=P.APPROVED,
        actor_id=F1_ID,
        changes={"approved_by_id": (None, F1_ID)},
    )
    assert payout.state is P.APPROVED


def test_above_the_limit_a_second_finance_user_approves() -> None:
    payout = FakePayout()
    first = fire_payout(payout, "approve", actor=F1)  # no limit recorded: zero
    assert (first.dest, dict(first.changes)) == (
        P.FIRST_APPROVED,
        {"first_approved_by_id": (None, F1_ID)},
    )
    with pytest.raises(RuleViolation) as same:
        fire_payout(payout, "approve", actor=F1)
    assert same.value.rule is Rule.SECOND_APPROVER
    assert payout.state is P.FIRST_APPROVED
    second = fire_payout(payout, "approve", actor=F2)
    assert (second.dest, payout.approved_by_id) == (P.APPROVED, F2_ID)


@dataclass(frozen=True)
class Refusal:
    name: str
    machine: str
    obj: FakePayout | FakeBatch
    event: str
    actor: Actor
    rule: Rule
    reason: str | None = None


REFUSALS = [
    Refusal("assessor approves", "payout", FakePayout(), "approve", ASSESSOR, Rule.ROLE),
    Refusal("user books", "payout", FakePayout(state=P.SENT), "book", F1, Rule.ROLE),
    Refusal("system approves", "payout", FakePayout(), "approve", SYSTEM, Rule.ROLE),
    Refusal(
        "requester approves",
        "payout",
        FakePayout(requested_by_id=F1_ID),
        "approve",
        F1,
        Rule.REQUESTER_APPROVES,
    ),
    Refusal(
        "first approver again",
        "payout",
        FakePayout(state=P.FIRST_APPROVED, first_approved_by_id=F1_ID),
        "approve",
        F1,
        Rule.SECOND_APPROVER,
    ),
    Refusal("reject without reason", "payout", FakePayout(), "reject", F1, Rule.REASON_MISSING),
    Refusal(
        "correct with blank reason",
        "payout",
        FakePayout(state=P.RETURNED),
        "correct",
        F1,
        Rule.REASON_MISSING,
        reason="  ",
    ),
    Refusal("empty batch", "batch", FakeBatch(item_count=0), "approve", F1, Rule.EMPTY_BATCH),
    Refusal(
        "approver releases",
        "batch",
        FakeBatch(state=B.APPROVED, approved_by_id=F1_ID),
        "release",
        F1,
        Rule.RELEASER_APPROVED,
    ),
    Refusal("cancel without reason", "batch", FakeBatch(), "cancel", F1, Rule.REASON_MISSING),
    Refusal("user books batch", "batch", FakeBatch(state=B.RELEASED), "book", F2, Rule.ROLE),
]


def test_every_payment_rule_has_a_refusal_case() -> None:
    assert {case.rule for case in REFUSALS} == PAYMENT_RULES | {Rule.ROLE}


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.name)
def test_every_rule_refuses_with_its_code_and_changes_nothing(case: Refusal) -> None:
    obj = copy.deepcopy(case.obj)
    before = copy.deepcopy(obj)
    workflow = PAYOUT if case.machine == "payout" else BATCH
    with pytest.raises(RuleViolation) as refused:
        workflow.fire(obj, case.event, actor=case.actor, context=PaymentContext(reason=case.reason))
    assert refused.value.rule is case.rule
    assert obj == before


def test_mermaid_lists_every_transition() -> None:
    lines = PAYOUT.to_mermaid().splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> requested"]
    for source, event, dest in EXPECTED_PAYOUT:
        assert f"    {source.value} --> {dest.value}: {event.value}" in lines
    assert "    booked --> [*]" in BATCH.to_mermaid().splitlines()
    assert PAYOUT.allowed_events(P.RETURNED) == {PE.CORRECT, PE.CANCEL}
