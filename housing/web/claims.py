"""Claim pages: the assessor's inbox by deadline, and a claim with its timeline."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from housing import services
from housing.accounts.models import User
from housing.claims.decided import decided, decisions_of
from housing.claims.drafting import LineInput, ScanInput
from housing.claims.handling import assessor_names, history_for
from housing.claims.information import MAX_ANSWER_FILES, Attachment, information_thread
from housing.claims.letters import letter_being_prepared
from housing.claims.models import Claim, Document, DocumentKind, PkvwStatus
from housing.claims.permissions import (
    is_own_claim,
    may_extend,
    may_record_scan,
    may_see_draft,
    may_see_information_requests,
    may_see_scan,
    upload_kinds,
)
from housing.claims.queries import loaded_claim
from housing.clock import today as amsterdam_today
from housing.dates import EVIDENCE_FROM, parse_day
from housing.db import db
from housing.deadlines.services import atw_calendar
from housing.downloads import attachment
from housing.inputs import accepts_upload
from housing.money import read_amount
from housing.notifications.queries import NoticeInbox
from housing.organisations.catalogue import offered_measures
from housing.organisations.models import Home, MeasureCatalogue
from housing.permissions import actor_for
from housing.roles import Role
from housing.web.access import current_scope, record_claim_view, role_required
from housing.web.diagrams import claim_diagram, path_of, statement
from housing.web.drafts import require_confirmed_submission
from housing.web.expectations import expected_of_applicant
from housing.web.forms import EVENT_LABELS
from housing.web.formtools import done, refusal_back_to, refusal_shows_again
from housing.web.handling import handling_panel
from housing.web.next_action import CONFIRMED, primary_action
from housing.web.objections import DECISION_KIND_LABELS, objection_panel, objection_queue
from housing.web.payouts import payout_panel
from housing.web.signin import current_acr
from housing.web.step_up import require_recent_authentication, step_up_required
from housing.web.timeline import timeline_of
from workflows import awb
from workflows.claim import DECISION_EVENTS, ClaimEvent, ClaimState, events_for
from workflows.rules import Actor

bp = Blueprint("claims", __name__, url_prefix="/claims")
PER_PAGE = 50
# Claims waiting on the organisation; decided, withdrawn and archived ones leave the inbox.
OPEN_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_INFO,
    ClaimState.AWAITING_ADVICE,
    ClaimState.DECISION_PROPOSED,
)


PKVW_LABELS = {
    PkvwStatus.CERTIFIED.value: _l("Certified (Politiekeurmerk Veilig Wonen)"),
    PkvwStatus.NOT_CERTIFIED.value: _l("Not certified"),
    PkvwStatus.UNKNOWN.value: _l("Unknown"),
}
# The applicant's wizard after choosing the home: each step one page, then the review.
WIZARD_STEPS = ("scan", "measures", "documents", "review")
WIZARD_TITLES = {
    "scan": _l("Scan results"),
    "measures": _l("Measures and amounts"),
    "documents": _l("Quotes and documents"),
    "review": _l("Review and submit"),
}


def clock_of(claim: Claim, today: dt.date) -> awb.ClockStatus | None:
    if claim.decision_deadline is None:
        return None
    return awb.clock_status(
        today, claim.decision_deadline, suspended=claim.state == ClaimState.AWAITING_INFO
    )


@bp.route("/inbox")
@role_required(Role.ASSESSOR, Role.DECIDER)
def inbox() -> ResponseReturnValue:
    """Open claims, the nearest decision deadline first; filter by state and regime."""
    state = request.args.get("state") or None
    regime = request.args.get("regime") or None
    if state is not None and state not in {s.value for s in OPEN_STATES}:
        abort(400)
    if regime is not None and regime not in {"A", "B"}:
        abort(400)
    query = current_scope().select(Claim).where(Claim.state.in_([s.value for s in OPEN_STATES]))
    if state:
        query = query.where(Claim.state == state)
    if regime:
        query = query.where(Claim.regime == regime)
    page = db.paginate(
        query.options(selectinload(Claim.office_holder)).order_by(
            Claim.decision_deadline.asc().nulls_last(), Claim.id
        ),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    today = amsterdam_today()
    rows = [(claim, clock_of(claim, today)) for claim in page.items]
    return render_template(
        "claims/inbox.html",
        page=page,
        rows=rows,
        names=assessor_names(db.session, current_scope(), page.items),
        states=OPEN_STATES,
        chosen_state=state,
        chosen_regime=regime,
    )


# What a decider decides: proposals (the assessor's, or the system's not-considered one
# after a lapsed information term); objections are cases of their own (objection_queue).
DECISION_QUEUE_STATES = (ClaimState.DECISION_PROPOSED,)


@bp.route("/decisions")
@role_required(Role.DECIDER)
def decisions() -> ResponseReturnValue:
    """The decider's queue: proposals and objections, the nearest decision deadline first."""
    page = db.paginate(
        current_scope()
        .select(Claim)
        .where(Claim.state.in_([s.value for s in DECISION_QUEUE_STATES]))
        .options(selectinload(Claim.office_holder), selectinload(Claim.lines))
        .order_by(Claim.decision_deadline.asc().nulls_last(), Claim.id),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    proposer_ids = {claim.proposed_by_id for claim in page.items if claim.proposed_by_id}
    proposers = {
        user.id: user.full_name
        for user in db.session.scalars(
            current_scope().select(User).where(User.id.in_(proposer_ids))
        )
    }
    today = amsterdam_today()
    actor = actor_for(db.session, current_user)
    rows = [
        {
            "claim": claim,
            "clock": clock_of(claim, today),
            "proposer": proposers.get(claim.proposed_by_id),
            "requested": sum((line.requested_amount for line in claim.lines), start=0),
            "proposed": sum((line.granted_amount or 0 for line in claim.lines), start=0),
            # Four eyes and no self-decision: shown here, enforced by the workflow.
            "own_claim": is_own_claim(actor, claim),
            "own_proposal": claim.proposed_by_id == current_user.id,
        }
        for claim in page.items
    ]
    return render_template(
        "claims/decisions.html", page=page, rows=rows, objections=objection_queue()
    )


@bp.route("/mine")
@role_required(Role.APPLICANT)
def mine() -> ResponseReturnValue:
    claims = db.session.scalars(
        current_scope().select(Claim).order_by(Claim.id.desc()).limit(PER_PAGE)
    ).all()
    # The homes a claim may be started for (`may_claim_for_home`): those of the office
    # holders this user acts for.
    acts_for = actor_for(db.session, current_user).office_holder_ids
    homes = db.session.scalars(
        current_scope().select(Home).where(Home.office_holder_id.in_(acts_for))
    ).all()
    return render_template("claims/mine.html", claims=claims, homes=homes)


@bp.route("/<int:claim_id>")
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)
def show(claim_id: int) -> ResponseReturnValue:
    return _claim_page(claim_id)


