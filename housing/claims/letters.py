"""Decision letters as PDF (WeasyPrint), in Dutch, with the dates the law sets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import HTML

from housing.claims.documents import DocumentStore
from housing.claims.models import (
    Claim,
    Confidentiality,
    Decision,
    DecisionKind,
    DefaultNotice,
    DocumentKind,
)
from housing.config import PROJECT_ROOT
from housing.db import DbSession
from housing.deadlines.services import atw_calendar, awb_terms
from housing.organisations.models import Organisation, OrganisationKind
from workflows import awb
from workflows.rules import granted_total

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
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "letters"),
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
) -> bytes:
    assert decision.sent_on is not None
    html = _LETTERS.get_template("decision.html").render(
        claim=claim,
        decision=decision,
        organisation=organisation,
        subject=SUBJECTS[decision.kind],
        competent_body=COMPETENT_BODIES[organisation.kind],
        objection_deadline=awb.objection_deadline(decision.sent_on, calendar=calendar, terms=terms),
        requested_total=sum((line.requested_amount for line in claim.lines), Decimal("0")),
        granted_total=granted_total(claim.lines),
        penalty=penalty,
        notice_received_on=notice_received_on,
        long_date=long_date,
        money=money,
    )
    return HTML(string=html).write_pdf()


def write_decision_letter(
    session: DbSession,
    documents: DocumentStore,
    claim: Claim,
    decision: Decision,
    *,
    penalty: awb.Penalty | None = None,
    notice: DefaultNotice | None = None,
) -> None:
    """The decision letter as PDF, stored as a document of the claim."""
    organisation = claim.office_holder.organisation
    pdf = render_decision_letter(
        claim,
        decision,
        organisation,
        calendar=atw_calendar(session),
        terms=awb_terms(organisation),
        penalty=penalty,
        notice_received_on=notice.received_on if notice else None,
    )
    letter = documents.add(
        session,
        claim,
        kind=DocumentKind.DECISION_LETTER,
        filename=f"besluit-{claim.number}-{decision.id}.pdf",
        data=pdf,
        uploaded_by_id=None,
        confidentiality=Confidentiality.CONFIDENTIAL,
    )
    decision.letter_document_id = letter.id
