"""Finance pages (issue 5 §7): payouts to check, payment batches under dual control, the
CSV export of payouts and the budget against what was paid; and the administrator's page
of approval limits. Thin: each post is one service call in one unit of work."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from housing import services
from housing.dates import parse_day
from housing.db import db
from housing.downloads import attachment
from housing.errors import Conflict, DomainError, InvalidInput
from housing.ids import MAX_ID, read_id
from housing.inputs import accepts_upload
from housing.jobs.services import JobService
from housing.money import invalid, money_text
from housing.payments import queries, statement_queries
from housing.payments.batches import BatchService
from housing.payments.jobs import PAYMENT_BATCH_BUILD
from housing.payments.models import PaymentBatch, Payout, StatementEntry
from housing.payments.services import PayoutService
from housing.payments.statements import STATEMENT_IMPORT, ReviewQueue
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.confirm import Confirmation, confirmation_page
from housing.web.formtools import (
    done,
    refusal_back_to,
    refusal_on_form,
    refusal_shown_by,
    refusal_shows_again,
)
from housing.web.payment_forms import (
    BATCH_CONFIRMED,
    BATCH_STATE_LABELS,
    PAYOUT_CONFIRMED,
    PAYOUT_STATE_LABELS,
    REASON_NEEDED,
    RETURNED_CANCEL,
    ApprovalLimitForm,
)
from housing.web.step_up import require_recent_authentication, step_up_required
from workflows.payments import BATCH, PAYOUT, PayoutState
from workflows.rules import Rule

bp = Blueprint("finance", __name__, url_prefix="/finance")
# The administrator's page lives under /admin, beside the other rules they set.
limits_bp = Blueprint("approval_limits", __name__, url_prefix="/admin")
PER_PAGE = 50
PAYOUT_EVENTS = frozenset({"approve", "reject", "cancel", "correct"})
BATCH_EVENTS = frozenset({"approve", "release", "cancel"})


@dataclass(frozen=True)
class Page:
    """Enough of a pagination for the `pager` macro, over rows fetched with their joins."""

    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def _page(total: int) -> Page:
    number = request.args.get("page", 1, type=int) or 1
    if not 1 <= number <= MAX_ID:  # a page beyond that is past any offset PostgreSQL takes
        abort(404)
    return Page(page=number, per_page=PER_PAGE, total=total)


def _today() -> dt.date:
    return PayoutService(db.session).today()


# --- payouts to check ----------------------------------------------------------------------
@bp.route("/payouts")
@role_required(Role.FINANCE)
def payouts() -> ResponseReturnValue:
    """Requested and first-approved payouts, oldest first; returned ones to correct."""
    return _payouts_page()


def _payouts_page() -> ResponseReturnValue:
    scope = current_scope()
    limit = PayoutService(db.session).limit_of(current_user)
    page = _page(queries.count_to_check(db.session, scope))
    return render_template(
        "finance/payouts.html",
        page=page,
        rows=queries.payouts_to_check(
            db.session, scope, current_user, limit, offset=page.offset, size=page.per_page
        ),
        returned=queries.returned_payouts(db.session, scope, current_user),
        limit=limit,
    )


@bp.route("/payouts/<int:payout_id>/events", methods=["POST"])
@role_required(Role.FINANCE)
def payout_event(payout_id: int) -> ResponseReturnValue:
    event = request.form.get("event", "")
    if event not in PAYOUT_EVENTS:
        abort(400)
    form = request.form
    refusal_shows_again(lambda: _payout_event_page(payout_id, event), rules_at=_reason_at(event))
    payout = PayoutService(db.session).decide(
        current_scope(),
        current_user,
        payout_id,
        event,
        reason=form.get("reason") or None,
        correction={
            "payee_iban": form.get("payee_iban", ""),
            "payee_bic": form.get("payee_bic") or None,
            "payee_name": form.get("payee_name") or None,
        }
        if event == "correct"
        else None,
    )
    if payout.state == PayoutState.FIRST_APPROVED:
        message = _("First approval recorded: a second finance user approves it too.")
    else:
        message = _(
            "Payout %(number)s: %(state)s.",
            number=payout.invoice_number,
            state=PAYOUT_STATE_LABELS[payout.state],
        )
    return done(message, url_for("finance.payouts"))


def _reason_at(event: str) -> dict[str, tuple[str, Any]]:
    """A refusal for want of a reason, at the form's reason field in words of the act."""
    if event not in REASON_NEEDED:
        return {}
    return {str(Rule.REASON_MISSING): ("reason", REASON_NEEDED[event])}


