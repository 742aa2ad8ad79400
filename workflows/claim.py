"""The claim workflow of DESIGN.md §3: one `transitions` machine for every claim.

The machine is built once, at import, with no model (`model=None`). `fire(claim, event,
actor=..., context=...)` runs an event on any object satisfying `ClaimLike` without
registering it, so memory does not grow with the number of claims and the machine holds
no per-claim state (it is safe to share between threads).

Guards are the rules of `workflows.rules`: each raises `RuleViolation` naming its rule,
so a refusal always says why (a guard returning False would fail silently). An event
the current state does not allow raises `InvalidTransition` (HTTP 409).

What the machine writes on the claim, in memory only (the domain service persists it and
writes the audit event, in one transaction):

- `state`: the destination, a `ClaimState` member;
- submit: `application_date` (the context's `today`, unless a receipt date is already
  recorded, e.g. of a paper application) and `regime` (by that date);
- start_assessment: `assessor_id` (the actor takes the claim);
- propose_decision: `proposed_by_id` (the actor);
- info_term_expired, send_back: `proposed_by_id = None` (the system's proposal has no
  author; a proposal sent back is no longer current);
- grant, grant_partially, refuse, declare_not_considered: `decided_by_id`;
- reopen_after_objection: `proposed_by_id = None`, `decided_by_id = None` (the decision
  objected to is revoked and taken again; the assessor stays).

An objection is no claim state: it is its own case (workflows/objection.py). When one is
upheld against a refusal or a not-considered decision, the objection service fires
`reopen_after_objection` (a system event) in the same transaction, and the claim is
assessed and decided again.

A refused event (any exception) changes nothing: every rule runs before any write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from workflows.machine import (
    InvalidTransition,
    Spec,
    TransitionRecord,
    UnknownEvent,
    Workflow,
    reads,
)
from workflows.rules import (
    Actor,
    ClaimContext,
    ClaimFacts,
    Fact,
    MissingEventData,
    Regime,
    Role,
    RuleViolation,
    check_application_date,
    check_budget,
    check_decision_lines,
    check_eligibility,
    check_four_eyes,
    check_full_grant,
    check_info_term_expired,
    check_not_own_claim,
    check_own_claim,
    check_partial_grant,
    check_refusal,
    check_regime_for_decision,
    check_requested_lines,
    check_retention_expired,
    check_role,
    regime_for,
    require_regime,
)

__all__ = [
    "DECISION_EVENTS",
    "EVENT_ROLES",
    "RECORDED_ATTRIBUTES",
    "WORKFLOW",
    "ClaimEvent",
    "ClaimLike",
    "ClaimState",
    "InvalidTransition",
    "OfferableClaim",
    "TransitionRecord",
    "UnknownEvent",
    "allowed_events",
    "events_for",
    "fire",
    "to_mermaid",
    "transition_table",
]


class ClaimState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_ASSESSMENT = "in_assessment"
    AWAITING_INFO = "awaiting_info"
    AWAITING_ADVICE = "awaiting_advice"
    DECISION_PROPOSED = "decision_proposed"
    GRANTED = "granted"
    REFUSED = "refused"
    NOT_CONSIDERED = "not_considered"
    IN_PAYMENT = "in_payment"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"
    ARCHIVED = "archived"


class ClaimEvent(StrEnum):
    SUBMIT = "submit"
    START_ASSESSMENT = "start_assessment"
    REQUEST_INFO = "request_info"
    PROVIDE_INFO = "provide_info"
    INFO_TERM_EXPIRED = "info_term_expired"
    REQUEST_ADVICE = "request_advice"
    RECORD_ADVICE = "record_advice"
    PROPOSE_DECISION = "propose_decision"
    GRANT = "grant"
    GRANT_PARTIALLY = "grant_partially"
    REFUSE = "refuse"
    DECLARE_NOT_CONSIDERED = "declare_not_considered"
    SEND_BACK = "send_back"
    START_PAYMENT = "start_payment"
    SETTLE = "settle"
    REOPEN_PAYMENT = "reopen_payment"
    REOPEN_AFTER_OBJECTION = "reopen_after_objection"
    WITHDRAW = "withdraw"
    RETENTION_EXPIRED = "retention_expired"


# Short names for the tables below.
S = ClaimState
E = ClaimEvent

# Who fires each event. Applicant events also need the actor to own the claim; all other
# human events need the actor not to (a mayor never handles their own claim).
EVENT_ROLES: Mapping[ClaimEvent, Role] = MappingProxyType(
    {
        E.SUBMIT: Role.APPLICANT,
        E.PROVIDE_INFO: Role.APPLICANT,
        E.WITHDRAW: Role.APPLICANT,
        E.START_ASSESSMENT: Role.ASSESSOR,
        E.REQUEST_INFO: Role.ASSESSOR,
        E.REQUEST_ADVICE: Role.ASSESSOR,
        E.RECORD_ADVICE: Role.ASSESSOR,
        E.PROPOSE_DECISION: Role.ASSESSOR,
        E.GRANT: Role.DECIDER,
        E.GRANT_PARTIALLY: Role.DECIDER,
        E.REFUSE: Role.DECIDER,
        E.DECLARE_NOT_CONSIDERED: Role.DECIDER,
        E.SEND_BACK: Role.DECIDER,
        E.INFO_TERM_EXPIRED: Role.SYSTEM,
        E.RETENTION_EXPIRED: Role.SYSTEM,
        E.START_PAYMENT: Role.SYSTEM,
        E.SETTLE: Role.SYSTEM,
        E.REOPEN_PAYMENT: Role.SYSTEM,
        E.REOPEN_AFTER_OBJECTION: Role.SYSTEM,
    }
)

# Decisions take four eyes: never by the one who proposed. (The decision on an objection
# has its own rule, in workflows/objection.py.)
DECISION_EVENTS: frozenset[ClaimEvent] = frozenset(
    {E.GRANT, E.GRANT_PARTIALLY, E.REFUSE, E.DECLARE_NOT_CONSIDERED}
)

# The claim attributes the machine may write besides `state`, for the audit payload.
RECORDED_ATTRIBUTES: tuple[str, ...] = (
    "application_date",
    "regime",
    "assessor_id",
    "proposed_by_id",
    "decided_by_id",
)


class ClaimLike(ClaimFacts, Protocol):
    """A claim the machine can move: the rules' facts plus the state column."""

    state: ClaimState


