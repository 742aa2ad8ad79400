"""Payments worlds: a granted claim with finance users, and payouts requested on it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from housing.payments.batches import BatchService
from housing.payments.models import ApprovalLimit, Payout
from housing.payments.services import PayoutInput, PayoutService
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.factories import UserFactory

SUPPLIER_IBAN = "NL20INGB0001234567"

BAD_IBAN = "NL21INGB0001234567"  # SUPPLIER_IBAN with wrong check digits


class Finance:
    """A world with a granted regime B claim, two finance users and limits."""

    def __init__(self, session: Session, name: str = "Gemeente Betaal") -> None:
        self.world = world = World(session, name=name)
        self.session = session
        self.claim = world.proposed()
        world.fire(world.decider, self.claim, "grant")
        self.f1 = UserFactory(organisation=world.org, roles={Role.FINANCE})
        self.f2 = UserFactory(organisation=world.org, roles={Role.FINANCE})
        session.add_all(
            [
                ApprovalLimit(
                    user_id=self.f1.id, organisation_id=world.org.id, amount=Decimal("1000.00")
                ),
                ApprovalLimit(
                    user_id=self.f2.id, organisation_id=world.org.id, amount=Decimal("5000.00")
                ),
            ]
        )
        session.commit()
        self.payouts = PayoutService(session, clock=world.clock)
        self.batches = BatchService(session, clock=world.clock)

    def scope(self, user):
        return Scope.for_user(user)

    def request(self, line_index=0, amount="400.00", number="F-1", iban=SUPPLIER_IBAN):
        line = self.claim.lines[line_index]
        payout = self.payouts.request(
            self.scope(self.world.assessor),
            self.world.assessor,
            self.claim.id,
            PayoutInput(
                measure_line_id=line.id,
                payee_name="Ünal & Zn. Beveiliging",
                payee_iban=iban,
                amount=amount,
                vat_amount="0.00",
                invoice_number=number,
                invoice_date="2026-03-01",
            ),
        )
        self.session.commit()
        return payout

    def approve(self, payout, user):
        self.payouts.decide(self.scope(user), user, payout.id, "approve")
        self.session.commit()


def record(fin: Finance, *, amount="300.00", number="F-1", line_index=0, name=None) -> Payout:
    line = fin.claim.lines[line_index]
    payout = fin.payouts.request(
        fin.scope(fin.world.assessor),
        fin.world.assessor,
        fin.claim.id,
        PayoutInput(
            measure_line_id=line.id,
            payee_name=name or "Slot & Grendel B.V.",
            payee_iban=SUPPLIER_IBAN,
            amount=amount,
            vat_amount="0.00",
            invoice_number=number,
            invoice_date="2026-03-01",
        ),
    )
    fin.session.commit()
    return payout


def alarm_claim(session, name="Gemeente Abonnement"):
    """A granted regime B claim of one monthly line: alarm monitoring, 50 a month."""
    from housing.claims.drafting import LineInput

    world = World(session, name=name)
    claim = world.drafting.create_draft(
        world.scope(world.applicant), world.applicant, home_id=world.home.id
    )
    world.drafting.add_line(
        world.scope(world.applicant),
        world.applicant,
        claim.id,
        LineInput("alarm_with_monitoring", "Meldkamer", "50.00", "8.68", recurrence="monthly"),
    )
    session.commit()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-7",
            "advice_date": "2026-03-02",
            "advised_measures": ["alarm_with_monitoring"],
        },
    )
    (line,) = claim.lines
    world.fire(world.assessor, claim, "propose_decision", details={"granted": {line.id: "50.00"}})
    world.fire(world.decider, claim, "grant")
    return world, claim, line
