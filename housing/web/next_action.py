"""What the claim page offers first: the one next step of this role in this state, and the
acts that are confirmed on a page of their own before they are done.

The events themselves come from `workflows.claim.events_for` (what may be fired now); this
table only orders them. The first event of a state's row that is offered is the primary
action (a solid button); every other event is secondary, folded under "Other actions".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from flask_babel import lazy_gettext as _l

from housing.claims.models import Claim
from workflows.claim import ClaimEvent, ClaimState

E, S = ClaimEvent, ClaimState

# By state, the next steps in the order they lead. In assessment a proposal leads once it
# can be made (regime A, or B with the advice recorded); otherwise asking for the advice.
# A proposed decision leads to the decision proposed (`_proposed_decision`).
LEADS: Mapping[ClaimState, tuple[ClaimEvent, ...]] = MappingProxyType(
    {
        S.SUBMITTED: (E.START_ASSESSMENT,),
        S.IN_ASSESSMENT: (E.PROPOSE_DECISION, E.REQUEST_ADVICE),
        S.AWAITING_ADVICE: (E.RECORD_ADVICE,),
    }
)

# Acts that cannot be undone from the page: a confirmation page first (no JavaScript).
CONFIRMED: Mapping[ClaimEvent, object] = MappingProxyType(
    {
        E.WITHDRAW: _l(
            "Your claim is withdrawn: it is not handled any further and nothing is paid. "
            "This cannot be undone; to apply again you start a new claim."
        ),
        E.REFUSE: _l(
            "The claim is refused. The applicant receives the decision letter with your "
            "reasons and may lodge an objection against it."
        ),
        E.DECLARE_NOT_CONSIDERED: _l(
            "The claim is not considered (art. 4:5 Awb) because it was not completed in "
            "time. The applicant receives the decision letter with your reasons and may "
            "lodge an objection against it."
        ),
    }
)


def _proposed_decision(claim: Claim) -> ClaimEvent:
    """The decision the proposal asks for: the system's proposal after a lapsed term is
    not to consider the claim; otherwise by the amounts proposed."""
    if claim.proposed_by_id is None:
        return E.DECLARE_NOT_CONSIDERED
    granted = [line.granted_amount or 0 for line in claim.lines]
    if not any(granted):
        return E.REFUSE
    if all((line.granted_amount or 0) >= line.requested_amount for line in claim.lines):
        return E.GRANT
    return E.GRANT_PARTIALLY


def primary_action(claim: Claim, offered: Collection[ClaimEvent]) -> ClaimEvent | None:
    """The one action this user should take next, among those offered; None: no lead."""
    if claim.state == S.DECISION_PROPOSED:
        leads: tuple[ClaimEvent, ...] = (_proposed_decision(claim),)
    else:
        leads = LEADS.get(claim.state, ())
    return next((event for event in leads if event in offered), None)