@bp.route("/payouts/<int:payout_id>/confirm/<event>")
@role_required(Role.FINANCE)
def confirm_payout_event(payout_id: int, event: str) -> ResponseReturnValue:
    """What rejecting or cancelling a payout will do, with its reason field and the form
    that does it: the buttons on the payouts page lead here, not to the act."""
    if event not in PAYOUT_CONFIRMED:
        abort(404)
    row = queries.payout_row(db.session, current_scope(), current_user, payout_id)
    if row is None:
        abort(404)
    if event not in PAYOUT.allowed_events(row.payout.state):
        # Done already, or no longer possible: the payouts page says where it stands.
        return redirect(url_for("finance.payouts"), code=303)
    return _confirm_payout_page(row, event)


def _confirm_payout_page(row: queries.PayoutRow, event: str) -> ResponseReturnValue:
    payout = row.payout
    returned = event == "cancel" and payout.state == PayoutState.RETURNED
    invoice = f"{payout.invoice_number} ({format_date(payout.invoice_date)})"
    act = RETURNED_CANCEL if returned else PAYOUT_CONFIRMED[event]
    return confirmation_page(
        Confirmation(
            title=act.title,
            consequence=act.consequence,
            pre_heading=_("Payout to %(payee)s", payee=payout.payee_name),
            facts=[
                (_("Claim"), row.claim_number),
                (_("Payee"), payout.payee_name),
                (_("IBAN"), payout.payee_iban),
                (_("Amount incl. VAT"), money_text(payout.amount)),
                (_("Invoice"), invoice),
                (_("Status"), PAYOUT_STATE_LABELS[payout.state]),
            ],
            action=url_for("finance.payout_event", payout_id=payout.id),
            endpoint="finance.payout_event",
            fields={"reason": act.reason_label},
            hidden={"event": event},
            back=url_for(
                "finance.payouts", _anchor=f"{'returned' if returned else 'payout'}-{payout.id}"
            ),
            back_label=_("No, back to the payouts"),
        )
    )


def _payout_event_page(payout_id: int, event: str) -> ResponseReturnValue:
    """The page a refused payout event's form was on, drawn again: a confirmed act its
    confirmation page (while it is still possible), approve and correct the payouts page."""
    if event in PAYOUT_CONFIRMED:
        row = queries.payout_row(db.session, current_scope(), current_user, payout_id)
        if row is not None and event in PAYOUT.allowed_events(row.payout.state):
            return _confirm_payout_page(row, event)
    return _payouts_page()


# --- payment batches --------------------------------------------------------------------------
@bp.route("/batches")
@role_required(Role.FINANCE)
def batches() -> ResponseReturnValue:
    return _batches_page()


def _batches_page() -> ResponseReturnValue:
    scope = current_scope()
    page = _page(queries.count_batches(db.session, scope))
    return render_template(
        "finance/batches.html",
        page=page,
        rows=queries.batches(db.session, scope, offset=page.offset, size=page.per_page),
        approved=queries.count_approved(db.session, scope),
        today=_today(),
    )


@bp.route("/batches", methods=["POST"])
@role_required(Role.FINANCE)
def build_batch() -> ResponseReturnValue:
    """Start the build as a job and watch it on the job page."""
    refusal_shows_again(_batches_page)
    raw = request.form.get("execution_date", "").strip()
    wanted = parse_day(raw, "execution_date") if raw else None
    scope = current_scope()
    execution_date = queries.check_execution_date(wanted, _today())
    # Nothing to take: say so now rather than on a failed job page.
    if not queries.count_approved(db.session, scope):
        raise Conflict(_("There are no approved payouts to pay."))
    job = JobService(db.session).start(
        scope, current_user, PAYMENT_BATCH_BUILD, {"execution_date": execution_date.isoformat()}
    )
    return redirect(url_for("jobs.show", job_id=job.id), code=303)


def _batch_or_404(batch_id: int) -> queries.BatchRow:
    row = queries.batch(db.session, current_scope(), batch_id)
    if row is None:
        abort(404)
    return row


@bp.route("/batches/<int:batch_id>")
@role_required(Role.FINANCE)
def batch(batch_id: int) -> ResponseReturnValue:
    return _batch_page(batch_id)


def _batch_page(batch_id: int) -> ResponseReturnValue:
    row = _batch_or_404(batch_id)
    return render_template(
        "finance/batch.html",
        row=row,
        batch=row.batch,
        items=queries.batch_items(db.session, row.batch.id),
    )


