"""One's own notices in the app, and the print queue of letters for those who chose paper."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from housing import services
from housing.claims.notices import NotificationKind
from housing.db import db
from housing.downloads import attachment
from housing.notifications.queries import NoticeInbox
from housing.notifications.services import PRINT_QUEUE_ROLES
from housing.unit_of_work import read_or_none
from housing.web.access import current_scope, login_required, role_required
from housing.web.formtools import done, refusal_back_to

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
print_bp = Blueprint("print_queue", __name__, url_prefix="/print-queue")
PER_PAGE = 25

NOTICE_KIND_LABELS = {
    NotificationKind.CLAIM_RECEIVED: _l("Acknowledgement of receipt"),
    NotificationKind.INFORMATION_REQUESTED: _l("Request for information"),
    NotificationKind.DECISION_TAKEN: _l("Decision taken"),
    NotificationKind.PAYOUT_SENT: _l("Payment sent"),
    NotificationKind.PAYOUT_RETURNED: _l("Payment returned"),
    NotificationKind.DEADLINE_WARNING: _l("Decision deadline near"),
    NotificationKind.CLAIM_OVERDUE: _l("Decision deadline passed"),
    NotificationKind.OBJECTION_LODGED: _l("Objection lodged"),
    NotificationKind.LATE_OBJECTION_LODGED: _l("Late objection lodged"),
    NotificationKind.SIGN_IN_FAILURE_SPIKE: _l("Many failed sign-ins"),
}


def unread_notice_count() -> int | None:
    """For the header: once per request, and only when a template asks for it."""
    if not current_user.is_authenticated:
        return None
    if "unread_notices" not in g:
        # An error page rendered while the database is away must still render.
        g.unread_notices = read_or_none(
            lambda: NoticeInbox(db.session).unread_count(current_scope())
        )
    return g.unread_notices


@bp.app_context_processor
def _header_globals() -> dict[str, Any]:
    return {"unread_notice_count": unread_notice_count, "NOTICE_KIND_LABELS": NOTICE_KIND_LABELS}


# --- notices -------------------------------------------------------------------------
@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    inbox = NoticeInbox(db.session)
    page = db.paginate(inbox.query(current_scope()), per_page=PER_PAGE, max_per_page=PER_PAGE)
    return render_template(
        "notifications/index.html",
        page=page,
        lines=inbox.lines(current_scope(), page.items),
        unread=inbox.unread_count(current_scope()),
    )


def _back_to_list() -> str:
    # Stay on the page the reader was on; the number comes back through our own form.
    page = request.form.get("page", type=int)
    return url_for("notifications.index", page=page if page and page > 1 else None)


@bp.route("/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int) -> ResponseReturnValue:
    # CSRFProtect has checked the token of this POST before the view runs.
    NoticeInbox(db.session).mark_read(current_scope(), notification_id)
    flash(_("The notification has been marked as read."), "success")
    return redirect(_back_to_list(), code=303)


@bp.route("/read-all", methods=["POST"])
@login_required
def mark_all_read() -> ResponseReturnValue:
    count = NoticeInbox(db.session).mark_all_read(current_scope())
    flash(_("Marked as read: %(n)d.", n=count), "success")
    return redirect(url_for("notifications.index"), code=303)


# --- print queue ---------------------------------------------------------------------
@print_bp.route("")
@role_required(*PRINT_QUEUE_ROLES)
def queue() -> ResponseReturnValue:
    print_queue = services.print_queue(db.session)
    page = db.paginate(
        print_queue.queued(current_scope()), per_page=PER_PAGE, max_per_page=PER_PAGE
    )
    return render_template(
        "print_queue/index.html",
        page=page,
        numbers=print_queue.claim_numbers(current_scope(), page.items),
        printed=print_queue.printed(current_scope()),
    )


@print_bp.route("/<int:item_id>/letter")
@role_required(*PRINT_QUEUE_ROLES)
def letter(item_id: int) -> ResponseReturnValue:
    # The access log entry of this download is saved with the request.
    document, data = services.print_queue(db.session).read_letter(
        current_scope(), current_user, item_id, request_id=g.get("request_id")
    )
    return attachment(data, mimetype=document.content_type, filename=document.filename)


@print_bp.route("/<int:item_id>/printed", methods=["POST"])
@role_required(*PRINT_QUEUE_ROLES)
def mark_printed(item_id: int) -> ResponseReturnValue:
    # CSRFProtect has checked the token of this POST before the view runs.
    back = url_for("print_queue.queue")
    refusal_back_to(back)
    services.print_queue(db.session).mark_printed(current_scope(), item_id)
    return done(_("The letter has been marked printed."), back)
