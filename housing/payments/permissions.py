"""Who may do what with payouts, remainders and batches: `may_*(actor, obj) -> Refusal | None`.

Services call `require(may_x(...))`; pages call the same predicates to offer only what the
service will allow. The finance checks of a payout's or a batch's own steps (dual control,
the approver's limit, reasons) are the workflow's rules (`workflows.payments`), not here.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from housing.errors import Forbidden
from housing.payments.models import PayoutKind
from housing.permissions import Refusal, acts_for_office_holder
from housing.roles import Role
from workflows.rules import Actor, ClaimFacts, Regime


def payout_kind_for(actor: Actor, claim: ClaimFacts) -> PayoutKind | None:
    """The kind of payout this actor sends in for the claim, or None if they may not.

    Regime A: the applicant's receipt, repaid to them; regime B: a supplier's invoice,
    recorded by an assessor who is not the office holder (or their clerk).
    """
    own = acts_for_office_holder(actor, claim)
    if claim.regime is Regime.A and own and Role.APPLICANT in actor.roles:
        return PayoutKind.REIMBURSEMENT
    if claim.regime is Regime.B and not own and Role.ASSESSOR in actor.roles:
        return PayoutKind.SUPPLIER
    return None


def may_request_payout(actor: Actor, claim: ClaimFacts) -> Refusal | None:
    if payout_kind_for(actor, claim) is None:
        return Forbidden(
            _l(
                "Under regime A the applicant sends in receipts; under regime B the"
                " assessor records the supplier's invoices."
            )
        )
    return None


def may_close_remainder(actor: Actor, claim: ClaimFacts | None = None) -> Refusal | None:
    """Finance closes what is left of a grant, never of their own claim.

    Without a claim: whether the actor may close remainders at all (asked before the
    claim is looked up, so a refusal does not depend on whether it exists).
    """
    if Role.FINANCE not in actor.roles:
        return Forbidden(_l("Only finance closes what is left of a grant."))
    if claim is not None and acts_for_office_holder(actor, claim):
        return Forbidden(_l("You cannot act on your own claim."))
    return None


def may_build_batch(actor: Actor) -> Refusal | None:
    if Role.FINANCE not in actor.roles:
        return Forbidden(_l("Only finance builds payment batches."))
    return None


def may_set_approval_limits(actor: Actor) -> Refusal | None:
    if Role.ADMIN not in actor.roles:
        return Forbidden(_l("Only an administrator sets approval limits."))
    return None
