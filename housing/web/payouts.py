"""Payout requests from the claim page: the applicant's receipts under regime A, the
assessor's supplier invoices under regime B (issue 5 §1, §7)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from housing.claims.models import Claim, Document, DocumentKind
from housing.claims.queries import loaded_claim
from housing.db import db
from housing.money import money_text
from housing.payments.models import PayoutKind, RemainderClosure
from housing.payments.permissions import may_close_remainder
from housing.payments.queries import (
    PAYOUT_CLAIM_STATES,
    claim_payouts,
    mask_iban,
    offered_payout_kind,
    unpaid_by_line,
)
from housing.payments.services import PAYABLE_CLAIM_STATES, PayoutInput, PayoutService
from housing.permissions import actor_for
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.confirm import Confirmation, confirmation_page
from housing.web.formtools import done, refusal_on_form, refusal_shows_again
from housing.web.payment_forms import BATCH_STATE_LABELS, PAYOUT_STATE_LABELS, PayoutForm

bp = Blueprint("payouts", __name__, url_prefix="/claims")


@bp.record_once
def _labels(state: Any) -> None:
    # The claim page and the finance pages name payout and batch states alike.
    state.app.jinja_env.globals.update(
        PAYOUT_STATE_LABELS=PAYOUT_STATE_LABELS,
        BATCH_STATE_LABELS=BATCH_STATE_LABELS,
        mask_iban=mask_iban,
    )


def payout_panel(claim: Claim) -> dict[str, Any] | None:
    """What the claim page shows of payouts: each line's unpaid grant, the payouts, and
    whether this user may send one in. None before the claim is granted."""
    payouts = claim_payouts(db.session, current_scope(), claim.id)
    if claim.state not in PAYOUT_CLAIM_STATES and not payouts:
        return None
    lines = {line.id: line for line in claim.lines}
    closure = db.session.get(RemainderClosure, claim.id)
    return {
        "unpaid": unpaid_by_line(db.session, claim),
        "payouts": [(payout, lines.get(payout.measure_line_id)) for payout in payouts],
        # Nothing more is requested once finance closed what was left.
        "kind": None if closure else offered_payout_kind(claim, current_user),
        "closure": closure,
        # Offered to finance; the service checks it again (and the payouts under way).
        "may_close": closure is None
        and claim.state in PAYABLE_CLAIM_STATES
        and may_close_remainder(actor_for(db.session, current_user), claim) is None,
    }


def _claim_or_404(claim_id: int) -> Claim:
    return loaded_claim(db.session, current_scope(), claim_id, Claim.office_holder)


def _form(claim: Claim, kind: PayoutKind) -> PayoutForm:
    form = PayoutForm()
    unpaid = unpaid_by_line(db.session, claim)
    form.measure_line_id.choices = [
        (
            line.id,
            _(
                "%(measure)s (granted, not yet paid: %(amount)s)",
                measure=line.description,
                amount=money_text(unpaid[line.id]),
            ),
        )
        for line in claim.lines
        if (line.granted_amount or 0) > 0
    ]
    invoices = db.session.scalars(
        select(Document)
        .where(Document.claim_id == claim.id, Document.kind == DocumentKind.INVOICE)
        .order_by(Document.id)
    ).all()
    form.document_id.choices = [(0, _("(none)"))] + [(d.id, d.filename) for d in invoices]
    if kind is PayoutKind.REIMBURSEMENT:
        # Regime A: the office holder paid and is repaid to their own account.
        form.invoice_number.label.text = _l("Receipt or invoice number")
        form.invoice_date.label.text = _l("Date of the receipt")
        form.document_id.label.text = _l("The receipt")
        if request.method == "GET" and not form.payee_name.data:
            form.payee_name.data = claim.office_holder.full_name
    return form


@bp.route("/<int:claim_id>/payouts/new", methods=["GET", "POST"])
@role_required(Role.APPLICANT, Role.ASSESSOR)
def new(claim_id: int) -> ResponseReturnValue:
    """Send in a receipt or record an invoice; a refusal is shown on the form, unsaved."""
    claim = _claim_or_404(claim_id)
    kind = offered_payout_kind(claim, current_user)
    if kind is None:
        flash(
            _(
                "Under regime A the applicant sends in receipts; under regime B the"
                " assessor records the supplier's invoices."
            ),
            "error",
        )
        return redirect(url_for("claims.show", claim_id=claim.id), code=303)
    form = _form(claim, kind)

    def page() -> ResponseReturnValue:
        return render_template("payouts/new.html", claim=claim, form=form, kind=kind)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        PayoutService(db.session).request(
            current_scope(),
            current_user,
            claim.id,
            PayoutInput(
                measure_line_id=form.measure_line_id.data,
                payee_name=form.payee_name.data,
                payee_iban=form.payee_iban.data,
                payee_bic=form.payee_bic.data or None,
                amount=form.amount.data,
                vat_amount=form.vat_amount.data,
                invoice_number=form.invoice_number.data,
                invoice_date=form.invoice_date.data,
                document_id=form.document_id.data or None,
            ),
        )
        flash(
            _("The receipt has been sent in; finance checks it.")
            if kind is PayoutKind.REIMBURSEMENT
            else _("The invoice has been recorded; finance checks it."),
            "success",
        )
        return redirect(url_for("claims.show", claim_id=claim.id), code=303)
    return page()


@bp.route("/<int:claim_id>/payouts/close")
@role_required(Role.FINANCE)
def confirm_close_remainder(claim_id: int) -> ResponseReturnValue:
    """What closing the remainder does, with its reason field: the claim page's button
    leads here, not to the act, for it cannot be undone."""
    claim = _claim_or_404(claim_id)
    panel = payout_panel(claim)
    if panel is None or not panel["may_close"]:
        # Closed already, or not possible: the claim page says where it stands.
        return redirect(url_for("claims.show", claim_id=claim.id), code=303)
    return _close_page(claim, panel["unpaid"])


def _close_page(claim: Claim, unpaid: dict[int, Any]) -> ResponseReturnValue:
    return confirmation_page(
        Confirmation(
            title=_("Close what is left"),
            pre_heading=_("Claim %(number)s", number=claim.number)
            + f" — {claim.office_holder.full_name}",
            facts=[
                (
                    line.description,
                    _(
                        "%(granted)s granted, of which %(left)s not covered by a payout",
                        granted=money_text(line.granted_amount),
                        left=money_text(unpaid[line.id]),
                    ),
                )
                for line in claim.lines
            ],
            consequence=_(
                "Nothing more is paid on this grant and nothing more can be requested; what"
                " no payout stands for goes back to the budget. This cannot be undone."
            ),
            action=url_for("payouts.close_remainder", claim_id=claim.id),
            endpoint="payouts.close_remainder",
            fields={"reason": _("Reason (why the rest is not paid)")},
            back=url_for("claims.show", claim_id=claim.id),
            back_label=_("No, back to the claim"),
        )
    )


@bp.route("/<int:claim_id>/payouts/close", methods=["POST"])
@role_required(Role.FINANCE)
def close_remainder(claim_id: int) -> ResponseReturnValue:
    """Finance closes what is left of the grant, with a reason (audited)."""
    claim = _claim_or_404(claim_id)
    refusal_shows_again(lambda: _close_page(claim, unpaid_by_line(db.session, claim)))
    PayoutService(db.session).close_remainder(
        current_scope(), current_user, claim.id, reason=request.form.get("reason")
    )
    back = url_for("claims.show", claim_id=claim.id)
    return done(_("What was left of the grant is closed: nothing more is paid."), back)
