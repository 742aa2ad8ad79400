"""Forms and labels of the payout and finance pages: format checks here, rules in
`housing.payments.services` (IBAN, amounts, the unpaid grant, one invoice once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from housing.dates import DATE_FORMAT, EVIDENCE_FROM
from housing.inputs import fits
from housing.money import AmountField
from housing.payments.models import Payout
from housing.web.forms import REQUIRED, IsoDateField
from workflows.payments import BatchState, PayoutState

PAYOUT_STATE_LABELS = {
    PayoutState.REQUESTED.value: _l("To be checked"),
    PayoutState.FIRST_APPROVED.value: _l("Awaiting a second approval"),
    PayoutState.APPROVED.value: _l("Approved"),
    PayoutState.BATCHED.value: _l("In a payment batch"),
    PayoutState.SENT.value: _l("Sent to the bank"),
    PayoutState.BOOKED.value: _l("Paid (booked)"),
    PayoutState.RETURNED.value: _l("Returned by the bank"),
    PayoutState.REJECTED.value: _l("Rejected"),
    PayoutState.CANCELLED.value: _l("Cancelled"),
}
BATCH_STATE_LABELS = {
    BatchState.OPEN.value: _l("Open"),
    BatchState.APPROVED.value: _l("Approved"),
    BatchState.RELEASED.value: _l("Released"),
    BatchState.BOOKED.value: _l("Booked"),
    BatchState.CANCELLED.value: _l("Cancelled"),
}


@dataclass(frozen=True)
class Confirmed:
    """An act on a payout or a batch that cannot be undone: its button on the list leads to
    a confirmation page (a GET, no JavaScript) that says this and does it."""

    title: Any  # the page's question ("…?") and its button
    consequence: Any  # what will happen, in one sentence
    reason_label: Any


# By event; a returned payout's cancel is giving up paying it again.
PAYOUT_CONFIRMED = {
    "reject": Confirmed(
        _l("Reject the payout"),
        _l("The payout is rejected and will not be paid; this cannot be undone."),
        _l("Reason for rejecting (shown on the claim page)"),
    ),
    "cancel": Confirmed(
        _l("Cancel the payout"),
        _l("The payout is cancelled and will not be paid; this cannot be undone."),
        _l("Reason for cancelling"),
    ),
}
RETURNED_CANCEL = Confirmed(
    _l("Do not pay again"),
    _l("The payout is cancelled and will not be paid again; this cannot be undone."),
    _l("Why it is not paid again"),
)
BATCH_CONFIRMED = {
    "cancel": Confirmed(
        _l("Cancel the batch"),
        _l("The batch is cancelled and its payouts wait for a next batch; this cannot be undone."),
        _l("Reason for cancelling"),
    ),
}
# A payout or batch event that needs a reason, refused without one: the message at the
# form's reason field (the workflow's own says only "Give a reason.").
REASON_NEEDED = {
    "reject": _l("Give the reason for rejecting the payout."),
    "cancel": _l("Give the reason for cancelling."),
    "correct": _l("Say how the new account was confirmed."),
}


class PayoutForm(FlaskForm):
    """A receipt (regime A) or a supplier invoice (regime B) for one measure line."""

    measure_line_id = SelectField(_l("Measure"), coerce=int, choices=[])
    payee_name = StringField(
        _l("Name of the payee"), validators=[DataRequired(REQUIRED), fits(Payout.payee_name)]
    )
    payee_iban = StringField(
        _l("IBAN of the payee"), validators=[DataRequired(REQUIRED), Length(max=42)]
    )
    payee_bic = StringField(
        _l("BIC"),
        description=_l("Left empty, it is derived from a Dutch IBAN."),
        validators=[Optional(), fits(Payout.payee_bic)],
    )
    amount = AmountField(
        _l("Amount including VAT"),
        description=_l("In euros, such as 1,250.00."),
        validators=[InputRequired(REQUIRED)],
    )
    vat_amount = AmountField(
        _l("Of which VAT"),
        description=_l("In euros, such as 216.94; 0.00 when there is none."),
        validators=[InputRequired(REQUIRED)],
    )
    invoice_number = StringField(
        _l("Invoice number"), validators=[DataRequired(REQUIRED), fits(Payout.invoice_number)]
    )
    invoice_date = IsoDateField(
        _l("Invoice date"), validators=[InputRequired(DATE_FORMAT)], earliest=EVIDENCE_FROM
    )
    document_id = SelectField(
        _l("The invoice document"),
        description=_l("Add the document to the claim first; then choose it here."),
        coerce=int,
        choices=[],
    )


class ApprovalLimitForm(FlaskForm):
    user_id = SelectField(_l("Finance user"), coerce=int, choices=[])
    amount = AmountField(
        _l("Approval limit"),
        description=_l(
            "In euros, such as 2,500.00. Up to this amount one approval suffices; above it a"
            " second finance user approves too. 0.00: every payout needs two."
        ),
        validators=[InputRequired(REQUIRED)],
    )