@bp.route("/batches/<int:batch_id>/events", methods=["POST"])
@role_required(Role.FINANCE)
def batch_event(batch_id: int) -> ResponseReturnValue:
    event = request.form.get("event", "")
    if event not in BATCH_EVENTS:
        abort(400)
    if event == "release":
        require_recent_authentication()
    refusal_shows_again(lambda: _batch_event_page(batch_id, event), rules_at=_reason_at(event))
    if event == "release" and request.form.get("confirm") != "yes":
        # Releasing sends money: the page asks for a deliberate tick, not a stray click.
        _batch_or_404(batch_id)
        raise invalid("confirm", _("Tick the box to confirm that the batch may be paid."))
    batch = BatchService(db.session).fire(
        current_scope(), current_user, batch_id, event, reason=request.form.get("reason")
    )
    return done(_batch_event_done(event, batch), url_for("finance.batch", batch_id=batch_id))


@bp.route("/batches/<int:batch_id>/confirm/<event>")
@role_required(Role.FINANCE)
def confirm_batch_event(batch_id: int, event: str) -> ResponseReturnValue:
    """What cancelling a batch will do, with its reason field and the form that does it."""
    if event not in BATCH_CONFIRMED:
        abort(404)
    row = _batch_or_404(batch_id)
    if event not in BATCH.allowed_events(row.batch.state):
        return redirect(url_for("finance.batch", batch_id=row.batch.id), code=303)
    return _confirm_batch_page(row.batch, event)


def _confirm_batch_page(batch: PaymentBatch, event: str) -> ResponseReturnValue:
    act = BATCH_CONFIRMED[event]
    return confirmation_page(
        Confirmation(
            title=act.title,
            consequence=act.consequence,
            pre_heading=_("Batch %(id)s", id=batch.msg_id),
            facts=[
                (_("Batch"), batch.msg_id),
                (_("Status"), BATCH_STATE_LABELS[batch.state]),
                (_("Payments"), str(batch.item_count)),
                (_("Total"), money_text(batch.total)),
                (_("Execution date"), format_date(batch.execution_date)),
            ],
            action=url_for("finance.batch_event", batch_id=batch.id),
            endpoint="finance.batch_event",
            fields={"reason": act.reason_label},
            hidden={"event": event},
            back=url_for("finance.batch", batch_id=batch.id),
            back_label=_("No, back to the batch"),
        )
    )


def _batch_event_page(batch_id: int, event: str) -> ResponseReturnValue:
    """The page a refused batch event's form was on, drawn again: cancel its confirmation
    page (while it is still possible), approve and release the batch page."""
    if event in BATCH_CONFIRMED:
        row = _batch_or_404(batch_id)
        if event in BATCH.allowed_events(row.batch.state):
            return _confirm_batch_page(row.batch, event)
    return _batch_page(batch_id)


def _batch_event_done(event: str, batch: PaymentBatch) -> str:
    """What finance reads after the event went through."""
    if event == "approve":
        return _("The batch is approved; a second finance user releases it.")
    if event == "release":
        return ngettext(
            "The batch is released: %(num)d payment, %(total)s. Download the payment file"
            " and send it to the bank.",
            "The batch is released: %(num)d payments, %(total)s. Download the payment file"
            " and send it to the bank.",
            batch.item_count,
            total=money_text(batch.total),
        )
    return _("The batch is cancelled; its payouts wait for a next batch.")


@bp.route("/batches/<int:batch_id>/file")
@role_required(Role.FINANCE)
def batch_file(batch_id: int) -> ResponseReturnValue:
    """The frozen pain.001, byte for byte as released."""
    found = current_scope().get(db.session, PaymentBatch, batch_id)
    if found is None:
        abort(404)
    refusal_back_to(url_for("finance.batch", batch_id=found.id))
    # The download's audit event is saved with the request.
    data = BatchService(db.session).file(current_scope(), found.id, user=current_user)
    return attachment(data, mimetype="application/xml", filename=f"{found.msg_id}.xml")


# --- budget and export ------------------------------------------------------------------------
@bp.route("/budget")
@role_required(Role.FINANCE)
def budget() -> ResponseReturnValue:
    today = _today()
    return render_template(
        "finance/budget.html",
        years=queries.budget_overview(db.session, current_scope()),
        period_start=today.replace(month=1, day=1),
        period_end=today,
    )


def _period() -> tuple[dt.date, dt.date] | None:
    today = _today()
    try:
        start = _date_arg("from", today.replace(month=1, day=1))
        end = _date_arg("to", today)
    except InvalidInput:
        return None
    return start, end


def _date_arg(name: str, default: dt.date) -> dt.date:
    raw = request.args.get(name, "").strip()
    return parse_day(raw, name) if raw else default


