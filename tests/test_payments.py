"""Payouts and batches on PostgreSQL: requests, dual control, release, frozen files."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent as AuditEventModel
from housing.claims.models import Claim
from housing.db import db
from housing.errors import Conflict, Forbidden, InvalidInput
from housing.outbox.handlers import default_handlers
from housing.outbox.models import OutboxMessage
from housing.outbox.services import OutboxConsumer, Outcome
from housing.payments.batches import BatchService
from housing.payments.models import ApprovalLimit, PaymentBatch, PaymentBatchItem, Payout
from housing.payments.pain import xsd_path
from housing.payments.services import PayoutInput, PayoutService
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import MONDAY, remove_organisation
from tests.builders.payments import SUPPLIER_IBAN, Finance, alarm_claim
from tests.conftest import factories_on
from tests.factories import UserFactory


@pytest.fixture
def fin(session):
    return Finance(session)


def test_a_supplier_invoice_is_requested_within_what_is_granted(fin, session):
    payout = fin.request(amount="400.00")
    assert payout.state == "requested" and payout.kind.value == "supplier"
    assert payout.payee_bic == "INGBNL2A"  # derived from the Dutch IBAN
    camera = fin.claim.lines[0]
    assert fin.payouts.unpaid(camera) == camera.granted_amount - Decimal("400.00")
    with pytest.raises(InvalidInput) as too_much:
        fin.request(amount=str(camera.granted_amount), number="F-2")
    assert "amount" in too_much.value.field_errors
    session.rollback()
    with pytest.raises(InvalidInput) as twice:
        fin.request(amount="1.00", number="F-1")
    assert "invoice_number" in twice.value.field_errors
    session.rollback()
    with pytest.raises(InvalidInput) as bad_iban:
        fin.request(amount="1.00", number="F-3", iban="NL21INGB0001234567")
    assert "check digits" in str(bad_iban.value.field_errors["payee_iban"][0])
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Payout)) == 1


def test_who_may_request_follows_the_regime(fin, session):
    with pytest.raises(Forbidden):
        fin.payouts.request(
            fin.scope(fin.world.applicant),
            fin.world.applicant,
            fin.claim.id,
            PayoutInput(
                fin.claim.lines[0].id, "Zelf", SUPPLIER_IBAN, "10.00", "0", "B-1", "2026-03-01"
            ),
        )


def test_dual_control_above_the_approvers_limit(fin, session):
    small = fin.request(amount="400.00", number="F-1")
    large = fin.request(line_index=1, amount="400.00", number="F-2")
    session.get(ApprovalLimit, fin.f1.id).amount = Decimal("300.00")
    session.commit()
    fin.approve(small, fin.f2)  # within f2's limit: one approval
    assert small.state == "approved" and small.approved_by_id == fin.f2.id
    fin.approve(large, fin.f1)  # above f1's limit: a second approval is due
    assert large.state == "first_approved"
    with pytest.raises(Forbidden) as same:
        fin.approve(large, fin.f1)
    assert same.value.field_errors["rule"] == ["second_approver"]
    session.rollback()
    fin.approve(large, fin.f2)
    assert large.state == "approved"
    # Who recorded the invoice never approves it.
    both = UserFactory(organisation=fin.world.org, roles={Role.FINANCE, Role.ASSESSOR})
    session.commit()
    recorded = fin.payouts.request(
        fin.scope(both),
        both,
        fin.claim.id,
        PayoutInput(
            fin.claim.lines[0].id, "Leverancier", SUPPLIER_IBAN, "1.00", "0", "F-9", "2026-03-01"
        ),
    )
    session.commit()
    with pytest.raises(Forbidden):
        fin.approve(recorded, both)
    session.rollback()
    with pytest.raises(InvalidInput):  # a rejection needs its reason
        fin.payouts.decide(fin.scope(fin.f1), fin.f1, recorded.id, "reject")
    session.rollback()
    fin.payouts.decide(fin.scope(fin.f1), fin.f1, recorded.id, "reject", reason="Dubbel")
    session.commit()
    assert recorded.state == "rejected"


def approved_batch(fin, session):
    for index, number in ((0, "F-1"), (1, "F-2")):
        payout = fin.request(line_index=index, amount="300.00", number=number)
        fin.approve(payout, fin.f2)
    batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=dt.date(2026, 3, 4))
    session.commit()
    return batch


def test_a_batch_is_approved_by_one_and_released_by_another_and_its_file_is_frozen(fin, session):
    batch = approved_batch(fin, session)
    assert batch.item_count == 2 and batch.total == Decimal("600.00")
    ids = {item.end_to_end_id for item in batch.items}
    assert all(id_.startswith(fin.claim.number) and len(id_) <= 35 for id_ in ids)
    fin.batches.approve(fin.scope(fin.f1), fin.f1, batch.id)
    session.commit()
    assert batch.approved_at == fin.world.clock()
    with pytest.raises(Forbidden) as same:
        fin.batches.release(fin.scope(fin.f1), fin.f1, batch.id)
    assert same.value.field_errors["rule"] == ["releaser_approved"]
    session.rollback()
    fin.batches.release(fin.scope(fin.f2), fin.f2, batch.id)
    session.commit()
    data = fin.batches.file(fin.scope(fin.f1), batch.id)
    schema = etree.XMLSchema(etree.parse(str(xsd_path(batch.pain_version))))
    document = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    assert schema.validate(document), schema.error_log
    ns = {"p": document.nsmap[None]}
    assert document.findtext(".//p:GrpHdr/p:MsgId", namespaces=ns) == batch.msg_id
    assert document.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=ns) == "2"
    assert document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "600.00"
    assert {e.text for e in document.iterfind(".//p:EndToEndId", ns)} == ids
    assert b"Unal en Zn. Beveiliging" in data
    # Released again (a second click): the same batch, the same bytes, no new ids.
    again = fin.batches.release(fin.scope(fin.f2), fin.f2, batch.id)
    session.commit()
    assert again.file_sha256 == batch.file_sha256
    assert fin.batches.file(fin.scope(fin.f1), batch.id) == data
    # A download by a person is on the audit trail: the file names every payee's account.
    assert fin.batches.file(fin.scope(fin.f1), batch.id, user=fin.f1) == data
    session.commit()
    (downloaded,) = session.scalars(
        select(AuditEventModel).where(AuditEventModel.event == "batch_file_downloaded")
    )
    assert (downloaded.actor_id, downloaded.organisation_id) == (fin.f1.id, fin.world.org.id)
    assert session.scalar(select(func.count()).select_from(PaymentBatchItem)) == 2
    assert {p.state for p in session.scalars(select(Payout))} == {"sent"}
    # The claims follow through the outbox (a batch can touch thousands of them).
    assert session.get(Claim, fin.claim.id).state == "granted"
    (follow,) = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "claims_follow"))
    assert follow.payload == {"claim_ids": [fin.claim.id]}
    assert OutboxConsumer(session, default_handlers()).deliver(follow.id) is Outcome.DONE
    assert session.get(Claim, fin.claim.id).state == "in_payment"
    with pytest.raises(Conflict):
        fin.batches.cancel(fin.scope(fin.f1), fin.f1, batch.id, reason="Te laat")
    session.rollback()


def test_a_cancelled_batch_returns_its_payouts_and_they_travel_again_under_new_ids(fin, session):
    batch = approved_batch(fin, session)
    first_ids = {item.end_to_end_id for item in batch.items}
    fin.batches.cancel(fin.scope(fin.f1), fin.f1, batch.id, reason="Verkeerde datum")
    session.commit()
    assert {p.state for p in session.scalars(select(Payout))} == {"approved"}
    again = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=dt.date(2026, 3, 5))
    session.commit()
    second_ids = {item.end_to_end_id for item in again.items}
    assert not first_ids & second_ids and all(i.endswith("-R1") for i in second_ids)
    with pytest.raises(Conflict):  # nothing approved is left
        fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=dt.date(2026, 3, 5))
    session.rollback()


def test_others_see_no_batches_and_cannot_build_them(fin, session):
    approved_batch(fin, session)
    assert session.scalars(Scope.for_user(fin.world.assessor).select(PaymentBatch)).all() == []
    with pytest.raises(Forbidden):
        fin.batches.build(
            fin.scope(fin.world.assessor), fin.world.assessor, execution_date=dt.date(2026, 3, 4)
        )
    other = Finance(session, name="Gemeente Elders")
    with pytest.raises(Exception) as hidden:
        other.batches.approve(
            other.scope(other.f1), other.f1, session.scalars(select(PaymentBatch.id)).first()
        )
    assert getattr(hidden.value, "status", None) == 404


def test_two_simultaneous_releases_make_one_file(app, database_url):
    with app.app_context():
        engine = db.engine
    with Session(engine, expire_on_commit=False) as setup, factories_on(setup):
        fin = Finance(setup, name="Gemeente Tegelijk")
        batch = approved_batch(fin, setup)
        fin.batches.approve(fin.scope(fin.f1), fin.f1, batch.id)
        setup.commit()
        org_id, batch_id, releaser_id = fin.world.org.id, batch.id, fin.f2.id
    barrier = threading.Barrier(2)
    hashes: list[str] = []
    errors: list[Exception] = []

    def release() -> None:
        from housing.accounts.models import User

        with app.app_context(), Session(engine) as own:
            user = own.get(User, releaser_id)
            barrier.wait(timeout=10)
            try:
                done = BatchService(own, clock=lambda: MONDAY).release(
                    Scope.for_user(user), user, batch_id
                )
                own.commit()
                hashes.append(done.file_sha256)
            except Exception as exc:  # recorded: the test fails on any
                errors.append(exc)

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert errors == [] and len(hashes) == 2 and hashes[0] == hashes[1]
        with Session(engine) as check:
            released = check.scalars(
                select(func.count()).where(
                    AuditEventModel.organisation_id == org_id,
                    AuditEventModel.event == "batch_release",
                )
            ).one()
            assert released == 1
    finally:
        remove_organisation(engine, org_id)


def test_a_recurring_measure_asks_for_its_payout_each_month_while_the_term_lasts(session):
    from housing.payments.claims_follow import fully_paid
    from housing.payments.recurring import RecurringPayouts

    world, claim, line = alarm_claim(session)
    payouts = PayoutService(session, clock=world.clock)

    def record(period, number):
        payout = payouts.request(
            Scope.for_user(world.assessor),
            world.assessor,
            claim.id,
            PayoutInput(
                line.id,
                "Meldkamer BV",
                SUPPLIER_IBAN,
                "50.00",
                "8.68",
                number,
                "2026-03-01",
                period_start=period,
            ),
        )
        session.commit()
        return payout

    with pytest.raises(InvalidInput):  # a recurring line needs its period
        record(None, "M-0")
    session.rollback()
    first = record("2026-03-17", "M-1")
    assert first.period_start == dt.date(2026, 3, 1)
    with pytest.raises(InvalidInput):  # March is paid for already
        record("2026-03-01", "M-2")
    session.rollback()

    recurring = RecurringPayouts(session, clock=world.clock)
    assert recurring.create_due(today=dt.date(2026, 6, 15)) == 3  # April, May, June
    assert recurring.create_due(today=dt.date(2026, 6, 15)) == 0  # once per period
    periods = session.scalars(
        select(Payout.period_start)
        .where(Payout.measure_line_id == line.id)
        .order_by(Payout.period_start)
    ).all()
    assert periods == [dt.date(2026, m, 1) for m in (3, 4, 5, 6)]
    # The term ends: no period after it is asked for, and the line is never "fully paid"
    # while the term lasts.
    world.holder.term_end = dt.date(2026, 7, 10)
    session.commit()
    assert recurring.create_due(today=dt.date(2026, 9, 1)) == 1  # July only
    assert not fully_paid(session, claim.id, today=dt.date(2026, 9, 1))  # none booked yet
    session.execute(
        Payout.__table__.update().where(Payout.measure_line_id == line.id).values(state="booked")
    )
    session.commit()
    assert fully_paid(session, claim.id, today=dt.date(2026, 9, 1))
    assert not fully_paid(session, claim.id, today=dt.date(2026, 7, 1))  # the term still runs
