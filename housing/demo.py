"""Demo data for `make run`: two municipalities, a province, office holders, every role.

Idempotent: each record is looked up by its natural key first, so running the seed
again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from housing.accounts.models import Channel, User
from housing.clock import today as amsterdam_today
from housing.db import DbSession
from housing.organisations.accounts import AccountAdministration
from housing.organisations.letterhead import check_logo
from housing.organisations.models import (
    Home,
    Letterhead,
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.organisations.services import OrganisationService
from housing.roles import Role

DEMO_PASSWORD = "demo-wachtwoord-2026"

ORGANISATIONS = [
    # (slug, kind, name, IBAN)
    ("rivierstad", OrganisationKind.GEMEENTE, "Gemeente Rivierstad", "NL44RABO0123456789"),
    ("duinwijk", OrganisationKind.GEMEENTE, "Gemeente Duinwijk", "NL20INGB0001234567"),
    ("noordland", OrganisationKind.PROVINCIE, "Provincie Noordland", "NL14BNGH0285001234"),
]

# (local part, role, display name); finance twice, for dual control of payment batches.
STAFF = [
    ("aanvrager", Role.APPLICANT, "Aanvrager"),
    ("beoordelaar", Role.ASSESSOR, "Beoordelaar"),
    ("beslisser", Role.DECIDER, "Beslisser"),
    ("financien", Role.FINANCE, "Financiën"),
    ("financien2", Role.FINANCE, "Financiën (tweede)"),
    ("beheerder", Role.ADMIN, "Beheerder"),
    ("auditor", Role.AUDITOR, "Auditor"),
]

# The staff's second factor: a fixed TOTP secret per role, the same in each organisation,
# so that the README can list them. Add one to an authenticator app, or let
# `housing demo code EMAIL` print the current code. Applicants have none (not required).
DEMO_FACTOR_SECRETS = {
    "beoordelaar": "VWDEMOBEOORDELAARVEILIGWONENVEIL",
    "beslisser": "VWDEMOBESLISSERVEILIGWONENVEILIG",
    "financien": "VWDEMOFINANCIENVEILIGWONENVEILIG",
    "financien2": "VWDEMOFINANCIEN2VEILIGWONENVEILI",
    "beheerder": "VWDEMOBEHEERDERVEILIGWONENVEILIG",
    "auditor": "VWDEMOAUDITORVEILIGWONENVEILIGWO",
}

# (organisation slug, name, office, term start, linked applicant?, home)
OFFICE_HOLDERS = [
    (
        "rivierstad",
        "Mr. A. (Anna) de Vries",
        OfficeType.BURGEMEESTER,
        dt.date(2021, 3, 1),
        True,
        ("Kerkstraat", "12", "1234 AB", "Rivierstad"),
    ),
    (
        "rivierstad",
        "B. (Bram) Jansen",
        OfficeType.WETHOUDER,
        dt.date(2022, 6, 1),
        False,
        ("Dijkweg", "3a", "1234 CD", "Rivierstad"),
    ),
    ("rivierstad", "C. (Chantal) Bakker", OfficeType.RAADSLID, dt.date(2022, 3, 30), False, None),
    (
        "duinwijk",
        "D. (Dirk) Visser",
        OfficeType.WETHOUDER,
        dt.date(2022, 6, 1),
        True,
        ("Duinpad", "7", "2345 EF", "Duinwijk"),
    ),
    (
        "noordland",
        "E. (Eva) Smit",
        OfficeType.GEDEPUTEERDE,
        dt.date(2023, 6, 15),
        True,
        ("Provincieweg", "101", "3456 GH", "Noordhaven"),
    ),
]


# (organisation slug, address, postcode, city, phone, e-mail, website, signatory, function,
#  logo colour): so the decision letters of `make run` show a whole letterhead.
LETTERHEADS = [
    (
        "rivierstad",
        "Postbus 100",
        "1230 AA",
        "Rivierstad",
        "14 0123",
        "veiligheid@rivierstad.example",
        "www.rivierstad.example",
        "mr. drs. P. (Pieter) Hoekstra",
        "teamleider Openbare Orde en Veiligheid",
        (0, 94, 140),
    ),
    (
        "duinwijk",
        "Raadhuisplein 1",
        "2340 AB",
        "Duinwijk",
        "14 0234",
        "info@duinwijk.example",
        "www.duinwijk.example",
        "ing. S. (Sanne) Mulder",
        "afdelingshoofd Veiligheid",
        (160, 110, 0),
    ),
    (
        "noordland",
        "Postbus 900",
        "3450 AX",
        "Noordhaven",
        "050 123 45 67",
        "post@noordland.example",
        "www.noordland.example",
        "drs. K. (Karin) Dijkstra",
        "secretaris",
        (20, 110, 60),
    ),
]


@dataclass
class SeedReport:
    created: int = 0
    existing: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)
    # (e-mail address, TOTP secret) of each demo user with a second factor.
    factors: list[tuple[str, str]] = field(default_factory=list)


def demo_email(local: str, slug: str) -> str:
    return f"{local}@{slug}.example"


def demo_factor_secret(email: str) -> str | None:
    """The fixed TOTP secret of a demo staff user's e-mail address; None for any other."""
    local, _, domain = email.strip().lower().partition("@")
    demo_domains = {f"{slug}.example" for slug, *_rest in ORGANISATIONS}
    return DEMO_FACTOR_SECRETS.get(local) if domain in demo_domains else None