@bp.route("/payouts.csv")
@role_required(Role.FINANCE)
@step_up_required()
def export_csv() -> ResponseReturnValue:
    """Payouts by invoice date in `?from=&to=` (default: this year so far), as CSV."""
    period = _period()
    if period is None:
        flash(_("Enter a date as yyyy-mm-dd."), "error")
        return redirect(url_for("finance.budget"), code=303)
    start, end = period
    refusal_back_to(url_for("finance.budget"))
    # The audit event of the export is saved with the request.
    rows = queries.export_payouts(
        db.session,
        current_scope(),
        current_user,
        start,
        end,
        state_label=lambda state: str(PAYOUT_STATE_LABELS[state]),
        yes_no=(_("yes"), _("no")),
    )
    buffer = io.StringIO()
    # A byte-order mark, so a spreadsheet reads the names' accents as UTF-8.
    buffer.write("\ufeff")
    csv.writer(buffer).writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="payouts-{start.isoformat()}-{end.isoformat()}.csv"'
            )
        },
    )


# --- bank statements and the review queue ---------------------------------------------------
@bp.route("/statements", methods=["GET", "POST"])
@accepts_upload("STATEMENT_MAX_BYTES")
@role_required(Role.FINANCE)
def statements() -> ResponseReturnValue:
    """Imported statements; the upload starts the import as a job, watched on its page."""
    scope = current_scope()

    def listing(error: DomainError | None = None) -> ResponseReturnValue:
        page = _page(statement_queries.count_statements(db.session, scope))
        return render_template(
            "finance/statements.html",
            page=page,
            rows=statement_queries.statements(
                db.session, scope, offset=page.offset, size=page.per_page
            ),
            error=str(error.message) if error else None,
        ), (422 if error else 200)

    if request.method == "POST":
        refusal_shown_by(listing)
        upload = request.files.get("file")
        data = statement_queries.check_upload(upload.read() if upload else None)
        key = services.statement_uploads().store(data)
        job = JobService(db.session).start(
            scope, current_user, STATEMENT_IMPORT, {"upload_key": key}
        )
        return redirect(url_for("jobs.show", job_id=job.id), code=303)
    return listing()


@bp.route("/review")
@role_required(Role.FINANCE)
def review() -> ResponseReturnValue:
    """Unmatched entries and flagged duplicates, each to match by hand or dismiss."""
    return _review_page()


def _review_page() -> ResponseReturnValue:
    query = statement_queries.review_query(current_scope())
    page = _page(queries.count_of(db.session, query))
    entries = db.session.scalars(
        statement_queries.ordered(query).offset(page.offset).limit(page.per_page)
    ).all()
    review_queue = ReviewQueue(db.session)
    return render_template(
        "finance/review.html",
        page=page,
        rows=[(entry, review_queue.open_amount(entry)) for entry in entries],
    )


@bp.route("/review/<int:entry_id>/match", methods=["POST"])
@role_required(Role.FINANCE)
def review_match(entry_id: int) -> ResponseReturnValue:
    refusal_shows_again(_review_page)
    scope = current_scope()
    if scope.get(db.session, StatementEntry, entry_id) is None:
        abort(404)
    payout_id = read_id(request.form.get("payout_id"))
    if payout_id is None:
        raise invalid("payout_id", _("Enter the number of the payout."))
    # A number typed wrong is a mistake at its field, not a page that is not found.
    if scope.get(db.session, Payout, payout_id) is None:
        raise invalid("payout_id", _("There is no payout with this number."))
    ReviewQueue(db.session).match_by_hand(
        scope, current_user, entry_id, payout_id, request.form.get("reason", "")
    )
    return done(
        _("The entry is matched to payout %(id)s.", id=payout_id), url_for("finance.review")
    )


@bp.route("/review/<int:entry_id>/dismiss", methods=["POST"])
@role_required(Role.FINANCE)
def review_dismiss(entry_id: int) -> ResponseReturnValue:
    refusal_shows_again(_review_page)
    ReviewQueue(db.session).dismiss(
        current_scope(), current_user, entry_id, request.form.get("reason", "")
    )
    return done(_("The entry is dismissed."), url_for("finance.review"))


# --- approval limits (administrator) -------------------------------------------------------
@limits_bp.route("/approval-limits", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def approval_limits() -> ResponseReturnValue:
    users = queries.finance_users(db.session, current_scope())
    form = ApprovalLimitForm()
    form.user_id.choices = [(user.id, user.full_name) for user, _limit in users]

    def page() -> ResponseReturnValue:
        return render_template("admin/approval_limits.html", form=form, users=users)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        limit = PayoutService(db.session).set_limit(
            current_scope(),
            current_user,
            form.user_id.data,
            form.amount.data,
        )
        flash(
            _(
                "The approval limit has been set to %(amount)s.",
                amount=money_text(limit.amount),
            ),
            "success",
        )
        return redirect(url_for("approval_limits.approval_limits"), code=303)
    return page()
