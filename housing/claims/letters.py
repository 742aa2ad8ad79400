"""Decision letters as PDF (WeasyPrint), in Dutch, with the dates the law sets."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import current_app
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select

from housing.accounts.models import Channel
from housing.claims.documents import DocumentStore
from housing.claims.models import (
    Claim,
    Confidentiality,
    Decision,
    DecisionKind,
    DefaultNotice,
    Document,
    DocumentKind,
    Objection,
)
from housing.clock import Clock, utcnow
from housing.config import PROJECT_ROOT
from housing.db import DbSession
from housing.deadlines.services import atw_calendar, awb_terms
from housing.organisations.letterhead import logo_data_uri
from housing.organisations.models import Organisation, OrganisationKind
from housing.outbox.handlers import outbox_handler
from housing.outbox.services import Outbox
from housing.scoping import Scope
from workflows import awb
from workflows.rules import granted_total

# The outbox topic of a decision letter to render (see `request_decision_letter`).
TOPIC = "decision_letter"
MONTHS = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip
# Who decides, and so who hears the objection (DOMAIN.md §3, step 4).
COMPETENT_BODIES = {
    OrganisationKind.GEMEENTE: "het college van burgemeester en wethouders",
    OrganisationKind.PROVINCIE: "Gedeputeerde Staten",
    OrganisationKind.WATERSCHAP: "het dagelijks bestuur",
}
# Who signs: the body itself, "namens dezen" by the person the letterhead names.
SIGNING_BODIES = {
    OrganisationKind.GEMEENTE: "Burgemeester en wethouders van {name}",
    OrganisationKind.PROVINCIE: "Gedeputeerde Staten van {name}",
    OrganisationKind.WATERSCHAP: "Het dagelijks bestuur van {name}",
}
# Stored for archiving: PDF/A-3b embeds the fonts and declares itself in its XMP metadata.
PDF_VARIANT = "pdf/a-3b"
ON_YOUR_CLAIM = "Besluit op uw aanvraag beveiligingsmaatregelen"
SUBJECTS = {
    DecisionKind.GRANT: f"{ON_YOUR_CLAIM}: toekenning",
    DecisionKind.PARTIAL_GRANT: f"{ON_YOUR_CLAIM}: gedeeltelijke toekenning",
    DecisionKind.REFUSAL: f"{ON_YOUR_CLAIM}: afwijzing",
    DecisionKind.NOT_CONSIDERED: f"{ON_YOUR_CLAIM}: buiten behandeling",
    DecisionKind.EXTENSION_NOTICE: "Verdaging van de beslissing op uw aanvraag",
    DecisionKind.OBJECTION_DECISION: "Beslissing op uw bezwaar",
    DecisionKind.PENALTY: "Vaststelling dwangsom",
}


# Our own environment: letters are rendered by services and tasks, with or without Flask.
_LETTERS = Environment(
    # The templates folder, as Flask's: letters/_letterhead.html is shared with the notices.
    loader=FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def long_date(day: dt.date | None) -> str:
    """'5 mei 2026': a letter spells the month out, never a number that can be misread."""
    return "" if day is None else f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def money(amount: Decimal) -> str:
    whole, cents = f"{amount:.2f}".split(".")
    return f"€ {int(whole):,}".replace(",", ".") + f",{cents}"


def render_decision_letter(
    claim: Claim,
    decision: Decision,
    organisation: Organisation,
    *,
    calendar: awb.AtwCalendar,
    terms: awb.AwbTerms,
    penalty: awb.Penalty | None = None,
    notice_received_on: dt.date | None = None,
    by_post: bool = False,
    objection: Objection | None = None,
) -> bytes:
    """The letter as PDF/A; `by_post` puts the home address in the envelope's window.

    The decision on an objection case has its own letter (letters/objection_decision.html):
    the objection, its outcome, and the appeal to the court instead of an objection.
    """
    assert decision.sent_on is not None
    template = "letters/objection_decision.html" if objection else "letters/decision.html"
    html = _LETTERS.get_template(template).render(
        claim=claim,
        objection=objection,
        decision=decision,
        organisation=organisation,
        letterhead=organisation.letterhead,
        logo=logo_data_uri(organisation.letterhead),
        by_post=by_post,
        # The addressee is the office holder, by the full name: no guess at a gender.
        recipient_name=claim.office_holder.full_name,
        home=claim.home,
        subject=SUBJECTS[decision.kind],
        competent_body=COMPETENT_BODIES[organisation.kind],
        signing_body=SIGNING_BODIES[organisation.kind].format(name=organisation.name),
        objection_deadline=awb.objection_deadline(decision.sent_on, calendar=calendar, terms=terms),
        requested_total=sum((line.requested_amount for line in claim.lines), Decimal("0")),
        granted_total=granted_total(claim.lines),
        penalty=penalty,
        notice_received_on=notice_received_on,
        long_date=long_date,
        money=money,
    )
    return archival_pdf(html)


def archival_pdf(html: str) -> bytes:
    """The HTML laid out as PDF/A-3b."""
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB output-intent profile for PDF/A and leaves the file
        # to the garbage collector (weasyprint/pdf/__init__.py); the profile is read in
        # full, so the unclosed-file warning is noise, and only it is silenced.
        warnings.filterwarnings(
            "ignore", message="unclosed file.*sRGB2014", category=ResourceWarning
        )
        # Imported here: WeasyPrint takes most of a second to load, and only laying out a
        # letter needs it (not the app factory, nor a command line call).
        from weasyprint import HTML

        return HTML(string=html).write_pdf(pdf_variant=PDF_VARIANT)


def request_decision_letter(
    session: DbSession,
    claim: Claim,
    decision: Decision,
    *,
    clock: Clock = utcnow,
    penalty: awb.Penalty | None = None,
) -> None:
    """Ask a worker for the decision's letter, after this transaction commits.

    Laying out a PDF takes a while; done inside the decision's transaction, it would hold
    the claim's lock (and a grant's budget lock) that long. Until the letter exists the
    decision's `letter_document_id` is None and the pages say it is being prepared.
    """
    payload: dict[str, Any] = {"decision_id": decision.id}
    if penalty is not None:
        # The penalty as of the decision, which fixed it; the worker does not count again.
        payload["penalty"] = {
            "starts_on": penalty.starts_on.isoformat(),
            "days": penalty.days,
            "amount": str(penalty.amount),
            "capped": penalty.capped,
        }
    Outbox(session, clock).add(
        key=f"{TOPIC}:{decision.id}",
        topic=TOPIC,
        payload=payload,
        organisation_id=claim.organisation_id,
    )


@outbox_handler(TOPIC)
def deliver_decision_letter(
    session: DbSession, message: Any, *, documents: DocumentStore | None = None
) -> None:
    """The outbox handler: render and store the letter the message asks for."""
    # A worker acts on messages inside the app's context: its settings name the store.
    penalty = message.payload.get("penalty")
    write_decision_letter(
        session,
        documents or DocumentStore.from_config(current_app.config),
        int(message.payload["decision_id"]),
        penalty=(
            awb.Penalty(
                starts_on=dt.date.fromisoformat(penalty["starts_on"]),
                days=int(penalty["days"]),
                amount=Decimal(penalty["amount"]),
                capped=bool(penalty["capped"]),
            )
            if penalty is not None
            else None
        ),
    )


def write_decision_letter(
    session: DbSession,
    documents: DocumentStore,
    decision_id: int,
    *,
    penalty: awb.Penalty | None = None,
) -> Document | None:
    """The decision letter as PDF, stored as a document of the claim, once.

    The decision row is locked and its letter looked for first: a retried or repeated
    request finds the letter and makes no second one.
    """
    decision = Scope.system_scope().find_for_update(session, Decision, decision_id)
    if decision is None:
        return None
    if decision.letter_document_id is not None:
        return session.get(Document, decision.letter_document_id)
    claim = session.get_one(Claim, decision.claim_id)
    organisation = claim.office_holder.organisation
    notice = session.scalars(
        select(DefaultNotice).where(DefaultNotice.claim_id == claim.id)
    ).one_or_none()
    by_post = goes_by_post(claim)
    pdf = render_decision_letter(
        claim,
        decision,
        organisation,
        calendar=atw_calendar(session),
        terms=awb_terms(organisation),
        penalty=penalty,
        notice_received_on=(
            notice.received_on if notice and decision.kind is DecisionKind.PENALTY else None
        ),
        by_post=by_post,
        objection=session.scalars(
            select(Objection).where(Objection.outcome_decision_id == decision.id)
        ).one_or_none(),
    )
    letter = documents.add(
        session,
        claim,
        kind=DocumentKind.DECISION_LETTER,
        filename=f"besluit-{claim.number}-{decision.id}.pdf",
        data=pdf,
        uploaded_by_id=None,
        # A letter for the post carries the home address: as the notice letters, it is
        # read only by case handlers and the addressee.
        confidentiality=Confidentiality.SECRET if by_post else Confidentiality.CONFIDENTIAL,
    )
    decision.letter_document_id = letter.id
    session.flush()
    return letter


def goes_by_post(claim: Claim) -> bool:
    """Whether the office holder gets letters on paper: no account, or post chosen."""
    user = claim.office_holder.user
    return user is None or user.channel_preference is Channel.POST


def awaits_letter(decisions: Iterable[Decision]) -> bool:
    """`letter_being_prepared`, over the claim's decisions read already."""
    return any(decision.letter_document_id is None for decision in decisions)


def letter_being_prepared(session: DbSession, claim_id: int) -> bool:
    """Whether a decision of the claim still waits for its letter."""
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Decision)
            .where(Decision.claim_id == claim_id, Decision.letter_document_id.is_(None))
        )
    )
