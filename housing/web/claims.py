"""Claim pages: the assessor's inbox by deadline, and a claim with its timeline."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from housing.audit.models import AuditEvent
from housing.audit.services import record_access
from housing.claims.models import Claim
from housing.claims.services import ClaimService
from housing.db import db
from housing.roles import Role
from housing.web.access import current_scope, role_required
from workflows import awb
from workflows.claim import ClaimState

bp = Blueprint("claims", __name__, url_prefix="/claims")
PER_PAGE = 50
# Claims waiting on the organisation; decided, withdrawn and archived ones leave the inbox.
OPEN_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_INFO,
    ClaimState.AWAITING_ADVICE,
    ClaimState.DECISION_PROPOSED,
    ClaimState.OBJECTION,
)


def clock_of(claim: Claim, today):  # type: ignore[no-untyped-def]
    if claim.decision_deadline is None:
        return None
    return awb.clock_status(
        today, claim.decision_deadline, suspended=claim.state == ClaimState.AWAITING_INFO
    )


@bp.route("/inbox")
@role_required(Role.ASSESSOR, Role.DECIDER)
def inbox() -> ResponseReturnValue:
    """Open claims, the nearest decision deadline first; filter by state and regime."""
    state = request.args.get("state") or None
    regime = request.args.get("regime") or None
    if state is not None and state not in {s.value for s in OPEN_STATES}:
        abort(400)
    if regime is not None and regime not in {"A", "B"}:
        abort(400)
    query = current_scope().select(Claim).where(Claim.state.in_([s.value for s in OPEN_STATES]))
    if state:
        query = query.where(Claim.state == state)
    if regime:
        query = query.where(Claim.regime == regime)
    page = db.paginate(
        query.options(selectinload(Claim.office_holder)).order_by(
            Claim.decision_deadline.asc().nulls_last(), Claim.id
        ),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    today = ClaimService(db.session).today()
    rows = [(claim, clock_of(claim, today)) for claim in page.items]
    return render_template(
        "claims/inbox.html",
        page=page,
        rows=rows,
        states=OPEN_STATES,
        chosen_state=state,
        chosen_regime=regime,
    )


@bp.route("/mine")
@role_required(Role.APPLICANT)
def mine() -> ResponseReturnValue:
    claims = db.session.scalars(
        current_scope().select(Claim).order_by(Claim.id.desc()).limit(PER_PAGE)
    ).all()
    return render_template("claims/mine.html", claims=claims)


@bp.route("/<int:claim_id>")
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)
def show(claim_id: int) -> ResponseReturnValue:
    claim = db.session.scalars(
        current_scope()
        .select(Claim)
        .where(Claim.id == claim_id)
        .options(selectinload(Claim.lines), selectinload(Claim.office_holder))
    ).one_or_none()
    if claim is None:
        abort(404)
    history = db.session.scalars(
        select(AuditEvent).where(AuditEvent.claim_id == claim.id).order_by(AuditEvent.sequence)
    ).all()
    record_access(
        db.session,
        organisation_id=claim.organisation_id,
        user_id=current_user.id,
        claim_id=claim.id,
        action="view_claim",
        request_id=g.get("request_id"),
    )
    db.session.commit()
    today = ClaimService(db.session).today()
    requested = sum((line.requested_amount for line in claim.lines), start=0)
    return render_template(
        "claims/show.html",
        claim=claim,
        history=history,
        clock=clock_of(claim, today),
        requested=requested,
    )
