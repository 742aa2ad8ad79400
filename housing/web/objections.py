"""Objections on the claim page: the applicant lodges or withdraws one, a case handler
registers one that came on paper, the decider decides it. One partial template
(claims/_objections.html), fed by `objection_panel`; the service does the rest."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from housing import services
from housing.claims.models import Claim, DecisionKind, Objection
from housing.claims.objections import open_objections
from housing.claims.queries import loaded_claim
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.permissions import actor_for, acts_for_office_holder
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.confirm import Confirmation, confirmation_page
from housing.web.formtools import done, page_at, refusal_shows_again
from housing.web.step_up import step_up_required
from workflows.objection import ObjectionEvent, events_for

bp = Blueprint("objections", __name__, url_prefix="/claims")

OBJECTION_STATE_LABELS = {
    "lodged": _l("Lodged"),
    "in_review": _l("In review"),
    "upheld": _l("Well-founded"),
    "rejected": _l("Unfounded"),
    "inadmissible": _l("Inadmissible"),
    "withdrawn": _l("Withdrawn"),
}
DECISION_KIND_LABELS = {
    DecisionKind.GRANT: _l("Grant"),
    DecisionKind.PARTIAL_GRANT: _l("Partial grant"),
    DecisionKind.REFUSAL: _l("Refusal"),
    DecisionKind.NOT_CONSIDERED: _l("Decision not to consider the claim"),
    DecisionKind.PENALTY: _l("Penalty decision"),
}
# The decider's outcomes, as the service reads them (housing.claims.objections.OUTCOMES).
OUTCOME_LABELS = {
    "rejected": _l("Unfounded: the decision stands"),
    "upheld": _l("Well-founded: the decision is revoked and taken again"),
    "inadmissible": _l("Inadmissible (for instance late without an excuse)"),
}
ACTIONS = {
    "review": ObjectionEvent.START_REVIEW,
    "withdraw": ObjectionEvent.WITHDRAW,
}


def objection_queue() -> list[dict[str, Any]]:
    """The decider's queue of objections still to be decided, the nearest deadline of
    the decision on the objection (art. 7:10 Awb) first."""
    today = amsterdam_today()
    rows = [
        {
            "objection": objection,
            "claim": objection.claim,
            "kind": DECISION_KIND_LABELS.get(objection.decision.kind, objection.decision.kind),
            "state": OBJECTION_STATE_LABELS.get(objection.state.value, objection.state.value),
            "deadline": deadline,
            "days_left": (deadline - today).days,
            # Who prepared the decision objected to does not decide the objection.
            "own_preparation": objection.decision.prepared_by_id == current_user.id,
        }
        for objection, deadline in open_objections(db.session, current_scope())
    ]
    return sorted(rows, key=lambda row: (row["deadline"], row["objection"].id))


def objection_panel(claim: Claim) -> dict[str, Any] | None:
    """What the claim page shows of objections, and which forms this user gets. None
    when there is nothing to show."""
    actor = actor_for(db.session, current_user)
    service = services.objections(db.session)
    objections = service.of_claim(current_scope(), claim.id)
    own = acts_for_office_holder(actor, claim)
    handler = Role.ASSESSOR in actor.roles and not own
    lodgeable = service.objectable(claim) if own or handler else []
    if not objections and not lodgeable:
        return None
    return {
        "objections": [(o, events_for(o, actor)) for o in objections],
        "lodgeable": lodgeable,
        "may_lodge": own and Role.APPLICANT in actor.roles,
        "may_register": handler,
        "states": OBJECTION_STATE_LABELS,
        "kinds": DECISION_KIND_LABELS,
        "outcomes": OUTCOME_LABELS,
        "events": ObjectionEvent,
    }


def _back(claim_id: int) -> str:
    return url_for("claims.show", claim_id=claim_id) + "#objections"


@bp.route("/<int:claim_id>/objections", methods=["POST"])
@role_required(Role.APPLICANT)
def lodge(claim_id: int) -> ResponseReturnValue:
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    services.objections(db.session).lodge(
        current_scope(),
        current_user,
        claim_id,
        decision_id=request.form.get("decision_id", ""),
        grounds=request.form.get("grounds", ""),
    )
    return done(_("Your objection was received."), _back(claim_id))


@bp.route("/<int:claim_id>/objections/paper", methods=["POST"])
@role_required(Role.ASSESSOR)
def register(claim_id: int) -> ResponseReturnValue:
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    services.objections(db.session).register(
        current_scope(),
        current_user,
        claim_id,
        decision_id=request.form.get("decision_id", ""),
        grounds=request.form.get("grounds", ""),
        received_on=request.form.get("received_on", ""),
    )
    return done(_("The objection was registered."), _back(claim_id))


@bp.route("/<int:claim_id>/objections/<int:objection_id>/decide", methods=["POST"])
@role_required(Role.DECIDER)
@step_up_required()
def decide(claim_id: int, objection_id: int) -> ResponseReturnValue:
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    services.objections(db.session).decide(
        current_scope(),
        current_user,
        claim_id,
        objection_id,
        outcome=request.form.get("outcome", ""),
        reasons=request.form.get("reasons", ""),
    )
    return done(_("The objection was decided; the letter is being prepared."), _back(claim_id))


@bp.route("/<int:claim_id>/objections/<int:objection_id>/withdraw")
@role_required(Role.APPLICANT)
def confirm_withdraw(claim_id: int, objection_id: int) -> ResponseReturnValue:
    """What withdrawing the objection does: the claim page's button leads here first."""
    objection = _withdrawable(claim_id, objection_id)
    if objection is None:
        # Decided or withdrawn already: the claim page says where it stands.
        return redirect(_back(claim_id), code=303)
    return _withdraw_page(objection)