def seed(session: DbSession) -> SeedReport:
    report = SeedReport()
    organisations = OrganisationService(session)
    accounts = AccountAdministration(session)
    by_slug: dict[str, Organisation] = {}

    for slug, kind, name, iban in ORGANISATIONS:
        organisation = session.scalars(
            select(Organisation).where(Organisation.name == name)
        ).one_or_none()
        if organisation is None:
            organisation = organisations.create_organisation(kind=kind, name=name, iban=iban)
            report.created += 1
        else:
            report.existing += 1
        by_slug[slug] = organisation

        for local, role, label in STAFF:
            email = demo_email(local, slug)
            report.logins.append((email, role.value))
            user = session.scalars(select(User).where(User.email == email)).one_or_none()
            if user is not None:
                report.existing += 1
            else:
                user = accounts.create_user(
                    organisation=organisation,
                    email=email,
                    full_name=f"{label} {name.split(' ', 1)[1]}",
                    password=DEMO_PASSWORD,
                    roles={role},
                    channel=Channel.ELECTRONIC if role is Role.APPLICANT else Channel.POST,
                )
                report.created += 1
            _seed_factor(accounts, user, DEMO_FACTOR_SECRETS.get(local), report)

    for slug, full_name, office, term_start, linked, address in OFFICE_HOLDERS:
        organisation = by_slug[slug]
        holder = session.scalars(
            select(OfficeHolder).where(
                OfficeHolder.organisation_id == organisation.id,
                OfficeHolder.full_name == full_name,
            )
        ).one_or_none()
        if holder is not None:
            report.existing += 1
            continue
        applicant = None
        if linked:
            applicant = session.scalars(
                select(User).where(User.email == demo_email("aanvrager", slug))
            ).one()
        holder = OfficeHolder(
            organisation=organisation,
            full_name=full_name,
            office_type=office,
            term_start=term_start,
            term_end=None,
            user=applicant,
        )
        session.add(holder)
        if address:
            street, number, postcode, city = address
            session.add(
                Home(
                    office_holder=holder,
                    street=street,
                    house_number=number,
                    postcode=postcode,
                    city=city,
                    is_registered_address=True,
                    moved_in_on=term_start - dt.timedelta(days=400),
                )
            )
        report.created += 1
    session.flush()
    _seed_letterheads(session, by_slug, report)
    _seed_budgets_and_claims(session, by_slug, report)
    _seed_payments(session, by_slug, report)
    return report


def _seed_factor(
    accounts: AccountAdministration, user: User, secret: str | None, report: SeedReport
) -> None:
    """Give a demo staff user their fixed second factor, unless they have one (perhaps a
    new one, after an administrator reset it: that one stays)."""
    if secret is None:
        return
    report.factors.append((user.email, secret))
    if accounts.factors().is_enrolled(user.id):
        return
    accounts.install_second_factor(user, secret)
    report.created += 1


