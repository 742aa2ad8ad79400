"""Each role's start page, where its user lands after logging in."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from housing.accounts.models import User
from housing.audit.jobs import AUDIT_VERIFY
from housing.claims.figures import Period
from housing.claims.models import Claim
from housing.claims.objections import open_objections
from housing.claims.worklist import ASSESSOR_STATES, DECIDER_STATES, worklist
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.jobs.services import JobService
from housing.organisations.models import OfficeHolder
from housing.payments.queries import finance_summary
from housing.permissions import actor_for
from housing.roles import Role
from housing.web.access import current_scope, login_required, public, role_required
from housing.web.dashboard import figures_for
from housing.web.expectations import expected_of_applicant
from housing.web.jobs import STATUS_LABELS
from housing.web.signin import start_url_for
from workflows.claim import ClaimState

bp = Blueprint("start", __name__)
# The applicant's start page lists their latest claims; "My claims" has the rest.
CLAIMS_SHOWN = 50


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(start_url_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/start")
@login_required
def no_role() -> ResponseReturnValue:
    return render_template("start/no_role.html")


@bp.route("/applicant")
@role_required(Role.APPLICANT)
def applicant() -> ResponseReturnValue:
    """The applicant's own claims, each with what is expected of them and by when."""
    scope = current_scope()
    # Own claims only, also for someone who has a staff role besides: the office holders
    # this user acts for (`actor_for`), within what the scope lets them see.
    acts_for = actor_for(db.session, current_user).office_holder_ids
    holders = db.session.scalars(
        scope.select(OfficeHolder).where(OfficeHolder.id.in_(acts_for)).order_by(OfficeHolder.id)
    ).all()
    claims = db.session.scalars(
        scope.select(Claim)
        .where(Claim.office_holder_id.in_(acts_for), Claim.state != ClaimState.ARCHIVED)
        .options(selectinload(Claim.office_holder).selectinload(OfficeHolder.organisation))
        .order_by(Claim.id.desc())
        .limit(CLAIMS_SHOWN)
    ).all()
    today = amsterdam_today()
    rows = [(claim, expected_of_applicant(db.session, claim, today)) for claim in claims]
    # What asks something of the applicant first, the nearest last day first among those.
    rows.sort(key=lambda row: (not row[1].to_do, row[1].due or dt.date.max))
    return render_template(
        "start/applicant.html",
        holders=holders,
        rows=rows,
        to_do=sum(1 for _, expected in rows if expected.to_do),
    )


def _office_holder_count() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(current_scope().select(OfficeHolder).subquery())
        )
        or 0
    )


@bp.route("/assessor")
@role_required(Role.ASSESSOR)
def assessor() -> ResponseReturnValue:
    return render_template(
        "start/assessor.html",
        holder_count=_office_holder_count(),
        work=worklist(db.session, current_scope(), ASSESSOR_STATES, amsterdam_today()),
        **figures_for(Period()),
    )


@bp.route("/decider")
@role_required(Role.DECIDER)
def decider() -> ResponseReturnValue:
    today = amsterdam_today()
    # Objections are cases of their own, each with its own deadline (art. 7:10 Awb).
    deadlines = [due for _, due in open_objections(db.session, current_scope())]
    return render_template(
        "start/decider.html",
        work=worklist(db.session, current_scope(), DECIDER_STATES, today),
        objections=len(deadlines),
        objections_overdue=sum(1 for due in deadlines if due < today),
        **figures_for(Period()),
    )


@bp.route("/finance")
@role_required(Role.FINANCE)
def finance() -> ResponseReturnValue:
    return render_template(
        "start/finance.html",
        organisation=current_user.organisation,
        summary=finance_summary(db.session, current_scope()),
        **figures_for(Period()),
    )


@bp.route("/auditor")
@role_required(Role.AUDITOR)
def auditor() -> ResponseReturnValue:
    verifications = JobService(db.session).recent(current_scope(), AUDIT_VERIFY)
    return render_template(
        "start/auditor.html", verifications=verifications, status_labels=STATUS_LABELS
    )


@bp.route("/admin")
@role_required(Role.ADMIN)
def admin() -> ResponseReturnValue:
    user_count = db.session.scalar(
        select(func.count()).select_from(current_scope().select(User).subquery())
    )
    return render_template(
        "start/admin.html",
        user_count=user_count,
        holder_count=_office_holder_count(),
        **figures_for(Period()),
    )
