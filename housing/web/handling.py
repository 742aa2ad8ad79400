"""Handling a claim from its page: assign its assessor, and the internal notes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from housing import services
from housing.claims.handling import assessor_names, assessors, notes_of
from housing.claims.models import Claim
from housing.claims.permissions import may_assign, may_handle_internally
from housing.claims.search import UNASSIGNED
from housing.db import db
from housing.ids import read_id
from housing.money import invalid
from housing.permissions import actor_for
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.formtools import done, page_at, refusal_shows_again

bp = Blueprint("handling", __name__, url_prefix="/claims")


def handling_panel(claim: Claim) -> dict[str, Any] | None:
    """What the claim page shows of the case's handling, or None for whoever may not see
    it (the applicant, finance): the assessor, whom it can be assigned to, the notes."""
    actor = actor_for(db.session, current_user)
    if may_handle_internally(actor, claim) is not None:
        return None
    scope = current_scope()
    can_assign = may_assign(actor, claim) is None
    return {
        "assessor": assessor_names(db.session, scope, [claim]).get(claim.assessor_id or 0),
        "assessors": assessors(db.session, scope) if can_assign else [],
        "can_assign": can_assign,
        "unassigned": UNASSIGNED,
        "notes": notes_of(db.session, scope, actor, claim),
    }


@bp.route("/<int:claim_id>/assessor", methods=["POST"])
@role_required(Role.ASSESSOR, Role.DECIDER)
def assign(claim_id: int) -> ResponseReturnValue:
    back = url_for("claims.show", claim_id=claim_id) + "#handling"
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    chosen = request.form.get("assessor_id", "")
    assessor_id = None if chosen == UNASSIGNED else read_id(chosen)
    if chosen != UNASSIGNED and assessor_id is None:
        raise invalid("assessor_id", _("Choose an assessor of your organisation."))
    services.case_handling(db.session).assign(current_scope(), current_user, claim_id, assessor_id)
    if assessor_id is None:
        return done(_("Nobody is assigned to this claim now."), back)
    return done(_("The assessor has been assigned."), back)


@bp.route("/<int:claim_id>/notes", methods=["POST"])
@role_required(Role.ASSESSOR, Role.DECIDER)
def add_note(claim_id: int) -> ResponseReturnValue:
    back = url_for("claims.show", claim_id=claim_id) + "#notes"
    refusal_shows_again(page_at("claims.show", claim_id=claim_id))
    services.case_handling(db.session).add_note(
        current_scope(), current_user, claim_id, request.form.get("text", "")
    )
    return done(_("The note has been added."), back)