def _claim_page(claim_id: int) -> ResponseReturnValue:
    """The claim page; after a refused form on it, with what was typed and the messages
    (`refusal_shows_again`)."""
    claim = loaded_claim(db.session, current_scope(), claim_id, Claim.office_holder)
    actor = actor_for(db.session, current_user)
    if claim.state == ClaimState.DRAFT and may_see_draft(actor, claim):
        return redirect(url_for("claims.wizard", claim_id=claim.id, step=WIZARD_STEPS[0]))
    history = history_for(db.session, actor, claim)
    record_claim_view(claim)
    # Opening the claim is acting on its notices: the reader has the news they announced.
    NoticeInbox(db.session).mark_claim_read(current_scope(), claim.id)
    today = amsterdam_today()
    requested = sum((line.requested_amount for line in claim.lines), start=0)
    expected = (
        expected_of_applicant(db.session, claim, today).text if is_own_claim(actor, claim) else None
    )
    actions = _actions_for(actor, claim)
    # The answer has a form of its own, under its question.
    offered = [event for event in actions if event is not ClaimEvent.PROVIDE_INFO]
    primary = primary_action(claim, offered)
    decisions = decisions_of(db.session, [claim])[claim.id]
    thread = (
        information_thread(db.session, claim.id)
        if may_see_information_requests(actor, claim)
        else []
    )
    # The path comes from the history read above: the diagram costs no query.
    path = path_of(history)
    page = render_template(
        "claims/show.html",
        diagram=claim_diagram(claim.state, path),
        process_statement=statement(claim.state, path),
        claim=claim,
        show_scan=may_see_scan(actor, claim),
        can_record_scan=may_record_scan(actor, claim) is None,
        pkvw_labels=PKVW_LABELS,
        late=services.late_decisions(db.session).late_decision(claim, current_user),
        history=timeline_of(db.session, claim, history),
        clock=clock_of(claim, today),
        decided=decided(claim, decisions, lambda: atw_calendar(db.session)),
        decision_labels=DECISION_KIND_LABELS,
        requested=requested,
        primary=primary,
        others=[event for event in offered if event is not primary],
        confirmed=CONFIRMED,
        thread=thread,
        asked_in={e.request.request_event_id: e for e in thread if e.request.request_event_id},
        answered_in={e.request.answer_event_id: e for e in thread if e.request.answer_event_id},
        may_answer=ClaimEvent.PROVIDE_INFO in actions,
        max_answer_files=MAX_ANSWER_FILES,
        expected=expected,
        upload_kinds=_upload_kinds(actor, claim),
        can_extend=may_extend(actor, claim) is None,
        documents=db.session.scalars(
            select(Document).where(Document.claim_id == claim.id).order_by(Document.id)
        ).all(),
        payouts=payout_panel(claim),
        objections=objection_panel(claim),
        letter_being_prepared=letter_being_prepared(db.session, claim.id),
        handling=handling_panel(claim),
    )
    return page


