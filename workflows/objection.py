"""The objection workflow (bezwaar, art. 6:4 and chapter 7 Awb): one small case per objection.

An objection is against one decision (a grant, a partial grant, a refusal, not-considered,
a penalty decision) and runs beside the claim: the claim's own state is not touched, so
the payouts of what was granted go on while the objection against the rest is heard.

```
new --lodge | register--> lodged --start_review--> in_review
lodged | in_review --uphold | reject | declare_inadmissible--> upheld | rejected | inadmissible
lodged | in_review --withdraw--> withdrawn
```

`upheld` is the objection found well-founded (gegrond: the decision is revoked and taken
again), `rejected` unfounded (ongegrond: the decision stands), `inadmissible` not
admissible (niet-ontvankelijk, e.g. a late objection without an excuse, art. 6:11 Awb).
Lateness is no state and no refusal: the service flags a late objection and the decider
judges whether it is excusable.

An objection is made in memory in state `new` and lodged (by the applicant online) or
registered (by a case handler, as it came on paper) in the same transaction, so `new`
is never stored. Who may: the applicant for their own office holder; staff never on a
claim of their own office holder; the decider not the one who prepared the decision
objected to (art. 7:5 Awb: the hearing is not by whoever prepared the decision); a
decision on the objection states its reasons (art. 7:12 Awb).

What the machine writes on the objection besides `state`: `decided_by_id` on a decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from workflows.machine import Spec, TransitionRecord, Workflow, recorder
from workflows.rules import (
    Actor,
    OfficeHolderFacts,
    Role,
    Rule,
    RuleViolation,
    check_not_own_claim,
    check_own_claim,
    check_role,
)

__all__ = [
    "DECISION_EVENTS",
    "EVENT_ROLES",
    "OPEN_STATES",
    "WORKFLOW",
    "ObjectionContext",
    "ObjectionEvent",
    "ObjectionLike",
    "ObjectionState",
    "events_for",
    "fire",
]


class ObjectionState(StrEnum):
    NEW = "new"
    LODGED = "lodged"
    IN_REVIEW = "in_review"
    UPHELD = "upheld"
    REJECTED = "rejected"
    INADMISSIBLE = "inadmissible"
    WITHDRAWN = "withdrawn"


class ObjectionEvent(StrEnum):
    LODGE = "lodge"
    REGISTER = "register"
    START_REVIEW = "start_review"
    UPHOLD = "uphold"
    REJECT = "reject"
    DECLARE_INADMISSIBLE = "declare_inadmissible"
    WITHDRAW = "withdraw"


S = ObjectionState
E = ObjectionEvent

# Still to be decided: at most one such objection per decision.
OPEN_STATES = (S.NEW, S.LODGED, S.IN_REVIEW)

EVENT_ROLES: Mapping[ObjectionEvent, Role] = MappingProxyType(
    {
        E.LODGE: Role.APPLICANT,
        E.WITHDRAW: Role.APPLICANT,
        E.REGISTER: Role.ASSESSOR,
        E.START_REVIEW: Role.ASSESSOR,
        E.UPHOLD: Role.DECIDER,
        E.REJECT: Role.DECIDER,
        E.DECLARE_INADMISSIBLE: Role.DECIDER,
    }
)
DECISION_EVENTS: frozenset[ObjectionEvent] = frozenset({E.UPHOLD, E.REJECT, E.DECLARE_INADMISSIBLE})


class ObjectionLike(OfficeHolderFacts, Protocol):
    """An objection the machine can move: whose claim, who prepared the decision objected
    to, and the attributes it writes."""

    state: ObjectionState
    decided_by_id: int | None

    @property
    def contested_prepared_by_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class ObjectionContext:
    """The decider's reasons for a decision on the objection (art. 7:12 Awb)."""

    reasons: str | None = None


_Step = Callable[[ObjectionLike, Actor, ObjectionContext], None]


def _authorisation(event: ObjectionEvent) -> _Step:
    role = EVENT_ROLES[event]

    def authorise(objection: ObjectionLike, actor: Actor, context: ObjectionContext) -> None:
        check_role(actor, role, event)
        if role is Role.APPLICANT:
            check_own_claim(objection, actor)
            return
        check_not_own_claim(objection, actor)
        if event in DECISION_EVENTS and actor.user_id == objection.contested_prepared_by_id:
            raise RuleViolation(
                Rule.FOUR_EYES, "who prepared the decision does not decide the objection to it"
            )

    authorise.__name__ = f"authorise_{event}"
    return authorise


def _reasons_given(objection: ObjectionLike, actor: Actor, context: ObjectionContext) -> None:
    if not (context.reasons or "").strip():
        raise RuleViolation(Rule.REASON_MISSING, "a decision on an objection states its reasons")


_record_decider = recorder("decided_by_id")
_Spec = Spec
_OPEN = (S.LODGED, S.IN_REVIEW)

_SPECS: tuple[Spec[ObjectionState, ObjectionEvent], ...] = (
    _Spec(E.LODGE, (S.NEW,), S.LODGED),
    _Spec(E.REGISTER, (S.NEW,), S.LODGED),
    _Spec(E.START_REVIEW, (S.LODGED,), S.IN_REVIEW),
    _Spec(E.UPHOLD, _OPEN, S.UPHELD, (_reasons_given,), (_record_decider,)),
    _Spec(E.REJECT, _OPEN, S.REJECTED, (_reasons_given,), (_record_decider,)),
    _Spec(E.DECLARE_INADMISSIBLE, _OPEN, S.INADMISSIBLE, (_reasons_given,), (_record_decider,)),
    _Spec(E.WITHDRAW, _OPEN, S.WITHDRAWN),
)

WORKFLOW: Workflow[ObjectionState, ObjectionEvent] = Workflow(
    "objection",
    states=ObjectionState,
    events=ObjectionEvent,
    initial=S.NEW,
    specs=_SPECS,
    authorisation=_authorisation,
    recorded=("decided_by_id",),
    context_type=ObjectionContext,
    default_context=ObjectionContext,
    final=frozenset({S.UPHELD, S.REJECTED, S.INADMISSIBLE, S.WITHDRAWN}),
)


def fire(
    objection: ObjectionLike,
    event: ObjectionEvent | str,
    *,
    actor: Actor,
    context: ObjectionContext | None = None,
) -> TransitionRecord[ObjectionState, ObjectionEvent]:
    """Fire an event on an objection by an actor; return what changed, or raise (see
    `workflows.machine.Workflow.fire`)."""
    return WORKFLOW.fire(objection, event, actor=actor, context=context)


def events_for(objection: ObjectionLike, actor: Actor) -> frozenset[ObjectionEvent]:
    """The events this actor may fire on the objection now, by who may (the reasons of a
    decision are still checked when it is fired)."""
    permitted = set()
    for event in WORKFLOW.allowed_events(objection.state):
        try:
            _authorisation(event)(objection, actor, ObjectionContext())
        except RuleViolation:
            continue
        permitted.add(event)
    return frozenset(permitted)
