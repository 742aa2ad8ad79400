"""Job pages: start a job, then watch its progress and result as it happens."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal, format_timedelta
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from housing.audit.jobs import AUDIT_VERIFY
from housing.db import db
from housing.errors import NotFound
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobService
from housing.roles import Role
from housing.web.access import current_scope, login_required, role_required

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

STATUS_LABELS = {
    JobStatus.QUEUED: _l("Waiting to start"),
    JobStatus.RUNNING: _l("Running"),
    JobStatus.SUCCEEDED: _l("Finished"),
    JobStatus.FAILED: _l("Failed"),
}


def _visible(job_id: int) -> tuple[Job, JobService]:
    service = JobService(db.session)
    try:
        return service.get(current_scope(), job_id), service
    except NotFound:
        abort(404)


def _render(template: str, job_id: int) -> ResponseReturnValue:
    job, service = _visible(job_id)
    return render_template(
        template,
        job=job,
        progress=service.progress(job),
        kind=service.kind_of(job),
        status_labels=STATUS_LABELS,
        format_number=format_decimal,
        format_timedelta=format_timedelta,
    )


# Any role may own a job (finance will run batches); the scope decides which ones it sees.
@bp.route("/<int:job_id>")
@login_required
def show(job_id: int) -> ResponseReturnValue:
    return _render("jobs/show.html", job_id)


@bp.route("/<int:job_id>/status")
@login_required
def status(job_id: int) -> ResponseReturnValue:
    """The status block alone, polled by htmx until the job has finished."""
    return _render("jobs/_status.html", job_id)


@bp.route("/audit-verify", methods=["POST"])
@role_required(Role.AUDITOR)
def start_audit_verify() -> ResponseReturnValue:
    job = JobService(db.session).start(current_scope(), current_user, AUDIT_VERIFY)
    return redirect(url_for("jobs.show", job_id=job.id), code=303)