@bp.route("/<int:claim_id>/information", methods=["POST"])
@accepts_upload("DOCUMENT_MAX_BYTES", files=MAX_ANSWER_FILES)
@role_required(Role.APPLICANT)
def answer_information(claim_id: int) -> ResponseReturnValue:
    """The applicant's answer to the open information request, with its files."""
    refusal_shows_again(lambda: _claim_page(claim_id))
    attachments = [
        Attachment(filename=sent.filename or "", data=sent.read())
        for sent in request.files.getlist("files")
        # A file input left empty is sent as a part without a name.
        if sent.filename
    ]
    services.workflow(db.session).answer_information_request(
        current_scope(),
        current_user,
        claim_id,
        answer=request.form.get("answer", ""),
        attachments=attachments,
    )
    return done(_("Your answer has been sent."), url_for("claims.show", claim_id=claim_id))


def _upload_kinds(actor: Actor, claim: Claim) -> list[str]:
    return sorted(kind.value for kind in upload_kinds(actor, claim))


def _actions_for(actor: Actor, claim: Claim) -> list[ClaimEvent]:
    """The events this user may fire now, as the API lists them (`events_for`); the
    service still checks every other rule."""
    return sorted(events_for(claim, actor), key=list(ClaimEvent).index)


def _event_details(event: ClaimEvent, claim_id: int) -> dict[str, object]:
    form = request.form
    if event is ClaimEvent.REQUEST_INFO:
        return {"question": form.get("question", ""), "term_days": form.get("term_days") or None}
    if event is ClaimEvent.RECORD_ADVICE:
        return {
            "reference": form.get("reference", ""),
            "advice_date": form.get("advice_date", ""),
            "advised_measures": form.getlist("advised_measures"),
            "contents": form.get("contents", ""),
        }
    if event is ClaimEvent.PROPOSE_DECISION:
        granted = {
            key.removeprefix("granted-"): read_amount(value, "granted")
            for key, value in form.items()
            if key.startswith("granted-")
        }
        reasons = {
            key.removeprefix("reason-"): value
            for key, value in form.items()
            if key.startswith("reason-") and value.strip()
        }
        return {"granted": granted, "line_reasons": reasons}
    return {}


@bp.route("/<int:claim_id>/documents/<int:document_id>")
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)
def download(claim_id: int, document_id: int) -> ResponseReturnValue:
    # The access log entry of this download is saved with the request.
    document, data = services.drafting(db.session).read_document(
        current_scope(), current_user, claim_id, document_id, request_id=g.get("request_id")
    )
    return attachment(data, mimetype=document.content_type, filename=document.filename)


def _back(claim_id: int) -> str:
    """Where a form returns to: the wizard step it came from, or the claim page."""
    step = request.form.get("wizard_step")
    if step in WIZARD_STEPS:
        return url_for("claims.wizard", claim_id=claim_id, step=step)
    return url_for("claims.show", claim_id=claim_id)


def _form_page(claim_id: int, step: str | None = None) -> ResponseReturnValue:
    """The page a form was sent from, drawn again: its wizard step (`step` when the form
    lives on one step only), or the claim page."""
    step = request.form.get("wizard_step") or step
    if step in WIZARD_STEPS:
        return _wizard_page(claim_id, step)
    return _claim_page(claim_id)


def _done(message: str, claim_id: int) -> ResponseReturnValue:
    return done(message, _back(claim_id))


