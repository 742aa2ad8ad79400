"""The objection machine on its own: every transition, who may fire it, and what it refuses."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from workflows.machine import InvalidTransition
from workflows.objection import (
    WORKFLOW,
    ObjectionContext,
    ObjectionEvent,
    ObjectionState,
    events_for,
    fire,
)
from workflows.rules import Actor, Rule, RuleViolation

S = ObjectionState
E = ObjectionEvent
HOLDER = 10
PREPARER = 3

APPLICANT = Actor(user_id=1, roles=frozenset({"applicant"}), office_holder_ids=frozenset({HOLDER}))
CLERK = Actor(user_id=2, roles=frozenset({"applicant"}), office_holder_ids=frozenset({HOLDER}))
STRANGER = Actor(user_id=9, roles=frozenset({"applicant"}), office_holder_ids=frozenset({99}))
ASSESSOR = Actor(user_id=PREPARER, roles=frozenset({"assessor"}))
DECIDER = Actor(user_id=4, roles=frozenset({"decider"}))
PREPARING_DECIDER = Actor(user_id=PREPARER, roles=frozenset({"assessor", "decider"}))
OWN_DECIDER = Actor(user_id=5, roles=frozenset({"decider"}), office_holder_ids=frozenset({HOLDER}))
REASONS = ObjectionContext(reasons="Het advies noemt de camera's niet.")


@dataclass
class FakeObjection:
    state: ObjectionState = S.NEW
    decided_by_id: int | None = None
    office_holder_id: int = HOLDER
    office_holder_user_id: int | None = 1
    contested_prepared_by_id: int | None = PREPARER


HAPPY = [
    (S.NEW, E.LODGE, APPLICANT, S.LODGED),
    (S.NEW, E.LODGE, CLERK, S.LODGED),
    (S.NEW, E.REGISTER, ASSESSOR, S.LODGED),
    (S.LODGED, E.START_REVIEW, ASSESSOR, S.IN_REVIEW),
    (S.LODGED, E.UPHOLD, DECIDER, S.UPHELD),
    (S.IN_REVIEW, E.UPHOLD, DECIDER, S.UPHELD),
    (S.LODGED, E.REJECT, DECIDER, S.REJECTED),
    (S.IN_REVIEW, E.REJECT, DECIDER, S.REJECTED),
    (S.LODGED, E.DECLARE_INADMISSIBLE, DECIDER, S.INADMISSIBLE),
    (S.IN_REVIEW, E.DECLARE_INADMISSIBLE, DECIDER, S.INADMISSIBLE),
    (S.LODGED, E.WITHDRAW, APPLICANT, S.WITHDRAWN),
    (S.IN_REVIEW, E.WITHDRAW, CLERK, S.WITHDRAWN),
]


def test_the_happy_cases_are_the_whole_table() -> None:
    table = {(source, event, dest) for source, event, dest in WORKFLOW.transition_table()}
    assert {(source, event, dest) for source, event, _, dest in HAPPY} == table


@pytest.mark.parametrize(("source", "event", "actor", "dest"), HAPPY)
def test_every_transition(source: S, event: E, actor: Actor, dest: S) -> None:
    objection = FakeObjection(state=source)
    record = fire(objection, event, actor=actor, context=REASONS)
    assert (record.source, record.dest) == (source, dest)
    assert objection.state is dest
    if event in (E.UPHOLD, E.REJECT, E.DECLARE_INADMISSIBLE):
        assert objection.decided_by_id == actor.user_id
        assert record.changes == {"decided_by_id": (None, actor.user_id)}
    else:
        assert objection.decided_by_id is None


REFUSED = [
    ("stranger lodges", S.NEW, E.LODGE, STRANGER, Rule.NOT_OWN_CLAIM),
    ("decider lodges", S.NEW, E.LODGE, DECIDER, Rule.ROLE),
    ("applicant registers", S.NEW, E.REGISTER, APPLICANT, Rule.ROLE),
    ("applicant decides", S.LODGED, E.REJECT, APPLICANT, Rule.ROLE),
    ("assessor decides", S.LODGED, E.UPHOLD, ASSESSOR, Rule.ROLE),
    ("preparer decides", S.IN_REVIEW, E.REJECT, PREPARING_DECIDER, Rule.FOUR_EYES),
    ("own claim decided", S.LODGED, E.REJECT, OWN_DECIDER, Rule.SELF_DECISION),
    ("stranger withdraws", S.LODGED, E.WITHDRAW, STRANGER, Rule.NOT_OWN_CLAIM),
    ("decider withdraws", S.LODGED, E.WITHDRAW, DECIDER, Rule.ROLE),
]


@pytest.mark.parametrize(
    ("name", "source", "event", "actor", "rule"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_by_rule(name: str, source: S, event: E, actor: Actor, rule: Rule) -> None:
    objection = FakeObjection(state=source)
    with pytest.raises(RuleViolation) as refused:
        fire(objection, event, actor=actor, context=REASONS)
    assert refused.value.rule is rule
    assert objection.state is source and objection.decided_by_id is None


@pytest.mark.parametrize("event", [E.UPHOLD, E.REJECT, E.DECLARE_INADMISSIBLE])
def test_a_decision_without_reasons_is_refused(event: E) -> None:
    objection = FakeObjection(state=S.LODGED)
    for context in (None, ObjectionContext(reasons="  ")):
        with pytest.raises(RuleViolation) as refused:
            fire(objection, event, actor=DECIDER, context=context)
        assert refused.value.rule is Rule.REASON_MISSING
    assert objection.state is S.LODGED


@pytest.mark.parametrize("state", [S.UPHELD, S.REJECTED, S.INADMISSIBLE, S.WITHDRAWN])
def test_nothing_leaves_a_closed_objection(state: S) -> None:
    assert WORKFLOW.allowed_events(state) == frozenset()
    with pytest.raises(InvalidTransition):
        fire(FakeObjection(state=state), E.WITHDRAW, actor=APPLICANT)


def test_lodged_twice_is_not_allowed() -> None:
    with pytest.raises(InvalidTransition):
        fire(FakeObjection(state=S.LODGED), E.LODGE, actor=APPLICANT)


def test_events_for_each_person() -> None:
    lodged = FakeObjection(state=S.LODGED)
    assert events_for(lodged, APPLICANT) == {E.WITHDRAW}
    assert events_for(lodged, STRANGER) == frozenset()
    assert events_for(lodged, ASSESSOR) == {E.START_REVIEW}
    assert events_for(lodged, DECIDER) == {E.UPHOLD, E.REJECT, E.DECLARE_INADMISSIBLE}
    assert events_for(lodged, PREPARING_DECIDER) == {E.START_REVIEW}
