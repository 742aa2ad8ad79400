"""The auditor's pages: the audit trail, the access log, access reviews, exports, the
verification report. Never case contents (housing.oversight)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from housing.audit.jobs import AUDIT_VERIFY
from housing.audit.services import DOWNLOAD, VIEW_CLAIM
from housing.claims.letters import archival_pdf
from housing.db import db
from housing.downloads import attachment
from housing.errors import DomainError, InvalidInput, NotFound
from housing.jobs.models import JobStatus
from housing.jobs.services import JobService
from housing.oversight import exports, queries
from housing.oversight.queries import ACCESS_ACTIONS, LogFilter
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.formtools import refusal_shown_by
from housing.web.step_up import step_up_required

bp = Blueprint("audit", __name__, url_prefix="/audit")

ACCESS_LABELS = {VIEW_CLAIM: _l("Read the claim"), DOWNLOAD: _l("Downloaded a document")}

# The access review is the administrator's work as much as the auditor's (BIO2 5.18).
REVIEWERS = (Role.AUDITOR, Role.ADMIN)


def _errors(error: DomainError) -> dict[str, list[str]]:
    return {name: [str(m) for m in messages] for name, messages in error.field_errors.items()}


def _filter(what: str, choices: list[str] | None) -> tuple[LogFilter, dict[str, list[str]]]:
    try:
        return LogFilter.from_args(request.args, what=what, choices=choices), {}
    except InvalidInput as error:
        return LogFilter(), _errors(error)


# --- the audit trail ------------------------------------------------------------------------
def _trail(errors: dict[str, list[str]] | None = None) -> ResponseReturnValue:
    scope = current_scope()
    events = queries.trail_events(db.session, scope)
    wanted, refused = _filter("event", events)
    errors = {**refused, **(errors or {})}
    page = queries.trail_page(db.session, scope, wanted) if not refused else None
    return (
        render_template(
            "audit/trail.html",
            args=request.args,
            errors=errors,
            page=page,
            filters=wanted.link_args("event"),
            event_options=[(event, event) for event in events],
            people=queries.people(db.session, scope),
        ),
        422 if errors else 200,
    )


@bp.route("/trail")
@role_required(Role.AUDITOR)
def trail() -> ResponseReturnValue:
    """The organisation's audit trail, newest first; the filters stay in the address."""
    return _trail()


# --- the access log -------------------------------------------------------------------------
def _access(errors: dict[str, list[str]] | None = None) -> ResponseReturnValue:
    scope = current_scope()
    wanted, refused = _filter("action", list(ACCESS_ACTIONS))
    errors = {**refused, **(errors or {})}
    page = queries.access_page(db.session, scope, wanted) if not refused else None
    return (
        render_template(
            "audit/access.html",
            args=request.args,
            errors=errors,
            page=page,
            filters=wanted.link_args("action"),
            access_labels=ACCESS_LABELS,
            action_options=[(action, ACCESS_LABELS[action]) for action in ACCESS_ACTIONS],
            people=queries.people(db.session, scope),
        ),
        422 if errors else 200,
    )


@bp.route("/access")
@role_required(Role.AUDITOR)
def access() -> ResponseReturnValue:
    """Who read or downloaded which claim or document, when, in which role."""
    return _access()


# --- access reviews -------------------------------------------------------------------------
@bp.route("/reviews")
@role_required(*REVIEWERS)
def reviews() -> ResponseReturnValue:
    """Every account with its roles, last sign-in and second factor; or the privileged."""
    privileged = request.args.get("list") == exports.PRIVILEGED
    return render_template(
        "audit/reviews.html",
        privileged=privileged,
        rows=queries.access_review(db.session, current_scope(), privileged=privileged),
        privileged_roles=sorted(queries.PRIVILEGED_ROLES),
    )


# --- exports (step-up: the data leaves the system) ------------------------------------------
def _send(which: str, fmt: str, wanted: LogFilter | None) -> Response:
    made = exports.export(db.session, current_scope(), current_user, which, fmt, wanted)
    return attachment(made.body.encode(), mimetype=made.mimetype, filename=made.filename)


def _export_list(
    which: str, fmt: str, what: str, choices: list[str], page: Callable[..., ResponseReturnValue]
) -> ResponseReturnValue:
    # A refusal (a field, too many rows) is shown on the list's page, at its field.
    refusal_shown_by(lambda error: page(_errors(error)))
    wanted = LogFilter.from_args(request.args, what=what, choices=choices)
    return _send(which, fmt, wanted)


@bp.route("/trail.csv", defaults={"fmt": "csv"})
@bp.route("/trail.json", defaults={"fmt": "json"})
@role_required(Role.AUDITOR)
@step_up_required()
def export_trail(fmt: str) -> ResponseReturnValue:
    events = queries.trail_events(db.session, current_scope())
    return _export_list(exports.TRAIL, fmt, "event", events, _trail)


@bp.route("/access.csv", defaults={"fmt": "csv"})
@bp.route("/access.json", defaults={"fmt": "json"})
@role_required(Role.AUDITOR)
@step_up_required()
def export_access(fmt: str) -> ResponseReturnValue:
    return _export_list(exports.ACCESS, fmt, "action", list(ACCESS_ACTIONS), _access)


@bp.route("/reviews.csv", defaults={"fmt": "csv"})
@bp.route("/reviews.json", defaults={"fmt": "json"})
@role_required(*REVIEWERS)
@step_up_required()
def export_review(fmt: str) -> ResponseReturnValue:
    privileged = request.args.get("list") == exports.PRIVILEGED
    return _send(exports.PRIVILEGED if privileged else exports.REVIEW, fmt, None)


# --- the verification report ----------------------------------------------------------------
@bp.route("/verifications/<int:job_id>/report.pdf")
@role_required(Role.AUDITOR)
def verification_report(job_id: int) -> ResponseReturnValue:
    """The verify job's findings as a PDF: organisation, range, head hash, result, time."""
    service = JobService(db.session)
    try:
        job = service.get(current_scope(), job_id)
    except NotFound:
        abort(404)
    if job.kind != AUDIT_VERIFY or job.status is not JobStatus.SUCCEEDED or not job.result:
        abort(404)
    result: dict[str, Any] = job.result
    html = render_template(
        "letters/verification_report.html",
        job=job,
        result=result,
        organisation=current_user.organisation,
        moment=_moment,
        format_number=format_decimal,
    )
    return attachment(
        archival_pdf(html),
        mimetype="application/pdf",
        filename=f"verificatie-auditspoor-{job.id}.pdf",
    )


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