@bp.route("/<int:claim_id>/documents", methods=["POST"])
@accepts_upload("DOCUMENT_MAX_BYTES")
@role_required(Role.APPLICANT, Role.ASSESSOR)
def upload(claim_id: int) -> ResponseReturnValue:
    sent = request.files.get("file")
    refusal_shows_again(lambda: _form_page(claim_id))
    services.drafting(db.session).upload(
        current_scope(),
        current_user,
        claim_id,
        kind=request.form.get("kind", ""),
        filename=sent.filename or "" if sent else "",
        data=sent.read() if sent else b"",
    )
    return _done(_("The document has been added."), claim_id)


@bp.route("/<int:claim_id>/extension", methods=["POST"])
@role_required(Role.ASSESSOR, Role.DECIDER)
def extend(claim_id: int) -> ResponseReturnValue:
    refusal_shows_again(lambda: _form_page(claim_id))
    new_deadline = parse_day(request.form.get("new_deadline", ""), "new_deadline")
    services.workflow(db.session).notify_extension(
        current_scope(),
        current_user,
        claim_id,
        new_deadline=new_deadline,
        reason=request.form.get("reason", ""),
    )
    return _done(_("The extension notice has been sent."), claim_id)


@bp.route("/<int:claim_id>/events", methods=["POST"])
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
def fire_event(claim_id: int) -> ResponseReturnValue:
    try:
        event = ClaimEvent(request.form.get("event", ""))
    except ValueError:
        abort(400)
    if event in DECISION_EVENTS:
        require_recent_authentication()
    refusal_shows_again(lambda: _event_page(claim_id, event))
    if event is ClaimEvent.SUBMIT and request.form.get("wizard_step") == "review":
        refusal_shows_again(lambda: _wizard_page(claim_id, "review"))
        require_confirmed_submission(claim_id)
    services.workflow(db.session).fire(
        current_scope(),
        current_user,
        claim_id,
        event.value,
        reason=request.form.get("reason") or None,
        details=_event_details(event, claim_id),
        acr=current_acr(),
    )
    message = _("Done: %(event)s.", event=str(EVENT_LABELS[event]))
    if event is ClaimEvent.SUBMIT and request.form.get("wizard_step") == "review":
        return done(message, url_for("drafts.submitted", claim_id=claim_id))
    return _done(message, claim_id)


@bp.route("/<int:claim_id>/events/<event>/confirm")
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
def confirm_event(claim_id: int, event: str) -> ResponseReturnValue:
    """What an act that cannot be undone will do, with its reasons field and the form that
    does it: the claim page's button for such an act leads here, not to the act."""
    try:
        chosen = ClaimEvent(event)
    except ValueError:
        abort(404)
    if chosen not in CONFIRMED:
        abort(404)
    claim = loaded_claim(db.session, current_scope(), claim_id, Claim.office_holder)
    if chosen not in _actions_for(actor_for(db.session, current_user), claim):
        # Done already, or no longer possible: the claim page says where it stands.
        return redirect(url_for("claims.show", claim_id=claim.id), code=303)
    return _confirm_page(claim, chosen)


def _confirm_page(claim: Claim, event: ClaimEvent) -> ResponseReturnValue:
    return render_template(
        "claims/confirm.html", claim=claim, event=event, consequence=CONFIRMED[event]
    )


def _event_page(claim_id: int, event: ClaimEvent) -> ResponseReturnValue:
    """The page a refused event's form was on, drawn again: an act that is confirmed first
    comes from its confirmation page (while it is still possible), others from the page
    they were sent from."""
    if event in CONFIRMED and not request.form.get("wizard_step"):
        claim = loaded_claim(db.session, current_scope(), claim_id, Claim.office_holder)
        if event in _actions_for(actor_for(db.session, current_user), claim):
            return _confirm_page(claim, event)
    return _form_page(claim_id)


@bp.route("/<int:claim_id>/lines", methods=["POST"])
@role_required(Role.APPLICANT)
def add_line(claim_id: int) -> ResponseReturnValue:
    form = request.form
    refusal_shows_again(lambda: _form_page(claim_id, "measures"))
    services.drafting(db.session).add_line(
        current_scope(),
        current_user,
        claim_id,
        LineInput(
            catalogue_code=form.get("catalogue_code", ""),
            description=form.get("description", ""),
            requested_amount=read_amount(form.get("requested_amount"), "requested_amount"),
            vat_amount=read_amount(form.get("vat_amount"), "vat_amount"),
            supplier_name=form.get("supplier_name") or None,
        ),
    )
    return _done(_("The measure has been added."), claim_id)


