"""The applicant's drafts: one per home, started or continued; deleted after asking;
submitted, with a confirmation page and the acknowledgement of receipt."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from housing import services
from housing.claims.letters import archival_pdf
from housing.claims.models import Claim, Document
from housing.claims.permissions import may_see_draft
from housing.db import db
from housing.downloads import attachment
from housing.errors import InvalidInput
from housing.ids import read_id
from housing.organisations.letterhead import logo_data_uri
from housing.permissions import actor_for
from housing.roles import Role
from housing.web.access import current_scope, record_claim_view, role_required
from housing.web.formtools import done, refusal_back_to
from workflows.claim import ClaimEvent, ClaimState

bp = Blueprint("drafts", __name__, url_prefix="/claims")
FIRST_STEP = "scan"


@bp.route("/new", methods=["POST"])
@role_required(Role.APPLICANT)
def new() -> ResponseReturnValue:
    refusal_back_to(url_for("claims.mine"))
    home_id = read_id(request.form.get("home_id")) or 0
    # One draft per home: the applicant's draft for it is continued, not a second one made.
    started = db.session.scalars(
        current_scope()
        .select(Claim)
        .where(
            Claim.home_id == home_id,
            Claim.filed_by_id == current_user.id,
            Claim.state == ClaimState.DRAFT,
        )
        .order_by(Claim.id)
        .limit(1)
    ).first()
    if started is not None:
        flash(
            _("You already have a draft claim for this home (%(number)s): continue it here.",
              number=started.number),
            "info",
        )  # fmt: skip
        return redirect(url_for("claims.wizard", claim_id=started.id, step=FIRST_STEP), 303)
    claim = services.drafting(db.session).create_draft(
        current_scope(), current_user, home_id=home_id
    )
    return redirect(url_for("claims.wizard", claim_id=claim.id, step=FIRST_STEP), code=303)


@bp.route("/<int:claim_id>/discard", methods=["GET", "POST"])
@role_required(Role.APPLICANT)
def discard(claim_id: int) -> ResponseReturnValue:
    """Deleting a draft, asked first on a page of its own (works without JavaScript).

    A draft is not removed: it is withdrawn (the workflow's `withdraw` event), so its
    number, its audit events and the hash chain stay whole.
    """
    claim = _own_draft(claim_id)
    if claim.state != ClaimState.DRAFT:
        return redirect(url_for("claims.show", claim_id=claim.id))
    if request.method == "GET":
        return render_template("claims/discard.html", claim=claim)
    refusal_back_to(url_for("drafts.discard", claim_id=claim_id))
    services.workflow(db.session).fire(
        current_scope(), current_user, claim_id, ClaimEvent.WITHDRAW.value, reason=None
    )
    return done(_("The draft claim %(number)s has been deleted.", number=claim.number),
                url_for("claims.mine"))  # fmt: skip


def _own_draft(claim_id: int) -> Claim:
    """The applicant's own claim (the draft it was), else the 404 page."""
    claim = current_scope().get(db.session, Claim, claim_id)
    if claim is None or not may_see_draft(actor_for(db.session, current_user), claim):
        abort(404)
    return claim


def open_advice(claim_id: int) -> list[str]:
    """What the review advises but the draft lacks (a quote, the scan): the applicant may
    submit without it, having said so. Required items are the workflow's to refuse."""
    claim = current_scope().get(db.session, Claim, claim_id)
    if claim is None:
        return []
    documents = db.session.scalars(select(Document).where(Document.claim_id == claim.id)).all()
    checklist = services.drafting(db.session).submission_checklist(claim, documents)
    return [str(item.label) for item in checklist if not item.done and not item.required]


def require_confirmed_submission(claim_id: int) -> None:
    """A submission from the review with advised items missing needs the applicant's
    confirmation (`confirm_incomplete`); without it the review is shown again, saying why."""
    missing = open_advice(claim_id)
    if missing and not request.form.get("confirm_incomplete"):
        message = _("Not everything is there yet: %(missing)s Submit anyway, or go back.",
                    missing=" ".join(missing))  # fmt: skip
        raise InvalidInput(message, field_errors={"confirm_incomplete": [message]})


def _own_submitted(claim_id: int) -> Claim | None:
    """The applicant's own claim once received (its viewing logged as any claim page's);
    None while it is still a draft."""
    claim = _own_draft(claim_id)
    if claim.state is ClaimState.DRAFT or claim.received_on is None:
        return None
    record_claim_view(claim)
    return claim


@bp.route("/<int:claim_id>/submitted")
@role_required(Role.APPLICANT)
def submitted(claim_id: int) -> ResponseReturnValue:
    """Where submitting leads: the claim number, the decision deadline, the receipt."""
    claim = _own_submitted(claim_id)
    if claim is None:
        return redirect(url_for("claims.wizard", claim_id=claim_id, step="review"))
    return render_template("claims/submitted.html", claim=claim)


@bp.route("/<int:claim_id>/receipt.pdf")
@role_required(Role.APPLICANT)
def receipt(claim_id: int) -> ResponseReturnValue:
    """The acknowledgement of receipt as PDF, drawn from what the claim records."""
    claim = _own_submitted(claim_id)
    if claim is None:
        abort(404)
    organisation = claim.office_holder.organisation
    html = render_template(
        "letters/receipt.html",
        claim=claim,
        organisation=organisation,
        logo=logo_data_uri(organisation.letterhead),
    )
    return attachment(
        archival_pdf(html),
        mimetype="application/pdf",
        filename=f"ontvangstbevestiging-{claim.number}.pdf",
    )