def _withdrawable(claim_id: int, objection_id: int) -> Objection | None:
    # The claim first: one the user may not see is a 404, whatever its objections.
    loaded_claim(db.session, current_scope(), claim_id)
    objection = current_scope().get(db.session, Objection, objection_id)
    if objection is None or objection.claim_id != claim_id:
        abort(404)
    actor = actor_for(db.session, current_user)
    return objection if ObjectionEvent.WITHDRAW in events_for(objection, actor) else None


def _withdraw_page(objection: Objection) -> ResponseReturnValue:
    claim = objection.claim
    decision = objection.decision
    return confirmation_page(
        Confirmation(
            title=_("Withdraw the objection"),
            pre_heading=_("Claim %(number)s", number=claim.number),
            facts=[
                (
                    _("Objection against"),
                    f"{DECISION_KIND_LABELS.get(decision.kind, decision.kind.value)}"
                    f" — {format_date(decision.sent_on)}",
                ),
                (_("Received on"), format_date(objection.lodged_on)),
            ],
            consequence=_(
                "Your objection is withdrawn and not decided: the decision stands. This cannot"
                " be undone; within the objection term you may lodge a new objection."
            ),
            action=url_for(
                "objections.act", claim_id=claim.id, objection_id=objection.id, action="withdraw"
            ),
            endpoint="objections.act",
            back=_back(claim.id),
            back_label=_("No, back to the claim"),
        )
    )


@bp.route("/<int:claim_id>/objections/<int:objection_id>/<action>", methods=["POST"])
@role_required(Role.APPLICANT, Role.ASSESSOR)
def act(claim_id: int, objection_id: int, action: str) -> ResponseReturnValue:
    service = services.objections(db.session)
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    if ACTIONS.get(action) is ObjectionEvent.WITHDRAW:
        service.withdraw(current_scope(), current_user, claim_id, objection_id)
        return done(_("The objection was withdrawn."), _back(claim_id))
    if ACTIONS.get(action) is ObjectionEvent.START_REVIEW:
        service.start_review(current_scope(), current_user, claim_id, objection_id)
        return done(_("The objection is in review."), _back(claim_id))
    abort(404)
