"""Groups of claim states, events and decision kinds that the claim use cases share."""

from __future__ import annotations

from housing.claims.models import DecisionKind
from workflows.claim import ClaimEvent, ClaimState

RETENTION_YEARS = 7
# Before the decision: the term can still be extended (art. 4:14).
EXTENDABLE_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_INFO,
    ClaimState.AWAITING_ADVICE,
    ClaimState.DECISION_PROPOSED,
)
# States in which what was granted counts against the home's regime A cap and the budget.
GRANTED_STATES = (ClaimState.GRANTED, ClaimState.IN_PAYMENT, ClaimState.SETTLED)
# The home's regime A cap counts grants for good: an archived claim's grant was paid too.
# (Refused, withdrawn and not-considered claims carry no granted amount into the archive.)
CAP_STATES = (*GRANTED_STATES, ClaimState.ARCHIVED)
# Events after which no proposal stands: its amounts go with it, so nobody can later
# decide on amounts that no second person proposed (four eyes in substance).
PROPOSAL_ENDING_EVENTS = (
    ClaimEvent.SEND_BACK,
    ClaimEvent.INFO_TERM_EXPIRED,
    ClaimEvent.REOPEN_AFTER_OBJECTION,
)
# Events that change what the decision deadline is computed from (art. 4:13-4:15 Awb): the
# receipt, and an information request sent or answered (it holds the clock). Only these
# recompute it; the others leave it as it stands (a decision ends the term instead, and an
# extension notice, which is no event, recomputes it itself).
DEADLINE_EVENTS = frozenset({ClaimEvent.SUBMIT, ClaimEvent.REQUEST_INFO, ClaimEvent.PROVIDE_INFO})
DECISION_KINDS = {
    ClaimEvent.GRANT: DecisionKind.GRANT,
    ClaimEvent.GRANT_PARTIALLY: DecisionKind.PARTIAL_GRANT,
    ClaimEvent.REFUSE: DecisionKind.REFUSAL,
    ClaimEvent.DECLARE_NOT_CONSIDERED: DecisionKind.NOT_CONSIDERED,
}
# Used when the decider gives no reasons of their own; the letter always states some.
# Decisions an objection can be lodged against (not the notices around them).
OBJECTABLE_KINDS = (
    DecisionKind.GRANT,
    DecisionKind.PARTIAL_GRANT,
    DecisionKind.REFUSAL,
    DecisionKind.NOT_CONSIDERED,
    DecisionKind.OBJECTION_DECISION,
)
# The decision on the application itself: it ends the penalty for a late decision.
APPLICATION_DECISION_KINDS = (
    DecisionKind.GRANT,
    DecisionKind.PARTIAL_GRANT,
    DecisionKind.REFUSAL,
    DecisionKind.NOT_CONSIDERED,
)
# Decisions an objection case (housing/claims/objections.py) can be lodged against: every
# decision whose letter shows the objection route. Against a decision on an objection
# the route is an appeal to the court (art. 7:1 and 8:1 Awb), not another objection.
LODGEABLE_KINDS = (
    DecisionKind.GRANT,
    DecisionKind.PARTIAL_GRANT,
    DecisionKind.REFUSAL,
    DecisionKind.NOT_CONSIDERED,
    DecisionKind.PENALTY,
)