class OfferableClaim(ClaimLike, Protocol):
    """A claim whose events are offered to people (`events_for`): also whether its
    security advice is recorded."""

    @property
    def advice_recorded(self) -> bool: ...


# What must hold before an event is offered at all, read from the claim alone: an event
# that would be refused whatever is entered is not offered (the rules still decide when
# it is fired). Under regime B what is granted is what the security advice names, so a
# decision is proposed once the advice is recorded.
_PRECONDITIONS: Mapping[ClaimEvent, Callable[[OfferableClaim], bool]] = MappingProxyType(
    {
        ClaimEvent.PROPOSE_DECISION: lambda claim: (
            claim.regime is not Regime.B or claim.advice_recorded
        ),
    }
)


# --- Guards and effects, as the machine calls them ----------------------------------------

_Step = Callable[[ClaimLike, Actor, ClaimContext | None], None]


def _need_context(context: ClaimContext | None, event: ClaimEvent) -> ClaimContext:
    if context is None:
        raise MissingEventData(f"{event} needs a ClaimContext")
    return context


def _authorisation(event: ClaimEvent) -> _Step:
    role = EVENT_ROLES[event]

    # A person's event asks whose claim it is: the office holder (and their user).
    @reads(*(() if role is Role.SYSTEM else (Fact.OFFICE_HOLDER,)))
    def authorise(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
        check_role(actor, role, event)
        if role is Role.SYSTEM:
            return
        if role is Role.APPLICANT:
            check_own_claim(claim, actor)
            return
        check_not_own_claim(claim, actor)
        if event in DECISION_EVENTS:
            check_four_eyes(claim, actor)

    authorise.__name__ = f"authorise_{event}"
    return authorise


@reads(Fact.OFFICE_HOLDER, Fact.HOME, Fact.LINES, Fact.SETTINGS)
def _submission_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    ctx = _need_context(context, E.SUBMIT)
    on = claim.application_date or ctx.today
    check_application_date(on, ctx.today)
    check_eligibility(claim, on, ctx.settings)
    check_requested_lines(claim, require_regime(on))


@reads(Fact.LINES, Fact.SETTINGS, Fact.GRANTED_FOR_HOME, Fact.ADVISED_MEASURES)
def _proposal_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    ctx = _need_context(context, E.PROPOSE_DECISION)
    check_decision_lines(claim)
    check_regime_for_decision(claim, ctx)


@reads(Fact.LINES, Fact.SETTINGS, Fact.GRANTED_FOR_HOME, Fact.ADVISED_MEASURES, Fact.BUDGET)
def _grant_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    ctx = _need_context(context, E.GRANT)
    check_decision_lines(claim)
    check_full_grant(claim)
    check_regime_for_decision(claim, ctx)
    check_budget(claim, ctx)


@reads(Fact.LINES, Fact.SETTINGS, Fact.GRANTED_FOR_HOME, Fact.ADVISED_MEASURES, Fact.BUDGET)
def _partial_grant_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    ctx = _need_context(context, E.GRANT_PARTIALLY)
    check_decision_lines(claim)
    check_partial_grant(claim)
    check_regime_for_decision(claim, ctx)
    check_budget(claim, ctx)


@reads(Fact.LINES)
def _refusal_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    check_decision_lines(claim)
    check_refusal(claim)


@reads(Fact.INFO_TERM)
def _info_term_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    check_info_term_expired(_need_context(context, E.INFO_TERM_EXPIRED))


@reads(Fact.RETENTION)
def _retention_rules(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    check_retention_expired(_need_context(context, E.RETENTION_EXPIRED))


def _record_submission(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    ctx = _need_context(context, E.SUBMIT)
    if claim.application_date is None:
        claim.application_date = ctx.today
    claim.regime = regime_for(claim.application_date)


def _record_assessor(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    claim.assessor_id = actor.user_id


def _record_proposal(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    claim.proposed_by_id = actor.user_id


def _clear_proposal(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    claim.proposed_by_id = None


def _record_decision(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    claim.decided_by_id = actor.user_id


def _reopen(claim: ClaimLike, actor: Actor, context: ClaimContext | None) -> None:
    claim.proposed_by_id = None
    claim.decided_by_id = None


# The plain class: calling a subscripted frozen slots dataclass fails in Python 3.11.
_Spec = Spec


# DESIGN.md §3, one line per event, in the order the diagram reads.
_SPECS: tuple[Spec[ClaimState, ClaimEvent], ...] = (
    _Spec(E.SUBMIT, (S.DRAFT,), S.SUBMITTED, (_submission_rules,), (_record_submission,)),
    _Spec(E.START_ASSESSMENT, (S.SUBMITTED,), S.IN_ASSESSMENT, effects=(_record_assessor,)),
    _Spec(E.REQUEST_INFO, (S.IN_ASSESSMENT,), S.AWAITING_INFO),
    _Spec(E.PROVIDE_INFO, (S.AWAITING_INFO,), S.IN_ASSESSMENT),
    _Spec(
        E.INFO_TERM_EXPIRED,
        (S.AWAITING_INFO,),
        S.DECISION_PROPOSED,
        (_info_term_rules,),
        (_clear_proposal,),
    ),
    _Spec(E.REQUEST_ADVICE, (S.IN_ASSESSMENT,), S.AWAITING_ADVICE),
    _Spec(E.RECORD_ADVICE, (S.AWAITING_ADVICE,), S.IN_ASSESSMENT),
    _Spec(
        E.PROPOSE_DECISION,
        (S.IN_ASSESSMENT,),
        S.DECISION_PROPOSED,
        (_proposal_rules,),
        (_record_proposal,),
    ),
    _Spec(E.GRANT, (S.DECISION_PROPOSED,), S.GRANTED, (_grant_rules,), (_record_decision,)),
    _Spec(
        E.GRANT_PARTIALLY,
        (S.DECISION_PROPOSED,),
        S.GRANTED,
        (_partial_grant_rules,),
        (_record_decision,),
    ),
    _Spec(E.REFUSE, (S.DECISION_PROPOSED,), S.REFUSED, (_refusal_rules,), (_record_decision,)),
    _Spec(
        E.DECLARE_NOT_CONSIDERED,
        (S.DECISION_PROPOSED,),
        S.NOT_CONSIDERED,
        effects=(_record_decision,),
    ),
    _Spec(E.SEND_BACK, (S.DECISION_PROPOSED,), S.IN_ASSESSMENT, effects=(_clear_proposal,)),
    _Spec(E.START_PAYMENT, (S.GRANTED,), S.IN_PAYMENT),
    # Settled once everything granted is paid and booked, or once finance closed what is
    # left: a granted claim on which nothing was ever paid is settled by that closure.
    _Spec(E.SETTLE, (S.GRANTED, S.IN_PAYMENT), S.SETTLED),
    # The bank sent a payout of a settled claim back: it is paid again, so the claim is
    # in payment again until that payout is booked.
    _Spec(E.REOPEN_PAYMENT, (S.SETTLED,), S.IN_PAYMENT),
    # An objection against the refusal or the not-considered decision was upheld: that
    # decision is revoked, and the claim is assessed and decided again.
    _Spec(
        E.REOPEN_AFTER_OBJECTION,
        (S.REFUSED, S.NOT_CONSIDERED),
        S.IN_ASSESSMENT,
        effects=(_reopen,),
    ),
    _Spec(
        E.WITHDRAW,
        (S.DRAFT, S.SUBMITTED, S.IN_ASSESSMENT, S.AWAITING_INFO, S.AWAITING_ADVICE),
        S.WITHDRAWN,
    ),
    _Spec(
        E.RETENTION_EXPIRED,
        (S.SETTLED, S.REFUSED, S.WITHDRAWN, S.NOT_CONSIDERED),
        S.ARCHIVED,
        (_retention_rules,),
    ),
)

# Archived is the end: no event leaves it (it appears as no transition's source).
_FINAL_STATES = frozenset({S.ARCHIVED})


WORKFLOW: Workflow[ClaimState, ClaimEvent] = Workflow(
    "claim",
    states=ClaimState,
    events=ClaimEvent,
    initial=S.DRAFT,
    specs=_SPECS,
    authorisation=_authorisation,
    recorded=RECORDED_ATTRIBUTES,
    context_type=ClaimContext,
    final=_FINAL_STATES,
)
_MACHINE = WORKFLOW.machine


# --- Public API ---------------------------------------------------------------------------


def fire(
    claim: ClaimLike,
    event: ClaimEvent | str,
    *,
    actor: Actor,
    context: ClaimContext | None = None,
) -> TransitionRecord[ClaimState, ClaimEvent]:
    """Fire an event on a claim by an actor; return what changed, or raise.

    Raises `UnknownEvent` for a name that is no claim event, `InvalidTransition` when the
    current state does not allow the event, `RuleViolation` when a rule forbids it, and
    `MissingEventData` when the event needs a context and got none. On any exception the
    claim is unchanged, except that a state held as a plain string ("draft") may have
    been replaced by its equal `ClaimState` member.
    """
    return WORKFLOW.fire(claim, event, actor=actor, context=context)


def allowed_events(state: ClaimState | str) -> frozenset[ClaimEvent]:
    """Return the events the state allows, by anyone (the rules decide who and whether)."""
    return WORKFLOW.allowed_events(state)


def events_for(claim: OfferableClaim, actor: Actor) -> frozenset[ClaimEvent]:
    """The events this actor may fire on the claim now, by the machine's own authorisation
    (role, own claim or not, four eyes) and the preconditions read from the claim (regime
    B's proposal needs the advice); never a system event for a person. The other rules
    (budget, amounts, ...) still decide when it is fired."""
    permitted = set()
    for event in WORKFLOW.allowed_events(claim.state):
        precondition = _PRECONDITIONS.get(event)
        if precondition is not None and not precondition(claim):
            continue
        try:
            _authorisation(event)(claim, actor, None)
        except RuleViolation:
            continue
        permitted.add(event)
    return frozenset(permitted)


def transition_table() -> tuple[tuple[ClaimState, ClaimEvent, ClaimState], ...]:
    """Return every (source, event, destination), read from the machine itself."""
    return WORKFLOW.transition_table()


def to_mermaid() -> str:
    """Render the machine as a Mermaid stateDiagram-v2, so the documentation cannot drift."""
    return WORKFLOW.to_mermaid()
