"""API v1: claims, their measure lines, events, history and deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask import Response, g, url_for
from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import lazyload
from werkzeug.datastructures import FileStorage

from housing import services
from housing.api.auth import api_scope, api_user, token_required
from housing.api.blueprint import BODY_ID, Blueprint, link, linked, one_of_by_event
from housing.api.paging import CURSOR_PAGE_HEADERS, count_of, cursor_page_headers
from housing.api.schemas import (
    CatalogueItemSchema,
    ClaimCreateSchema,
    ClaimDetailSchema,
    ClaimEventSchema,
    ClaimListSchema,
    ClaimSchema,
    DefaultNoticeInSchema,
    DefaultNoticeSchema,
    DocumentSchema,
    DocumentUploadFileSchema,
    DocumentUploadFormSchema,
    HomeSchema,
    MeasureLineInSchema,
    MeasureLineSchema,
    PenaltyDecisionSchema,
    ScanInSchema,
    ScanSchema,
    claim_event_bodies,
)
from housing.claims.decided import decided, decisions_of
from housing.claims.drafting import LineInput, ScanInput
from housing.claims.handling import readable_history
from housing.claims.letters import awaits_letter
from housing.claims.models import Claim, Decision, Document, MeasureLine
from housing.claims.permissions import UPLOADABLE
from housing.claims.queries import ClaimPage, by_deadline, claim_detail, loaded_claim
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.deadlines.services import atw_calendar, awb_terms
from housing.downloads import attachment
from housing.ids import MAX_ID
from housing.inputs import accepts_upload
from housing.organisations.catalogue import offered_measures
from housing.organisations.models import Home, MeasureCatalogue, OfficeHolder, Organisation
from housing.roles import Role
from workflows import awb
from workflows.atw import AtwCalendar
from workflows.awb import AwbTerms
from workflows.claim import ClaimState, events_for

blp = Blueprint("api_claims", __name__, url_prefix="/api/v1", description="Claims")
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
CLAIM_ROLES = (Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE)
# The clock of a claim decided, and of one withdrawn or archived without a decision.
DECIDED, STOPPED = "decided", "stopped"
STOPPED_STATES = (ClaimState.WITHDRAWN, ClaimState.ARCHIVED)


# The form's `kind` and the file travel in one multipart body.
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": sorted(k.value for k in UPLOADABLE)},
                    "file": {"type": "string", "format": "binary"},
                },
                "required": ["kind", "file"],
                "additionalProperties": False,
            }
        }
    },
}


def _calendar() -> AtwCalendar:
    """The Atw calendar, read once per request: from the rules this process keeps when the
    request read the organisation's rules version along with its claim, else read now."""
    if "atw_calendar" not in g:
        known = g.get("rules_version")
        g.atw_calendar = (
            services.rules_cache().rules(db.session, *known).calendar
            if known is not None
            else atw_calendar(db.session)
        )
    calendar: AtwCalendar = g.atw_calendar
    return calendar


def _decisions(claims: Sequence[Claim]) -> dict[int, list[Decision]]:
    return decisions_of(db.session, claims)


def _terms(organisation_id: int) -> AwbTerms:
    """An organisation's Awb terms, read once per request (a list of claims has one)."""
    known: dict[int, AwbTerms] = g.setdefault("awb_terms", {})
    if organisation_id not in known:
        organisation = db.session.get(
            Organisation, organisation_id, options=[lazyload(Organisation.eligible_offices)]
        )
        assert organisation is not None  # a claim's organisation
        known[organisation_id] = awb_terms(organisation)
    return known[organisation_id]


def _deadline(claim: Claim, today: dt.date, decisions: Sequence[Decision]) -> dict[str, object]:
    done = decided(claim, decisions, _calendar, lambda: _terms(claim.organisation_id))
    if done is not None:
        # The term ended with the decision: no days left, and the objection term runs.
        return {
            "decision_deadline": claim.decision_deadline,
            "days_left": None,
            "clock": DECIDED,
            "decided_on": done.decided_on,
            "objection_deadline": done.objection_deadline,
        }
    if claim.decision_deadline is None or claim.state in STOPPED_STATES:
        clock = STOPPED if claim.state in STOPPED_STATES else None
        return {"decision_deadline": claim.decision_deadline, "days_left": None, "clock": clock}
    status = awb.clock_status(
        today, claim.decision_deadline, suspended=claim.state == ClaimState.AWAITING_INFO
    )
    return {
        "decision_deadline": claim.decision_deadline,
        "days_left": status.days_left,
        "clock": status.state.value,
    }