@bp.route("/<int:claim_id>/wizard/<step>")
@role_required(Role.APPLICANT)
def wizard(claim_id: int, step: str) -> ResponseReturnValue:
    """The applicant's draft, one step at a time: scan, measures, documents, review."""
    if step not in WIZARD_STEPS:
        abort(404)
    return _wizard_page(claim_id, step)


def _wizard_page(claim_id: int, step: str) -> ResponseReturnValue:
    claim = db.session.scalars(
        current_scope()
        .select(Claim)
        .where(Claim.id == claim_id)
        .options(selectinload(Claim.lines), selectinload(Claim.home))
    ).one_or_none()
    actor = actor_for(db.session, current_user)
    if claim is None or not may_see_draft(actor, claim):
        abort(404)
    if claim.state != ClaimState.DRAFT:
        return redirect(url_for("claims.show", claim_id=claim.id))
    record_claim_view(claim)
    catalogue = db.session.scalars(
        offered_measures(claim.organisation_id, claim.regime).order_by(MeasureCatalogue.name)
    ).all()
    documents = db.session.scalars(
        select(Document).where(Document.claim_id == claim.id).order_by(Document.id)
    ).all()
    index = WIZARD_STEPS.index(step)
    # A step is done when what it asks for is there; the review is done by submitting.
    done_steps = {
        name
        for name, there in (
            ("scan", claim.scan is not None),
            ("measures", bool(claim.lines)),
            ("documents", any(d.kind is DocumentKind.QUOTE for d in documents)),
        )
        if there
    }
    return render_template(
        "claims/wizard.html",
        claim=claim,
        step=step,
        steps=[(name, WIZARD_TITLES[name]) for name in WIZARD_STEPS],
        step_number=index + 1,
        done_steps=done_steps,
        previous_step=WIZARD_STEPS[index - 1] if index else None,
        next_step=WIZARD_STEPS[index + 1] if index + 1 < len(WIZARD_STEPS) else None,
        catalogue=catalogue,
        documents=documents,
        upload_kinds=_upload_kinds(actor, claim),
        requested=sum((line.requested_amount for line in claim.lines), start=0),
        checklist=services.drafting(db.session).submission_checklist(claim, documents),
        pkvw_labels=PKVW_LABELS,
        today=amsterdam_today(),
        expected=expected_of_applicant(db.session, claim, amsterdam_today()).text,
    )


@bp.route("/<int:claim_id>/scan", methods=["POST"])
@role_required(Role.APPLICANT, Role.ASSESSOR)
def record_scan(claim_id: int) -> ResponseReturnValue:
    form = request.form
    refusal_shows_again(lambda: _form_page(claim_id))
    services.drafting(db.session).record_scan(
        current_scope(),
        current_user,
        claim_id,
        ScanInput(
            adviser_name=form.get("adviser_name", ""),
            scan_date=form.get("scan_date", ""),
            pkvw_status=form.get("pkvw_status", ""),
            findings=form.get("findings", ""),
        ),
    )
    message = _("The scan results have been saved.")
    if form.get("next") and form.get("wizard_step") == "scan":
        # "Save and continue": saved, on to the next step.
        return done(message, url_for("claims.wizard", claim_id=claim_id, step="measures"))
    return _done(message, claim_id)


@bp.route("/<int:claim_id>/default-notice", methods=["POST"])
@role_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
def default_notice(claim_id: int) -> ResponseReturnValue:
    refusal_shows_again(lambda: _claim_page(claim_id))
    received_on = None
    if request.form.get("received_on"):
        received_on = parse_day(request.form["received_on"], "received_on", earliest=EVIDENCE_FROM)
    services.late_decisions(db.session).record_default_notice(
        current_scope(), current_user, claim_id, received_on=received_on
    )
    return _done(_("The notice of default has been recorded."), claim_id)


@bp.route("/<int:claim_id>/penalty", methods=["POST"])
@role_required(Role.DECIDER)
@step_up_required()
def fix_penalty(claim_id: int) -> ResponseReturnValue:
    refusal_back_to(url_for("claims.show", claim_id=claim_id))
    services.late_decisions(db.session).decide_penalty(current_scope(), current_user, claim_id)
    return _done(_("The penalty has been fixed; the letter is being prepared."), claim_id)
