"""Finance closes what is left of a grant (issue 5 §6), and a settled claim whose payout the
bank sends back is in payment again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.audit.services import AuditTrail
from housing.claims.models import Claim
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.organisations.models import Budget
from housing.payments.models import Payout, RemainderClosure
from housing.payments.recurring import RecurringPayouts
from housing.payments.services import PayoutInput, PayoutService
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.builders.payments import SUPPLIER_IBAN, alarm_claim
from tests.builders.statements import Books, camt_statement, debit
from tests.conftest import csrf_from, login
from tests.factories import UserFactory


@pytest.fixture
def books(session: Session) -> Books:
    return Books(session, World(session, name="Gemeente Restant"))


def service(books: Books) -> PayoutService:
    return PayoutService(books.session, clock=books.world.clock)


def committed(books: Books) -> Decimal:
    budget = books.session.scalars(
        select(Budget).where(Budget.organisation_id == books.org.id, Budget.year == 2026)
    ).one()
    books.session.refresh(budget)
    return budget.committed


def close(books: Books, claim: Claim, reason: str | None = "Camera niet geplaatst") -> None:
    service(books).close_remainder(
        books.scope(books.finance), books.finance, claim.id, reason=reason
    )
    books.session.commit()


def state(books: Books, claim: Claim) -> str:
    books.session.expire_all()
    found = books.session.get(Claim, claim.id)
    assert found is not None
    return str(found.state)


def test_closing_after_a_booked_payout_settles_and_releases_the_rest(books, session):
    claim = books.claim("1000.00", "500.00")
    paid = books.payout(claim, 0, "800.00", state="booked")
    session.commit()
    before = committed(books)

    close(books, claim, reason="  De verlichting is niet aangebracht.  ")

    assert state(books, claim) == "settled"
    closure = session.get(RemainderClosure, claim.id)
    assert closure is not None
    assert closure.reason == "De verlichting is niet aangebracht."
    assert closure.closed_by_id == books.finance.id
    # Granted 1500, a payout of 800 stands: 700 goes back to the 2026 budget.
    assert (closure.released, closure.budget_year) == (Decimal("700.00"), 2026)
    assert committed(books) == before - Decimal("700.00")
    (event,) = books.events("remainder_closed")
    assert (event.actor_id, event.claim_id, event.reason) == (
        books.finance.id,
        claim.id,
        "De verlichting is niet aangebracht.",
    )
    (settled,) = books.events("settle")
    assert settled.claim_id == claim.id and settled.actor_id is None
    assert paid.state == "booked"
    assert AuditTrail(session).verify(books.org.id).intact


def test_closing_with_a_payout_sent_settles_once_the_statement_books_it(books, session):
    claim = books.claim("1000.00")
    sent = books.payout(claim, 0, "600.00")  # sent: the money is on its way
    books.batch([(sent, "VW-REST-0001-P1")])
    claims = books.world.workflow
    claims.fire(books.scope(books.finance), None, claim.id, "start_payment")
    session.commit()

    close(books, claim)

    assert state(books, claim) == "in_payment"  # the sent payout is not booked yet
    books.run(camt_statement("REST-1", [debit("REST-1-1", "VW-REST-0001-P1", "600.00")]))
    assert state(books, claim) == "settled"


def test_a_granted_claim_with_nothing_paid_is_settled_by_the_closure(books, session):
    claim = books.claim("1000.00", "250.00")
    before = committed(books)

    close(books, claim, reason="De ambtsdrager is vertrokken; niets aangeschaft.")

    assert state(books, claim) == "settled"
    assert committed(books) == before - Decimal("1250.00")
    (event,) = books.events("settle")
    assert (event.from_state, event.to_state) == ("granted", "settled")


def test_after_closing_nothing_more_is_requested(books, session):
    claim = books.claim("1000.00")
    books.payout(claim, 0, "100.00", state="sent")
    session.commit()
    close(books, claim)
    w = books.world
    with pytest.raises(Conflict) as refused:
        service(books).request(
            w.scope(w.assessor),
            w.assessor,
            claim.id,
            PayoutInput(
                claim.lines[0].id, "Leverancier", SUPPLIER_IBAN, "50.00", "0", "X-1", "2026-03-01"
            ),
        )
    assert "closed" in str(refused.value.message)
    session.rollback()
    with pytest.raises(Conflict):
        close(books, claim)  # closed already
    session.rollback()


@pytest.mark.parametrize(
    "waiting", ["requested", "first_approved", "approved", "batched", "returned"]
)
def test_payouts_not_decided_or_not_sent_block_the_closure(books, session, waiting):
    claim = books.claim("1000.00")
    books.payout(claim, 0, "100.00", state=waiting)
    session.commit()
    before = committed(books)
    with pytest.raises(Conflict) as refused:
        close(books, claim)
    assert "1 payout" in str(refused.value.message)
    session.rollback()
    assert session.get(RemainderClosure, claim.id) is None
    assert committed(books) == before and state(books, claim) == "granted"


def test_who_may_close_and_with_what(books, session):
    claim = books.claim("1000.00")
    w = books.world
    for user in (w.assessor, w.decider, w.applicant):
        with pytest.raises(Forbidden):
            service(books).close_remainder(w.scope(user), user, claim.id, reason="Nee")
        session.rollback()
    for reason in (None, "", "   "):
        with pytest.raises(InvalidInput) as no_reason:
            close(books, claim, reason=reason)
        assert "reason" in no_reason.value.field_errors
        session.rollback()
    with pytest.raises(InvalidInput):
        close(books, claim, reason="x" * 2001)
    session.rollback()
    # Another organisation's finance user does not see the claim at all.
    elsewhere = World(session, name="Gemeente Elders")
    stranger = UserFactory(organisation=elsewhere.org, roles={Role.FINANCE})
    session.commit()
    with pytest.raises(NotFound):
        service(books).close_remainder(
            books.scope(stranger), stranger, claim.id, reason="Niet van ons"
        )
    session.rollback()
    # Only a granted claim (not yet settled) has a remainder.
    draft = w.draft()
    with pytest.raises(Conflict):
        close(books, draft)
    session.rollback()
    assert session.scalars(select(RemainderClosure)).all() == []


def test_a_payout_sent_back_after_the_closure_and_given_up_settles_and_frees_its_money(
    books, session
):
    claim = books.claim("1000.00")
    sent = books.payout(claim, 0, "600.00")
    books.batch([(sent, "VW-REST-0002-P1")])
    books.world.workflow.fire(books.scope(books.finance), None, claim.id, "start_payment")
    session.commit()
    before = committed(books)
    close(books, claim)
    assert committed(books) == before - Decimal("400.00")  # 600 is on its way
    sent.state = "returned"  # the bank sent it back
    session.commit()
    assert state(books, claim) == "in_payment"

    service(books).decide(
        books.scope(books.finance), books.finance, sent.id, "cancel", reason="Geen rekening meer"
    )
    session.commit()

    assert state(books, claim) == "settled"
    assert committed(books) == before - Decimal("1000.00")
    assert session.get(RemainderClosure, claim.id).released == Decimal("1000.00")


def test_a_returned_payout_given_up_and_the_rest_closed_settles_the_claim(books, session):
    claim = books.claim("1234.50")
    payout = books.payout(claim, 0, "1234.50", state="returned")
    session.commit()
    claims = books.world.workflow
    claims.fire(books.scope(books.finance), None, claim.id, "start_payment")
    session.commit()
    service(books).decide(
        books.scope(books.finance),
        books.finance,
        payout.id,
        "cancel",
        reason="Leverancier failliet; geen nieuwe rekening",
    )
    session.commit()
    assert payout.state == "cancelled"
    before = committed(books)

    close(books, claim, reason="Leverancier failliet")

    assert state(books, claim) == "settled"
    assert committed(books) == before - Decimal("1234.50")  # nothing of it was paid


def test_recurring_periods_stop_once_the_rest_is_closed(session):
    world, claim, line = alarm_claim(session, name="Gemeente Opgezegd")
    payouts = PayoutService(session, clock=world.clock)
    first = payouts.request(
        world.scope(world.assessor),
        world.assessor,
        claim.id,
        PayoutInput(
            line.id,
            "Meldkamer BV",
            SUPPLIER_IBAN,
            "50.00",
            "8.68",
            "M-1",
            "2026-03-01",
            period_start="2026-03-01",
        ),
    )
    session.commit()
    # March went out in a batch and is not on a statement yet: the claim stays in payment.
    session.execute(Payout.__table__.update().where(Payout.id == first.id).values(state="sent"))
    world.workflow.fire(world.scope(world.assessor), None, claim.id, "start_payment")
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    session.commit()
    payouts.close_remainder(
        world.scope(finance), finance, claim.id, reason="Het abonnement is opgezegd."
    )
    session.commit()
    assert session.get(Claim, claim.id).state == "in_payment"
    recurring = RecurringPayouts(session, clock=world.clock)
    assert recurring.create_due(today=dt.date(2026, 6, 15)) == 0  # no April, May or June


# --- the claim page and the API ---------------------------------------------------------------
def test_finance_closes_the_rest_from_the_claim_page(app, books, session):
    claim = books.claim("1000.00")
    books.payout(claim, 0, "400.00", state="booked")
    books.world.workflow.fire(books.scope(books.finance), None, claim.id, "start_payment")
    session.commit()
    claim_id = claim.id
    applicant = app.test_client()
    login(applicant, books.world.applicant.email)
    assert "Restant afsluiten" not in applicant.get(f"/claims/{claim_id}").text
    token = csrf_from(applicant.get(f"/claims/{claim_id}").text)
    denied = applicant.post(
        f"/claims/{claim_id}/payouts/close", data={"csrf_token": token, "reason": "Ik wil"}
    )
    assert denied.status_code == 403

    finance = app.test_client()
    login(finance, books.finance.email)
    page = finance.get(f"/claims/{claim_id}").text
    # The claim page leads to a confirmation page; the act is done from there.
    assert f'<form method="get" action="/claims/{claim_id}/payouts/close"' in page
    assert applicant.get(f"/claims/{claim_id}/payouts/close").status_code == 403
    confirm = finance.get(f"/claims/{claim_id}/payouts/close")
    assert confirm.status_code == 200
    assert "Restant afsluiten?" in confirm.text and "kan niet ongedaan" in confirm.text
    shown = confirm.text.replace("\xa0", " ")
    assert "1.000,00 toegekend, waarvan € 600,00 zonder betaling" in shown
    token = csrf_from(confirm.text)
    no_reason = finance.post(
        f"/claims/{claim_id}/payouts/close", data={"csrf_token": token, "reason": " "}
    )
    # The confirmation page again, the message at the reason field.
    assert no_reason.status_code == 422
    assert 'id="reason-error">Geef de reden waarom de rest niet wordt betaald.' in no_reason.text
    assert 'href="#reason"' in no_reason.text
    assert session.get(RemainderClosure, claim_id) is None
    done = finance.post(
        f"/claims/{claim_id}/payouts/close",
        data={"csrf_token": token, "reason": "Camera goedkoper uitgevallen"},
        follow_redirects=True,
    )
    assert "Het restant van de subsidie is afgesloten" in done.text
    assert "Camera goedkoper uitgevallen" in done.text
    assert "600,00" in done.text and "budget van 2026" in done.text
    assert "Restant afsluiten" not in done.text
    assert state(books, claim) == "settled"
    # Closed: the confirmation page now sends back to the claim.
    assert finance.get(f"/claims/{claim_id}/payouts/close").status_code == 303
    # The applicant reads why, and is offered no form; the timeline names each step.
    seen = applicant.get(f"/claims/{claim_id}").text
    assert "Camera goedkoper uitgevallen" in seen
    timeline = seen[seen.index('class="vw-timeline"') :]
    assert "Financiën heeft het restant van de subsidie afgesloten" in timeline
    assert "Afgerond" in timeline and "remainder_closed" not in timeline


def test_the_api_closes_the_rest_and_shows_it_with_the_payouts(client, books, session):
    claim = books.claim("1000.00")
    books.payout(claim, 0, "400.00", state="sent")
    books.world.workflow.fire(books.scope(books.finance), None, claim.id, "start_payment")
    other = books.claim("500.00")
    session.commit()
    # Each request ends its unit of work (a refused one rolls back): keep ids, not rows.
    claim_id, other_id = claim.id, other.id
    url = f"/api/v1/claims/{claim_id}/payouts/close-remainder"
    finance = bearer(session, books.finance)
    assessor = bearer(session, books.world.assessor)

    assert_problem(client.post(url, headers=assessor, json={"reason": "Nee"}), 403)
    assert_problem(client.post(url, headers=finance, json={}), 422)
    assert_problem(client.post(url, headers=finance, json={"reason": "   "}), 422)
    closed = client.post(url, headers=finance, json={"reason": "Rest niet nodig"})
    assert closed.status_code == 200, closed.text
    body = closed.get_json()
    assert (body["reason"], body["released"], body["budget_year"], body["claim_state"]) == (
        "Rest niet nodig",
        "600.00",
        2026,
        "in_payment",  # the sent payout is not booked yet
    )
    assert_problem(client.post(url, headers=finance, json={"reason": "Nog eens"}), 409)
    listing = client.get(f"/api/v1/claims/{claim_id}/payouts", headers=assessor).get_json()
    assert listing["closure"]["reason"] == "Rest niet nodig"
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/claims/{claim_id}/payouts/close-remainder"]["post"]
    assert {"200", "409"} <= set(operation["responses"])
    plain = client.get(f"/api/v1/claims/{other_id}/payouts", headers=assessor).get_json()
    assert plain["closure"] is None