def _letter(claim: Claim, decisions: Sequence[Decision]) -> dict[str, object] | None:
    """The latest decision's letter: its document once laid out, until then being prepared."""
    if not decisions:
        return None
    decision = decisions[-1]
    document_id = decision.letter_document_id
    return {
        "decision_id": decision.id,
        "kind": str(decision.kind),
        "being_prepared": document_id is None,
        "document_id": document_id,
        "href": url_for("api_claims.ClaimDocument", claim_id=claim.id, document_id=document_id)
        if document_id is not None
        else None,
    }


# The answer's fields a claim holds as they are (the schema's, read once: building a
# schema per claim cost a list of claims most of its time).
CLAIM_ATTRIBUTES = tuple(name for name in ClaimSchema().fields if hasattr(Claim, name))


def _dump(
    claim: Claim, today: dt.date, decisions: Sequence[Decision] | None = None
) -> dict[str, object]:
    if decisions is None:
        decisions = _decisions([claim])[claim.id]
    return {
        **{name: getattr(claim, name) for name in CLAIM_ATTRIBUTES},
        "state": str(claim.state),
        "regime": claim.regime.value if claim.regime else None,
        "deadline": _deadline(claim, today, decisions),
        "lines": claim.lines,
        "decision_letter": _letter(claim, decisions),
    }


def _loaded(claim_id: int) -> Claim:
    return loaded_claim(db.session, api_scope(), claim_id)


# From a new claim to what is done with it next.
CLAIM_LINKS = linked(
    201,
    GetClaim=link("get", "/claims/{claim_id}", claim_id=BODY_ID),
    AddLine=link("post", "/claims/{claim_id}/lines", claim_id=BODY_ID),
    FireEvent=link("post", "/claims/{claim_id}/events", claim_id=BODY_ID),
    GetDocuments=link("get", "/claims/{claim_id}/documents", claim_id=BODY_ID),
    UploadDocument=link("post", "/claims/{claim_id}/documents", claim_id=BODY_ID),
    GetPayouts=link("get", "/claims/{claim_id}/payouts", claim_id=BODY_ID),
)


