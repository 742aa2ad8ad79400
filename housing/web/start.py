"""Each role's start page, where its user lands after logging in."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.jobs import AUDIT_VERIFY
from housing.db import db
from housing.jobs.services import JobService
from housing.organisations.models import OfficeHolder
from housing.payments.queries import finance_summary
from housing.roles import Role
from housing.web.access import current_scope, login_required, public, role_required
from housing.web.auth import start_url_for
from housing.web.jobs import STATUS_LABELS

bp = Blueprint("start", __name__)


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
    holders = db.session.scalars(
        current_scope().select(OfficeHolder).where(OfficeHolder.user_id == current_user.id)
    ).all()
    return render_template("start/applicant.html", holders=holders)


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
    return render_template("start/assessor.html", holder_count=_office_holder_count())


@bp.route("/decider")
@role_required(Role.DECIDER)
def decider() -> ResponseReturnValue:
    return render_template("start/decider.html")


@bp.route("/finance")
@role_required(Role.FINANCE)
def finance() -> ResponseReturnValue:
    return render_template(
        "start/finance.html",
        organisation=current_user.organisation,
        summary=finance_summary(db.session, current_scope()),
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
        "start/admin.html", user_count=user_count, holder_count=_office_holder_count()
    )