def demo_logo(name: str, colour: tuple[int, int, int]) -> bytes:
    """A plain logo for a demo organisation: a coloured block and its name, as PNG."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (640, 160), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 150, 160), fill=colour)
    draw.polygon([(30, 40), (120, 40), (120, 95), (75, 130), (30, 95)], fill=(255, 255, 255))
    font = ImageFont.load_default(size=44)
    draw.text((180, 52), name, fill=colour, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _seed_letterheads(
    session: DbSession, by_slug: dict[str, Organisation], report: SeedReport
) -> None:
    for slug, address, postcode, city, phone, email, website, name, function, colour in LETTERHEADS:
        organisation = by_slug[slug]
        if organisation.letterhead is not None:
            report.existing += 1
            continue
        logo = check_logo(demo_logo(organisation.name, colour))
        organisation.letterhead = Letterhead(
            address_line=address,
            postcode=postcode,
            city=city,
            phone=phone,
            email=email,
            website=website,
            signatory_name=name,
            signatory_function=function,
            logo=logo.data,
            logo_content_type=logo.content_type,
        )
        report.created += 1
    session.flush()


DEMO_BUDGET = Decimal("50000.00")
# (organisation slug, [(catalogue code, description, amount incl. VAT, VAT)])
DEMO_CLAIMS = [
    (
        "rivierstad",
        [
            ("freestanding_letterbox", "Vrijstaande brievenbus bij de oprit", "650.00", "112.81"),
            ("cameras", "Twee camera's, voordeur en achterom", "1450.00", "251.65"),
        ],
    ),
    ("duinwijk", [("alarm_with_monitoring", "Alarm met doormelding", "980.00", "170.08")]),
]


def _seed_budgets_and_claims(
    session: DbSession, by_slug: dict[str, Organisation], report: SeedReport
) -> None:
    """A budget for this year everywhere, and a submitted claim in two municipalities."""
    from housing.claims.drafting import DraftingService, LineInput
    from housing.claims.models import Claim
    from housing.claims.workflow import WorkflowService
    from housing.organisations.models import Budget
    from housing.scoping import Scope

    drafting, workflow = DraftingService(session), WorkflowService(session)
    year = drafting.today().year
    for organisation in by_slug.values():
        exists = session.scalars(
            select(Budget).where(Budget.organisation_id == organisation.id, Budget.year == year)
        ).one_or_none()
        if exists is None:
            session.add(Budget(organisation_id=organisation.id, year=year, amount=DEMO_BUDGET))
            report.created += 1
        else:
            report.existing += 1
    session.flush()
    for slug, lines in DEMO_CLAIMS:
        organisation = by_slug[slug]
        if session.scalars(
            select(Claim.id).where(Claim.organisation_id == organisation.id)
        ).first():
            report.existing += 1
            continue
        applicant = session.scalars(
            select(User).where(User.email == demo_email("aanvrager", slug))
        ).one()
        scope = Scope.for_user(applicant)
        home = session.scalars(
            select(Home).join(OfficeHolder).where(OfficeHolder.user_id == applicant.id)
        ).first()
        # The demo applicant is the linked office holder seeded with an address above.
        assert home is not None
        claim = drafting.create_draft(scope, applicant, home_id=home.id)
        for code, description, amount, vat in lines:
            drafting.add_line(scope, applicant, claim.id, LineInput(code, description, amount, vat))
        workflow.fire(scope, applicant, claim.id, "submit")
        report.created += 1


# Payment delegation of the demo finance pair: each approves alone up to its limit.
DEMO_LIMITS = {"financien": Decimal("5000.00"), "financien2": Decimal("2500.00")}
# A granted claim in two municipalities, its supplier invoices approved: ready for the
# finance pair to batch, approve, release and book (issue 5's demo).
DEMO_GRANTED = [
    (
        "rivierstad",
        [
            (
                "cameras",
                "Camera bij de achterdeur",
                "890.00",
                "154.46",
                "Beveiliging Ünal & Zn.",
                "NL39RABO0300065264",
                "2026-118",
            )
        ],
    ),
    (
        "duinwijk",
        [
            (
                "freestanding_letterbox",
                "Vrijstaande brievenbus",
                "540.00",
                "93.72",
                "Slotenmakerij De Sleutel",
                "NL20INGB0001234567",
                "DS-4471",
            )
        ],
    ),
]


def _seed_payments(
    session: DbSession, by_slug: dict[str, Organisation], report: SeedReport
) -> None:
    from housing.claims.drafting import DraftingService, LineInput
    from housing.claims.models import Claim
    from housing.claims.workflow import WorkflowService
    from housing.payments.models import ApprovalLimit, Payout
    from housing.payments.services import PayoutInput, PayoutService
    from housing.scoping import Scope

    def user(local: str, slug: str) -> User:
        return session.scalars(select(User).where(User.email == demo_email(local, slug))).one()

    for slug, organisation in by_slug.items():
        for local, limit in DEMO_LIMITS.items():
            finance = user(local, slug)
            if session.get(ApprovalLimit, finance.id) is None:
                session.add(
                    ApprovalLimit(user_id=finance.id, organisation_id=organisation.id, amount=limit)
                )
                report.created += 1
    session.flush()
    drafting, workflow = DraftingService(session), WorkflowService(session)
    payouts = PayoutService(session)
    for slug, lines in DEMO_GRANTED:
        organisation = by_slug[slug]
        if session.scalars(
            select(Payout.id).where(Payout.organisation_id == organisation.id)
        ).first():
            report.existing += 1
            continue
        applicant, assessor = user("aanvrager", slug), user("beoordelaar", slug)
        decider, finance = user("beslisser", slug), user("financien2", slug)
        home = session.scalars(
            select(Home).join(OfficeHolder).where(OfficeHolder.user_id == applicant.id)
        ).first()
        # The demo applicant is the linked office holder seeded with an address above.
        assert home is not None
        claim: Claim = drafting.create_draft(Scope.for_user(applicant), applicant, home_id=home.id)
        for code, description, amount, vat, *_ in lines:
            drafting.add_line(
                Scope.for_user(applicant),
                applicant,
                claim.id,
                LineInput(code, description, amount, vat),
            )
        steps: list[tuple[User, str, dict[str, Any]]] = [
            (applicant, "submit", {}),
            (assessor, "start_assessment", {}),
            (assessor, "request_advice", {}),
            (
                assessor,
                "record_advice",
                {
                    "reference": f"BZK-DEMO-{slug}",
                    "advice_date": workflow.today().isoformat(),
                    "advised_measures": [code for code, *_ in lines],
                },
            ),
            (
                assessor,
                "propose_decision",
                {"granted": {line.id: line.requested_amount for line in claim.lines}},
            ),
            (decider, "grant", {}),
        ]
        for actor, event, details in steps:
            workflow.fire(Scope.for_user(actor), actor, claim.id, event, details=details)
        for line, (_, _, amount, vat, payee, iban, invoice) in zip(claim.lines, lines, strict=True):
            payout = payouts.request(
                Scope.for_user(assessor),
                assessor,
                claim.id,
                PayoutInput(line.id, payee, iban, amount, vat, invoice, workflow.today()),
            )
            payouts.decide(Scope.for_user(finance), finance, payout.id, "approve")
        report.created += 1


def approved_payouts(session: DbSession, organisation: Organisation, count: int) -> int:
    """`count` granted regime B claims of the organisation's first office holder with a
    home, each with one approved payout of EUR 250 for cameras: the load of a big payment
    batch (`bench/payments.py` sizes), to watch a batch being built. Returns the number
    written. Written in bulk, without the workflow: demonstration data only."""
    from sqlalchemy import insert

    from housing.claims.models import Claim, MeasureLine
    from housing.payments.models import Payout, PayoutKind
    from workflows.rules import Regime

    home = session.scalars(
        select(Home)
        .join(OfficeHolder)
        .where(OfficeHolder.organisation_id == organisation.id)
        .order_by(Home.id)
    ).first()
    filer = session.scalars(
        select(User).where(User.organisation_id == organisation.id).order_by(User.id)
    ).first()
    cameras = session.scalars(
        select(MeasureCatalogue.id).where(
            MeasureCatalogue.organisation_id == organisation.id,
            MeasureCatalogue.code == "cameras",
        )
    ).first()
    if home is None or filer is None or cameras is None:
        raise ValueError("the organisation needs an office holder's home, a user and cameras")
    first = session.scalar(select(func.count()).select_from(Claim)) or 0
    # The day in Amsterdam, as every date the product compares with.
    today = amsterdam_today()
    for offset in range(0, count, 2_000):
        size = min(2_000, count - offset)
        claim_ids = session.scalars(
            insert(Claim).returning(Claim.id),
            [
                {
                    "organisation_id": organisation.id,
                    "number": f"VW-DEMO-{first + offset + n:07d}",
                    "office_holder_id": home.office_holder_id,
                    "home_id": home.id,
                    "filed_by_id": filer.id,
                    "regime": Regime.B,
                    "state": "granted",
                    "received_on": today,
                    "application_date": today,
                    "version": 1,
                }
                for n in range(size)
            ],
        ).all()
        line_ids = session.scalars(
            insert(MeasureLine).returning(MeasureLine.id),
            [
                {
                    "claim_id": claim_id,
                    "catalogue_id": cameras,
                    "description": "Camera",
                    "requested_amount": Decimal("250.00"),
                    "vat_amount": Decimal("43.39"),
                    "granted_amount": Decimal("250.00"),
                }
                for claim_id in claim_ids
            ],
        ).all()
        session.execute(
            insert(Payout),
            [
                {
                    "organisation_id": organisation.id,
                    "claim_id": claim_id,
                    "measure_line_id": line_id,
                    "kind": PayoutKind.SUPPLIER,
                    "state": "approved",
                    "payee_name": f"Leverancier {n % 97}",
                    "payee_iban": "NL91ABNA0417164300",
                    "amount": Decimal("250.00"),
                    "vat_amount": Decimal("43.39"),
                    "invoice_number": f"DEMO-{first + offset + n}",
                    "invoice_date": today,
                    "version": 1,
                }
                for n, (claim_id, line_id) in enumerate(zip(claim_ids, line_ids, strict=True))
            ],
        )
    session.flush()
    return count