@blp.route("/claims")
class Claims(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY)
    @blp.arguments(ClaimListSchema, location="query")
    @blp.response(200, ClaimSchema(many=True), headers=CURSOR_PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> tuple[list[dict[str, object]], dict[str, str]]:
        """Claims you may see, nearest decision deadline first; the `Link` header names the
        next page. The whole list is counted only when asked (`count=true`)."""
        query = api_scope().select(Claim)
        filters = {name: args[name] for name in ("state", "regime") if name in args}
        if "state" in filters:
            query = query.where(Claim.state == filters["state"])
        if "regime" in filters:
            query = query.where(Claim.regime == filters["regime"])
        page_size, after = args["page_size"], args.get("after")
        # Past every row, and past any offset PostgreSQL takes.
        found = (
            by_deadline(
                db.session, query, page_size, after=after, skip=(args["page"] - 1) * page_size
            )
            if args["page"] <= MAX_ID
            else ClaimPage([], None)
        )
        next_url = (
            url_for(
                "api_claims.Claims", **filters, page_size=page_size, after=str(found.next_after)
            )
            if found.next_after is not None
            else None
        )
        headers = cursor_page_headers(
            page=args["page"] if after is None else None,
            page_size=page_size,
            total=count_of(query) if args["count"] else None,
            next_url=next_url,
        )
        today = amsterdam_today()
        decisions = _decisions(found.claims)
        return [_dump(c, today, decisions[c.id]) for c in found.claims], headers

    @token_required(Role.APPLICANT)
    @blp.doc(security=SECURITY)
    @blp.doc(**CLAIM_LINKS)
    @blp.arguments(ClaimCreateSchema)
    @blp.response(201, ClaimSchema)
    def post(self, data: dict[str, Any]) -> dict[str, object]:
        """Start a draft claim for one of your homes."""
        service = services.drafting(db.session)
        claim = service.create_draft(api_scope(), api_user(), home_id=data["home_id"])
        return _dump(claim, service.today())


@blp.route("/claims/<int:claim_id>")
class ClaimItem(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY)
    @blp.response(200, ClaimDetailSchema)
    def get(self, claim_id: int) -> dict[str, object]:
        """One claim with its history and deadline; the read is logged."""
        user = api_user()
        detail = claim_detail(
            db.session, api_scope(), user, claim_id, request_id=g.get("request_id")
        )
        claim, actor, decisions = detail.claim, detail.actor, detail.decisions
        # The calendar, if needed, as this process keeps it at the version read along.
        g.rules_version = (claim.organisation_id, detail.rules_version)
        service = services.late_decisions(db.session)
        late = service.late_decision(claim, user, detail.late_facts, _calendar)
        return {
            **_dump(claim, service.today(), decisions),
            "allowed_events": sorted(e.value for e in events_for(claim, actor)),
            "letter_being_prepared": awaits_letter(decisions),
            "history": readable_history(actor, claim, detail.timeline),
            "late_decision": {
                "notice_received_on": late.notice_received_on,
                "penalty_starts_on": late.penalty.starts_on if late.penalty else None,
                "penalty_days": late.penalty.days if late.penalty else None,
                "penalty_amount": late.penalty.amount if late.penalty else None,
                "penalty_fixed_amount": late.fixed_amount,
            },
        }


@blp.route("/homes")
class Homes(MethodView):
    @token_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
    @blp.doc(security=SECURITY)
    @blp.doc(
        **linked(
            200,
            StartClaim=link("post", "/claims", request_body={"home_id": "$response.body#/0/id"}),
        )
    )
    @blp.response(200, HomeSchema(many=True))
    def get(self) -> Sequence[Home]:
        """The homes you may see: an applicant their own, to start a claim for one."""
        return db.session.scalars(
            api_scope().select(Home).join(OfficeHolder).order_by(OfficeHolder.id, Home.id)
        ).all()


@blp.route("/claims/<int:claim_id>/catalogue")
class ClaimCatalogue(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY)
    @blp.response(200, CatalogueItemSchema(many=True))
    def get(self, claim_id: int) -> Sequence[MeasureCatalogue]:
        """The measures this claim can request: its organisation's, under its regime."""
        claim = _loaded(claim_id)
        return db.session.scalars(
            offered_measures(claim.organisation_id, claim.regime).order_by(MeasureCatalogue.code)
        ).all()


@blp.route("/claims/<int:claim_id>/lines")
class ClaimLines(MethodView):
    @token_required(Role.APPLICANT)
    @blp.doc(security=SECURITY)
    @blp.arguments(MeasureLineInSchema)
    @blp.response(201, MeasureLineSchema)
    def post(self, data: dict[str, Any], claim_id: int) -> MeasureLine:
        """Add a requested measure to a draft claim."""
        line: MeasureLine = services.drafting(db.session).add_line(
            api_scope(), api_user(), claim_id, LineInput(**data)
        )
        return line


@blp.route("/claims/<int:claim_id>/events")
class ClaimEvents(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY, requestBody=one_of_by_event(claim_event_bodies()))
    @blp.arguments(ClaimEventSchema)
    @blp.response(200, ClaimSchema)
    @blp.alt_response(409, description="The event is not possible in the claim's state.")
    def post(self, data: dict[str, Any], claim_id: int) -> dict[str, object]:
        """Fire a workflow event, e.g. {"event": "submit"}; one transaction with its audit."""
        service = services.workflow(db.session)
        claim = service.fire(
            api_scope(),
            api_user(),
            claim_id,
            data["event"],
            reason=data["reason"],
            details=data["details"],
        )
        # From what the event loaded with its lock: the claim, its lines, its decisions.
        return _dump(claim, service.today(), service.decisions(claim))


@blp.route("/claims/<int:claim_id>/documents")
class ClaimDocuments(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY)
    @blp.response(200, DocumentSchema(many=True))
    def get(self, claim_id: int) -> Sequence[Document]:
        """The documents of a claim (their metadata; the bytes one by one)."""
        claim = _loaded(claim_id)
        return db.session.scalars(
            select(Document).where(Document.claim_id == claim.id).order_by(Document.id)
        ).all()

    @accepts_upload("DOCUMENT_MAX_BYTES")
    @token_required(Role.APPLICANT, Role.ASSESSOR)
    @blp.doc(security=SECURITY, requestBody=UPLOAD_BODY)
    @blp.doc(
        **linked(
            201,
            GetDocument=link(
                "get",
                "/claims/{claim_id}/documents/{document_id}",
                claim_id="$request.path.claim_id",
                document_id=BODY_ID,
            ),
        )
    )
    @blp.arguments(DocumentUploadFormSchema, location="form")
    @blp.arguments(DocumentUploadFileSchema, location="files")
    @blp.response(201, DocumentSchema)
    def post(self, form: dict[str, Any], files: dict[str, FileStorage], claim_id: int) -> Document:
        """Add a PDF, JPEG or PNG (checked by content) to a claim."""
        sent = files["file"]
        document = services.drafting(db.session).upload(
            api_scope(),
            api_user(),
            claim_id,
            kind=form["kind"],
            filename=sent.filename or "",
            data=sent.read(),
        )
        return document


@blp.route("/claims/<int:claim_id>/documents/<int:document_id>")
class ClaimDocument(MethodView):
    @token_required(*CLAIM_ROLES)
    @blp.doc(security=SECURITY)
    @blp.response(200, description="The document's bytes.")
    def get(self, claim_id: int, document_id: int) -> Response:
        """Download a document you may read; the download is logged."""
        document, data = services.drafting(db.session).read_document(
            api_scope(), api_user(), claim_id, document_id, request_id=g.get("request_id")
        )
        return attachment(data, mimetype=document.content_type, filename=document.filename)


@blp.route("/claims/<int:claim_id>/scan")
class ClaimScan(MethodView):
    @token_required(Role.APPLICANT, Role.ASSESSOR)
    @blp.doc(security=SECURITY)
    @blp.arguments(ScanInSchema)
    @blp.response(200, ScanSchema)
    def put(self, data: dict[str, Any], claim_id: int) -> dict[str, object]:
        """Record the woningscan: the applicant in a draft, the assessor during assessment."""
        scan = services.drafting(db.session).record_scan(
            api_scope(), api_user(), claim_id, ScanInput(**data)
        )
        return {
            "adviser_name": scan.adviser_name,
            "scan_date": scan.scan_date,
            "pkvw_status": scan.pkvw_status.value,
        }


@blp.route("/claims/<int:claim_id>/default-notice")
class ClaimDefaultNotice(MethodView):
    @token_required(Role.APPLICANT, Role.ASSESSOR, Role.DECIDER)
    @blp.doc(security=SECURITY)
    @blp.arguments(DefaultNoticeInSchema)
    @blp.response(201, DefaultNoticeSchema)
    @blp.alt_response(409, description="Already recorded, or the claim is no longer open.")
    def post(self, data: dict[str, Any], claim_id: int) -> dict[str, object]:
        """Give (applicant) or record (staff) a notice of default for a late decision."""
        service = services.late_decisions(db.session)
        notice = service.record_default_notice(
            api_scope(), api_user(), claim_id, received_on=data["received_on"]
        )
        status = service.penalty_status(_loaded(claim_id))
        return {
            "received_on": notice.received_on,
            "penalty_starts_on": status.starts_on if status else None,
        }


@blp.route("/claims/<int:claim_id>/penalty")
class ClaimPenalty(MethodView):
    @token_required(Role.DECIDER)
    @blp.doc(security=SECURITY)
    @blp.response(201, PenaltyDecisionSchema)
    @blp.alt_response(409, description="No notice, still running, or already fixed.")
    def post(self, claim_id: int) -> dict[str, object]:
        """Fix the penalty for a late decision by decision (art. 4:18 Awb), with its letter."""
        service = services.late_decisions(db.session)
        decision = service.decide_penalty(api_scope(), api_user(), claim_id)
        status = service.penalty_status(_loaded(claim_id))
        return {
            "decision_id": decision.id,
            "penalty_amount": decision.penalty_amount,
            "days": status.days if status else 0,
            "sent_on": decision.sent_on,
            "letter_document_id": decision.letter_document_id,
        }
