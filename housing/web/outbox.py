"""Administrators see their organisation's outbox and give dead messages another go.

A message names ids only (its key and topic), so this page shows no case data.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from housing.db import db
from housing.ops.services import OutboxAdmin
from housing.outbox.models import OutboxStatus
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.formtools import done, refusal_back_to

bp = Blueprint("admin_outbox", __name__, url_prefix="/admin/outbox")

STATUS_LABELS = {
    OutboxStatus.PENDING.value: _l("Waiting to be delivered"),
    OutboxStatus.DONE.value: _l("Done"),
    OutboxStatus.DEAD.value: _l("Failed (dead)"),
}


@bp.route("")
@role_required(Role.ADMIN)
def status() -> ResponseReturnValue:
    report = OutboxAdmin(db.session).report(current_scope())
    return render_template("admin/outbox.html", report=report, labels=STATUS_LABELS)


@bp.route("/<int:message_id>/retry", methods=["POST"])
@role_required(Role.ADMIN)
def retry(message_id: int) -> ResponseReturnValue:
    # CSRFProtect has checked the token of this POST before the view runs.
    back = url_for("admin_outbox.status")
    refusal_back_to(back)
    OutboxAdmin(db.session).retry(current_scope(), message_id)
    return done(_("The message will be delivered again within a minute."), back)
