"""Bank statements on PostgreSQL: import, matching, returns, flags, the review queue, the job."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.models import Claim
from housing.clock import utcnow
from housing.db import db
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.jobs.kinds import default_kinds
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobService
from housing.outbox.handlers import default_handlers
from housing.outbox.services import OutboxConsumer, Outcome
from housing.payments.models import (
    BankStatement,
    PaymentBatchItem,
    Payout,
    StatementEntry,
    StatementEntryStatus,
)
from housing.payments.statements import (
    STATEMENT_IMPORT,
    ImportRefused,
    ImportReport,
    StatementImport,
    UploadStore,
    run_statement_import,
)
from housing.payments.statements import importer as statement_importer
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.jobs import outbox_message
from tests.builders.statements import (
    ACCOUNT,
    Books,
    camt_statement,
    debit,
    deliver_follows,
    fixture,
)
from tests.conftest import RUN_ID
from tests.factories import UserFactory


@pytest.fixture
def books(session: Session) -> Books:
    return Books(session)


def figures(report: ImportReport, **expected: int) -> None:
    """The report says exactly this: the figures named, and zero for the others."""
    assert report.as_dict() == {**ImportReport().as_dict(), **expected}


# --- matching -------------------------------------------------------------------------
def test_a_single_debit_books_its_payout_its_batch_and_settles_the_claim(books, session):
    claim = books.claim("1234.50")
    payout = books.payout(claim, 0, "1234.50")
    batch = books.batch([(payout, "VW-2026-00001-P1")], "VW-PMT-2026-0001")
    seen: list[tuple[int, int]] = []

    report = books.run(fixture("single_debit.xml"), progress=lambda *a: seen.append(a))

    figures(report, statements_new=1, entries_matched=1, payouts_booked=1, batches_booked=1)
    entry = books.entry("2026010500001")
    assert entry.status is StatementEntryStatus.MATCHED and entry.note is None
    assert (entry.amount, entry.credit) == (Decimal("1234.50"), False)
    assert entry.end_to_end_ids == "VW-2026-00001-P1"
    assert entry.counterparty == "Beveiliging Noord B.V."
    session.refresh(payout)
    session.refresh(batch)
    assert payout.state == "booked" and payout.version == 2
    assert books.item("VW-2026-00001-P1").booked_entry_id == entry.id
    assert batch.state == "booked"
    assert session.get(Claim, claim.id).state == "settled"  # everything granted is paid
    statement = session.scalars(select(BankStatement)).one()
    assert statement.statement_ident == "NL91ABNA0417164300-2026-005"
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("125000.00"),
        Decimal("123765.50"),
    )
    assert statement.sequence_number == 5 and not statement.balance_gap
    assert statement.file_sha256 == hashlib.sha256(fixture("single_debit.xml")).hexdigest()
    assert statement.imported_by_id == books.finance.id
    (booked,) = books.events("payout_book")
    assert booked.actor_id is None and booked.claim_id == claim.id  # the system did it
    assert (booked.from_state, booked.to_state) == ("sent", "booked")
    (batch_booked,) = books.events("batch_book")
    assert (batch_booked.from_state, batch_booked.to_state) == ("released", "booked")
    assert seen == [(0, 1), (1, 1)]
    assert AuditTrail(session).verify(books.org.id).intact


def test_a_batch_with_details_books_each_payout_by_its_end_to_end_id(books, session):
    both = books.claim("1200.00", "950.25")  # both of its lines are paid here
    part = books.claim("849.75", "400.00")  # its second line is not
    payouts = [
        books.payout(both, 0, "1200.00"),
        books.payout(both, 1, "950.25"),
        books.payout(part, 0, "849.75"),
    ]
    # Our own PmtInfId differs from the Btch's: details are matched by EndToEndId alone.
    batch = books.batch(
        list(
            zip(payouts, ["VW-2026-00002-P1", "VW-2026-00003-P1", "VW-2026-00004-P2"], strict=True)
        ),
        "VW-PMT-2026-0002",
    )

    report = books.run(fixture("batch_with_details.xml"))

    figures(report, statements_new=1, entries_matched=1, payouts_booked=3, batches_booked=1)
    entry = books.entry("2026011200007")
    assert entry.status is StatementEntryStatus.MATCHED
    assert entry.pmt_inf_id == "VW-PMT-2026-0002"
    assert entry.end_to_end_ids == "VW-2026-00002-P1,VW-2026-00003-P1,VW-2026-00004-P2"
    for payout in payouts:
        session.refresh(payout)
        assert payout.state == "booked"
    assert {i.booked_entry_id for i in session.scalars(select(PaymentBatchItem))} == {entry.id}
    session.refresh(batch)
    assert batch.state == "booked"
    assert session.get(Claim, both.id).state == "settled"
    assert session.get(Claim, part.id).state == "in_payment"
    assert len(books.events("payout_book")) == 3
    assert AuditTrail(session).verify(books.org.id).intact


def test_a_batch_without_details_matches_by_pmt_inf_id_when_count_and_total_agree(books, session):
    claim = books.claim("1000.00", "500.00")
    payouts = [books.payout(claim, 0, "1000.00"), books.payout(claim, 1, "500.00")]
    batch = books.batch(
        [(payouts[0], f"E-{RUN_ID}-1"), (payouts[1], f"E-{RUN_ID}-2")], "VW-PMT-2026-0003"
    )

    report = books.run(fixture("batch_without_details.xml"))

    figures(report, statements_new=1, entries_matched=1, payouts_booked=2, batches_booked=1)
    entry = books.entry("ABNA0119E4F5A6")  # no NtryRef: the bank's own reference
    assert entry.status is StatementEntryStatus.MATCHED and entry.pmt_inf_id == "VW-PMT-2026-0003"
    for payout in payouts:
        session.refresh(payout)
        assert payout.state == "booked"
    session.refresh(batch)
    assert batch.state == "booked"
    assert session.get(Claim, claim.id).state == "settled"


@pytest.mark.parametrize(
    "amounts",
    [
        pytest.param(("1000.00", "600.00"), id="the total differs"),
        pytest.param(("700.00", "500.00", "300.00"), id="the count differs"),
    ],
)
def test_a_batch_without_details_is_not_matched_when_count_or_total_differ(books, session, amounts):
    claim = books.claim("1200.00", "950.00", "400.00")
    payouts = [books.payout(claim, i, amount) for i, amount in enumerate(amounts)]
    batch = books.batch([(p, f"E-{RUN_ID}-{i}") for i, p in enumerate(payouts)], "VW-PMT-2026-0003")

    report = books.run(fixture("batch_without_details.xml"))

    figures(report, statements_new=1, unmatched=1)
    entry = books.entry("ABNA0119E4F5A6")
    assert entry.status is StatementEntryStatus.UNMATCHED
    ours = sum((Decimal(a) for a in amounts), Decimal("0"))
    assert entry.note == (
        f"Batch VW-PMT-2026-0003: 2 payments of 1500.00 on the statement,"
        f" {len(amounts)} of {ours} in the batch."
    )
    for payout in payouts:
        session.refresh(payout)
        assert payout.state == "sent"
    session.refresh(batch)
    assert batch.state == "released"
    assert session.get(Claim, claim.id).state == "granted"
    assert books.events("payout_book") == []
    assert [e.id for e in books.queue.unmatched(books.scope(books.finance))] == [entry.id]


def test_a_return_sends_that_payout_back_and_leaves_the_others_booked(books, session):
    single = books.claim("1234.50")
    both = books.claim("1200.00", "950.25")
    part = books.claim("849.75")
    returned = books.payout(single, 0, "1234.50")
    others = [
        books.payout(both, 0, "1200.00"),
        books.payout(both, 1, "950.25"),
        books.payout(part, 0, "849.75"),
    ]
    batch = books.batch(
        [
            (returned, "VW-2026-00001-P1"),
            *zip(others, ["VW-2026-00002-P1", "VW-2026-00003-P1", "VW-2026-00004-P2"], strict=True),
        ]
    )
    books.run(fixture("single_debit.xml"))
    books.run(fixture("batch_with_details.xml"))
    session.refresh(batch)
    assert batch.state == "booked"  # all four debits are on the statements
    assert session.get(Claim, single.id).state == "settled"

    report = books.run(fixture("return.xml"))

    figures(report, statements_new=1, returns=1)
    session.refresh(returned)
    assert returned.state == "returned"  # it waits for a corrected IBAN
    assert (returned.return_reason_code, returned.return_reason) == ("AC04", "Rekening opgeheven")
    for payout in others:
        session.refresh(payout)
        assert payout.state == "booked"
    session.refresh(batch)
    assert batch.state == "booked"
    entry = books.entry("2026010700003")
    assert entry.status is StatementEntryStatus.RETURN and entry.credit
    # The debit stays recorded against the item it paid; the return is an entry of its own.
    assert books.item("VW-2026-00001-P1").booked_entry_id == books.entry("2026010500001").id
    (event,) = books.events("payout_return")
    assert event.actor_id is None and event.claim_id == single.id
    assert (event.from_state, event.to_state, event.reason) == (
        "booked",
        "returned",
        "Rekening opgeheven",
    )
    # The settled claim is in payment again until the payout is paid again and booked;
    # the others stay settled.
    session.expire_all()
    assert session.get(Claim, single.id).state == "in_payment"
    (reopened,) = books.events("reopen_payment")
    assert (reopened.claim_id, reopened.from_state, reopened.to_state) == (
        single.id,
        "settled",
        "in_payment",
    )
    assert session.get(Claim, both.id).state == "settled"
    # The same return again, on another statement: flagged, the payout stays as it is.
    again = fixture("return.xml").replace(b"2026-007</Id>", b"2026-008</Id>")
    figures(books.run(again), statements_new=1, duplicates=1)
    session.refresh(returned)
    assert returned.state == "returned" and returned.version == 3
    assert AuditTrail(session).verify(books.org.id).intact


def test_importing_the_same_statement_again_changes_nothing(books, session):
    claim = books.claim("1234.50")
    payout = books.payout(claim, 0, "1234.50")
    books.batch([(payout, "VW-2026-00001-P1")])
    first = books.run(fixture("single_debit.xml"))
    assert first.payouts_booked == 1

    def snapshot() -> tuple[Any, ...]:
        return (
            session.scalar(select(func.count()).select_from(BankStatement)),
            session.scalar(select(func.count()).select_from(StatementEntry)),
            session.scalar(select(func.count()).where(AuditEvent.organisation_id == books.org.id)),
            session.scalar(select(Payout.version).where(Payout.id == payout.id)),
            session.scalar(select(Claim.state).where(Claim.id == claim.id)),
        )

    before = snapshot()
    again = books.run(fixture("single_debit.xml"))
    figures(again, statements_skipped=1, already_imported=1)
    assert snapshot() == before == (1, 1, before[2], 2, "settled")


def test_a_second_debit_for_a_booked_payout_is_flagged_never_matched(books, session):
    claim = books.claim("1234.50", "300.00")
    payout = books.payout(claim, 0, "1234.50")
    other = books.payout(claim, 1, "300.00")
    books.batch([(payout, "VW-2026-00001-P1"), (other, f"E-{RUN_ID}-9")])
    books.run(fixture("single_debit.xml"))
    first_entry = books.entry("2026010500001")

    report = books.run(
        camt_statement(
            f"S-{RUN_ID}-2",
            [
                debit("D-1", "VW-2026-00001-P1", "1234.50"),  # on an earlier statement
                debit("D-2", f"E-{RUN_ID}-9", "300.00"),
                debit("D-3", f"E-{RUN_ID}-9", "300.00"),  # the same payment twice in one file
            ],
            opening="123765.50",  # where statement 5 closed: no gap
        )
    )

    figures(report, statements_new=1, entries_matched=1, payouts_booked=1, batches_booked=1,
            duplicates=2)  # fmt: skip
    for reference in ("D-1", "D-3"):
        flagged = books.entry(reference)
        assert flagged.status is StatementEntryStatus.DUPLICATE
        assert "was booked already: a second debit" in (flagged.note or "")
    assert books.entry("D-2").status is StatementEntryStatus.MATCHED
    assert books.item("VW-2026-00001-P1").booked_entry_id == first_entry.id
    assert books.item(f"E-{RUN_ID}-9").booked_entry_id == books.entry("D-2").id
    session.refresh(payout)
    assert payout.state == "booked" and payout.version == 2  # booked once
    flags = books.events("statement_entry_duplicate")
    assert len(flags) == 2 and {f.claim_id for f in flags} == {claim.id}
    queue = books.queue.unmatched(books.scope(books.finance))
    assert {e.entry_reference for e in queue} == {"D-1", "D-3"}


def test_what_is_not_ours_waits_in_the_queue_with_the_reason(books, session):
    claim = books.claim("1200.00", "400.00")
    sent = books.payout(claim, 0, "250.00")
    unreleased = books.payout(claim, 1, "400.00", state="batched")
    books.batch([(sent, f"E-{RUN_ID}-1")])
    books.batch([(unreleased, f"E-{RUN_ID}-2")], state="approved")

    report = books.run(
        camt_statement(
            f"S-{RUN_ID}-1",
            [
                debit("U-1", f"E-{RUN_ID}-1", "250.01"),
                debit("U-2", "SOMEONE-ELSES-ID", "10.00"),
                debit("U-3", f"E-{RUN_ID}-2", "400.00"),
                debit("U-4", None, "5.00"),  # bank costs: no references at all
                debit("U-5", None, "99.00", credit=True),  # money in, no return information
            ],
        )
    )

    figures(report, statements_new=1, unmatched=5)
    notes = {r: books.entry(r).note for r in ("U-1", "U-2", "U-3", "U-4", "U-5")}
    assert notes == {
        "U-1": f"E-{RUN_ID}-1: 250.01 on the statement, 250.00 in the batch.",
        "U-2": "Unknown EndToEndId SOMEONE-ELSES-ID.",
        "U-3": f"E-{RUN_ID}-2: its batch was not released.",
        "U-4": "The entry has no EndToEndId and no batch reference.",
        "U-5": "A credit without return information is not matched automatically.",
    }
    session.refresh(sent)
    assert sent.state == "sent"


def test_another_organisations_end_to_end_id_is_unknown_here(books, session):
    elsewhere = Books(session, World(session, name="Gemeente Elders"))
    claim = elsewhere.claim("1234.50")
    theirs = elsewhere.payout(claim, 0, "1234.50")
    elsewhere.batch([(theirs, "VW-2026-00001-P1")])

    figures(books.run(fixture("single_debit.xml")), statements_new=1, unmatched=1)
    session.refresh(theirs)
    assert theirs.state == "sent"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("malformed.xml", "not_xml"),
        ("xml_bomb.xml", "doctype"),
        ("external_entity.xml", "doctype"),
        ("wrong_schema.xml", "schema"),
        ("wrong_namespace.xml", "namespace"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_written(books, session, app, name, code):
    def rows() -> tuple[int | None, ...]:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (BankStatement, StatementEntry, AuditEvent)
        )

    before = rows()
    with pytest.raises(ImportRefused) as refused:
        books.imports.import_file(books.org.id, books.finance.id, fixture(name))
    assert refused.value.code == code and refused.value.status == 422
    assert "Nothing was imported." in str(refused.value.message)
    assert refused.value.field_errors["file"]
    assert rows() == before
    with app.app_context(), force_locale("nl"):
        assert "Er is niets ingelezen." in str(refused.value.message)


def test_a_statement_of_another_account_is_refused_and_books_nothing(books, session, app):
    claim = books.claim("1234.50")
    payout = books.payout(claim, 0, "1234.50")
    batch = books.batch([(payout, "VW-2026-00001-P1")], "VW-PMT-2026-0001")
    # Our payout's EndToEndId on someone else's account.
    theirs = camt_statement(
        "ELSEWHERE-1",
        [debit("X-1", "VW-2026-00001-P1", "1234.50")],
        iban="NL44RABO0123456789",
    )
    audit_before = session.scalar(select(func.count()).select_from(AuditEvent))

    with pytest.raises(ImportRefused) as refused:
        books.imports.import_file(books.org.id, books.finance.id, theirs)

    assert refused.value.code == "foreign_account" and refused.value.status == 422
    message = str(refused.value.message)
    assert "NL44RABO0123456789" in message and ACCOUNT in message
    assert "Nothing was imported." in message
    assert session.scalar(select(func.count()).select_from(BankStatement)) == 0
    assert session.scalar(select(func.count()).select_from(StatementEntry)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before
    session.refresh(payout)
    session.refresh(batch)
    assert payout.state == "sent" and batch.state != "booked"
    with app.app_context(), force_locale("nl"):
        assert "niet van de eigen rekening" in str(refused.value.message)
    # The same entry on the organisation's own account (lower case allowed) books it.
    ours = camt_statement(
        "OURS-1",
        [debit("X-1", "VW-2026-00001-P1", "1234.50")],
        iban=ACCOUNT[:4] + ACCOUNT[4:].lower(),
    )
    report = books.imports.import_file(books.org.id, books.finance.id, ours)
    figures(report, statements_new=1, entries_matched=1, payouts_booked=1, batches_booked=1)


def test_a_file_over_the_size_limit_is_refused(session, books):
    small = StatementImport(session, max_bytes=1024)
    with pytest.raises(ImportRefused) as refused:
        small.import_file(books.org.id, books.finance.id, fixture("single_debit.xml"))
    assert refused.value.code == "too_large"
    assert session.scalar(select(func.count()).select_from(BankStatement)) == 0


def test_an_opening_balance_that_does_not_follow_the_previous_closing_is_flagged(books, session):
    books.run(fixture("single_debit.xml"))  # statement 5 closes at 123,765.50
    books.run(fixture("batch_with_details.xml"))  # 10 opens there: no gap
    # 7 arrives late: it is checked against 5, the statement before it, not against 10.
    report = books.run(fixture("return.xml"))
    assert report.balance_gaps == 0

    report = books.run(fixture("two_statements.xml"))  # 30 opens at 10,000.00: a gap

    figures(report, statements_new=2, balance_gaps=1, unmatched=2, not_booked=1)
    gaps = {
        s.statement_ident: s.balance_gap
        for s in session.scalars(select(BankStatement).where(BankStatement.sequence_number >= 30))
    }
    assert gaps == {"NL91ABNA0417164300-2026-030": True, "NL91ABNA0417164300-2026-031": False}
    (event,) = books.events("statement_balance_gap")
    assert event.actor_id is None
    assert AuditTrail(session).verify(books.org.id).intact


# --- the review queue ------------------------------------------------------------------
@pytest.fixture
def queued(books, session) -> tuple[Books, StatementEntry, StatementEntry, Claim]:
    """The 1,000.00 debit (an EndToEndId we never sent) and the 250.00 credit, queued."""
    books.run(fixture("two_statements.xml"))
    debit_entry = books.entry("2026020200001")
    credit_entry = books.entry("2026020300001")
    assert debit_entry.status is credit_entry.status is StatementEntryStatus.UNMATCHED
    claim = books.claim("1000.00", "400.00")
    return books, debit_entry, credit_entry, claim


def test_finance_matches_an_entry_by_hand_audited_with_who_and_why(queued, session):
    books, entry, _, claim = queued
    payout = books.payout(claim, 0, "1000.00")
    batch = books.batch([(payout, f"E-{RUN_ID}-1")])
    assert {e.id for e in books.queue.unmatched(books.scope(books.finance))} == {
        entry.id,
        books.entry("2026020300001").id,
    }

    books.queue.match_by_hand(
        books.scope(books.finance), books.finance, entry.id, payout.id, "Bank gaf een oud kenmerk"
    )
    session.commit()

    session.refresh(entry)
    assert entry.status is StatementEntryStatus.MATCHED
    assert entry.note == "Bank gaf een oud kenmerk"
    assert entry.resolved_by_id == books.finance.id and entry.resolved_at is not None
    session.refresh(payout)
    session.refresh(batch)
    assert payout.state == "booked" and batch.state == "booked"
    assert books.item(f"E-{RUN_ID}-1").booked_entry_id == entry.id
    assert session.get(Claim, claim.id).state == "in_payment"
    (event,) = books.events("payout_book")
    assert event.actor_id == books.finance.id and event.reason == "Bank gaf een oud kenmerk"
    assert event.claim_id == claim.id
    assert entry.id not in {e.id for e in books.queue.unmatched(books.scope(books.finance))}
    with pytest.raises(Conflict):  # matched once
        books.queue.match_by_hand(
            books.scope(books.colleague), books.colleague, entry.id, payout.id, "Nogmaals"
        )


def test_finance_dismisses_an_entry_audited(queued, session):
    books, _, credit_entry, _ = queued
    books.queue.dismiss(
        books.scope(books.colleague), books.colleague, credit_entry.id, "Terugbetaling, apart"
    )
    session.commit()
    session.refresh(credit_entry)
    assert credit_entry.status is StatementEntryStatus.DISMISSED
    assert credit_entry.resolved_by_id == books.colleague.id
    (event,) = books.events("statement_entry_dismiss")
    assert event.actor_id == books.colleague.id and event.reason == "Terugbetaling, apart"
    with pytest.raises(Conflict):
        books.queue.dismiss(
            books.scope(books.finance), books.finance, credit_entry.id, "Nog een keer"
        )


def test_the_review_queue_refuses_what_is_not_allowed(queued, session):
    books, entry, credit_entry, claim = queued
    payout = books.payout(claim, 0, "999.00")
    books.batch([(payout, f"E-{RUN_ID}-1")])
    approved = books.payout(claim, 1, "400.00", state="approved")
    stranger = UserFactory(roles={Role.FINANCE})  # finance, of another organisation
    assessor = books.world.assessor
    queue, finance = books.queue, books.finance
    events_before = session.scalar(select(func.count()).select_from(AuditEvent))

    with pytest.raises(NotFound):
        queue.match_by_hand(Scope.for_user(stranger), stranger, entry.id, payout.id, "Mijn")
    with pytest.raises(NotFound):
        queue.dismiss(Scope.for_user(stranger), stranger, entry.id, "Mijn")
    assert queue.unmatched(Scope.for_user(stranger)) == []
    for attempt in (
        lambda: queue.match_by_hand(books.scope(assessor), assessor, entry.id, payout.id, "X"),
        lambda: queue.dismiss(books.scope(assessor), assessor, entry.id, "X"),
        lambda: queue.unmatched(books.scope(assessor)),
        # Someone else's scope is not this user's.
        lambda: queue.dismiss(books.scope(books.colleague), finance, entry.id, "X"),
    ):
        with pytest.raises(Forbidden):
            attempt()
    with pytest.raises(InvalidInput) as disagree:
        queue.match_by_hand(books.scope(finance), finance, entry.id, payout.id, "Bijna")
    assert "1000.00" in str(disagree.value.message) and "999.00" in str(disagree.value.message)
    with pytest.raises(Conflict):  # not sent: nothing left the account for it
        queue.match_by_hand(books.scope(finance), finance, entry.id, approved.id, "Vooruit")
    with pytest.raises(InvalidInput) as no_reason:
        queue.dismiss(books.scope(finance), finance, entry.id, "  ")
    assert "reason" in no_reason.value.field_errors
    with pytest.raises(InvalidInput):  # a credit is no payout of ours
        queue.match_by_hand(books.scope(finance), finance, credit_entry.id, payout.id, "Geld")
    with pytest.raises(NotFound):
        queue.match_by_hand(books.scope(finance), finance, entry.id, 999_999_999, "Weg")

    session.refresh(entry)
    session.refresh(payout)
    assert entry.status is StatementEntryStatus.UNMATCHED and payout.state == "sent"
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before


# --- efficiency ---------------------------------------------------------------------------
def test_the_query_count_does_not_grow_with_the_number_of_entries(
    books, session, count_queries, monkeypatch
):
    def statement_of(size: int, tag: str) -> tuple[bytes, Claim]:
        """Half booked, a quarter unknown, a quarter of the wrong amount: all paths."""
        claim = books.claim("1200.00")
        items, entries = [], []
        for i in range(size):
            e2e = f"Q{tag}-{RUN_ID}-{i}"
            if i % 4 in (0, 1):
                items.append((books.payout(claim, 0, "1.00"), e2e))
                entries.append(debit(f"R{i}", e2e, "1.00"))
            elif i % 4 == 2:
                entries.append(debit(f"R{i}", f"UNKNOWN-{tag}-{i}", "1.00"))
            else:
                items.append((books.payout(claim, 0, "2.00"), e2e))
                entries.append(debit(f"R{i}", e2e, "1.99"))
        books.batch(items)
        # Each statement opens at the previous one's closing balance: no gap is flagged.
        return camt_statement(f"Q{tag}-{RUN_ID}", entries), claim

    def measured(size: int, tag: str) -> int:
        data, claim = statement_of(size, tag)
        reports: list[ImportReport] = []
        with count_queries() as statements_run:
            reports.append(books.imports.import_file(books.org.id, books.finance.id, data))
        queries = len(statements_run)
        assert reports[0].payouts_booked == size // 2 and reports[0].unmatched == size // 2
        deliver_follows(session)
        assert session.get(Claim, claim.id).state == "in_payment"
        session.commit()
        return queries

    small, large = measured(20, "0"), measured(200, "1")
    assert small == large, (small, large)
    # In chunks of 50: the same fixed cost again for each chunk beyond the first.
    monkeypatch.setattr(statement_importer, "CHUNK", 50)
    one_chunk, four_chunks = measured(40, "2"), measured(200, "3")
    assert 0 < four_chunks - one_chunk <= 3 * 12, (one_chunk, four_chunks)
    assert AuditTrail(session).verify(books.org.id).intact


# --- the job ----------------------------------------------------------------------------
PAYMENT_CLEANUP = [
    "DELETE FROM job WHERE organisation_id = :o",
    "DELETE FROM payment_batch_item USING payment_batch"
    " WHERE payment_batch_item.batch_id = payment_batch.id AND payment_batch.organisation_id = :o",
    "DELETE FROM statement_entry WHERE organisation_id = :o",
    "DELETE FROM bank_statement WHERE organisation_id = :o",
    "DELETE FROM payment_batch WHERE organisation_id = :o",
    "DELETE FROM payout WHERE organisation_id = :o",
]


@pytest.fixture
def engine(app: Flask) -> Engine:
    with app.app_context():
        return db.engine


@pytest.fixture
def committed_books(committed_worlds, engine) -> Iterator[Callable[[], dict[str, Any]]]:
    """A committed world with two payouts in a released batch; payments removed after."""
    made: list[int] = []

    def build() -> dict[str, Any]:
        ids: dict[str, Any] = {}

        def extra(world: World) -> None:
            books = Books(world.session, world)
            claim = books.claim("1200.00")
            first, second = books.payout(claim, 0, "700.00"), books.payout(claim, 0, "500.00")
            books.batch([(first, f"J-{RUN_ID}-1"), (second, f"J-{RUN_ID}-2")])
            ids.update(
                claim_id=claim.id,
                finance_id=books.finance.id,
                colleague_id=books.colleague.id,
                payout_ids=[first.id, second.id],
            )

        world = committed_worlds("Gemeente Afschrift Taak", extra)
        made.append(world.org.id)
        return {"organisation_id": world.org.id, **ids}

    yield build
    # Before the worlds go: payouts and statements point at their claims and users.
    with Session(engine) as s:
        for org_id in made:
            for statement in PAYMENT_CLEANUP:
                s.execute(text(statement), {"o": org_id})
        s.commit()


def start_and_run(app: Flask, engine: Engine, user_id: int, data: bytes) -> tuple[Job, str]:
    """Store the upload and start the job as the view would, then deliver it as a worker."""
    with app.app_context():
        key = UploadStore.from_config(app.config).store(data)
        with Session(engine) as s:
            user = s.get(User, user_id)
            assert user is not None
            job = JobService(s).start(Scope.for_user(user), user, STATEMENT_IMPORT,
                                      {"upload_key": key})  # fmt: skip
            s.commit()
            message = outbox_message(s, job.id)
            assert message is not None
            job_id, message_id = job.id, message.id
        with Session(engine) as s:
            assert OutboxConsumer(s, default_handlers()).deliver(message_id) is Outcome.DONE
        with Session(engine) as s:
            done = s.get(Job, job_id)
            assert done is not None
            s.expunge(done)
    return done, key


def test_the_import_runs_as_a_job_and_reports_its_figures(app, engine, committed_books):
    assert default_kinds()[STATEMENT_IMPORT].runner is run_statement_import
    ids = committed_books()
    data = camt_statement(
        f"J-{RUN_ID}",
        [
            debit("J-1", f"J-{RUN_ID}-1", "700.00"),
            debit("J-2", f"J-{RUN_ID}-2", "500.00"),
            debit("J-3", f"J-{RUN_ID}-X", "12.00"),
        ],
    )

    job, key = start_and_run(app, engine, ids["finance_id"], data)

    assert job.status is JobStatus.SUCCEEDED, job.message
    assert job.result == {
        **ImportReport().as_dict(),
        "statements_new": 1,
        "entries_matched": 2,
        "payouts_booked": 2,
        "batches_booked": 1,
        "unmatched": 1,
    }
    assert (job.progress_done, job.progress_total) == (3, 3)
    with Session(engine) as s:
        states = s.scalars(select(Payout.state).where(Payout.id.in_(ids["payout_ids"]))).all()
        assert states == ["booked", "booked"]
        with app.app_context():
            deliver_follows(s)
        assert s.get(Claim, ids["claim_id"]).state == "settled"
        # A finance colleague sees the organisation's imports too.
        colleague = s.get(User, ids["colleague_id"])
        assert JobService(s).get(Scope.for_user(colleague), job.id).id == job.id
    with pytest.raises(FileNotFoundError):
        UploadStore.from_config(app.config).load(key)  # the bank's file is not kept once imported

    refused, _ = start_and_run(app, engine, ids["finance_id"], fixture("xml_bomb.xml"))
    assert refused.status is JobStatus.FAILED
    assert (refused.message or "").startswith("Het bestand bevat XML-declaraties")  # hers: nl
    with Session(engine) as s:
        count = s.scalar(
            select(func.count())
            .select_from(BankStatement)
            .where(BankStatement.organisation_id == ids["organisation_id"])
        )
        assert count == 1


def test_only_finance_starts_an_import(session, books):
    with pytest.raises(Forbidden):
        JobService(session).start(
            Scope.for_user(books.world.assessor), books.world.assessor, STATEMENT_IMPORT, {}
        )


def test_an_import_whose_connection_is_killed_midway_leaves_nothing_and_runs_again(
    app, engine, committed_books
):
    ids = committed_books()
    data = camt_statement(
        f"K-{RUN_ID}",
        [
            debit("K-1", f"J-{RUN_ID}-1", "700.00"),
            debit("K-2", f"J-{RUN_ID}-2", "500.00"),
            debit("K-3", f"J-{RUN_ID}-X", "12.00"),
        ],
    )
    with app.app_context():
        key = UploadStore.from_config(app.config).store(data)
        with Session(engine) as s:
            user = s.get(User, ids["finance_id"])
            job = JobService(s).start(Scope.for_user(user), user, STATEMENT_IMPORT,
                                      {"upload_key": key})  # fmt: skip
            s.commit()
            job_id, message_id = job.id, outbox_message(s, job.id).id
        killed: list[int] = []

        def kill_at_the_entries(conn, cursor, statement, *args) -> None:
            # The statement row is written; its entries are about to be: kill it here.
            if not killed and statement.lstrip().upper().startswith("INSERT INTO STATEMENT_ENTRY"):
                pid = conn.connection.dbapi_connection.info.backend_pid
                url = engine.url.set(drivername="postgresql").render_as_string(False)
                with psycopg.connect(url, autocommit=True) as killer:
                    killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
                killed.append(pid)

        event.listen(engine, "before_cursor_execute", kill_at_the_entries)
        try:
            with Session(engine) as s:
                outcome = OutboxConsumer(s, default_handlers()).deliver(message_id)
        finally:
            event.remove(engine, "before_cursor_execute", kill_at_the_entries)

        assert killed, "the import never reached its entries"
        assert outcome is Outcome.FAILED  # to be tried again, not lost
        with Session(engine) as s:
            of_org = BankStatement.organisation_id == ids["organisation_id"]
            assert s.scalar(select(func.count()).select_from(BankStatement).where(of_org)) == 0
            entries = select(func.count()).select_from(StatementEntry)
            assert (
                s.scalar(entries.where(StatementEntry.organisation_id == ids["organisation_id"]))
                == 0
            )
            states = s.scalars(select(Payout.state).where(Payout.id.in_(ids["payout_ids"]))).all()
            assert states == ["sent", "sent"]  # as before the import
            assert s.get(Job, job_id).status is not JobStatus.SUCCEEDED
        assert UploadStore.from_config(app.config).load(key) == data  # kept for the retry

        later = utcnow() + dt.timedelta(hours=1)
        with Session(engine) as s:
            again = OutboxConsumer(s, default_handlers(), clock=lambda: later).deliver(message_id)

        assert again is Outcome.DONE
        with Session(engine) as s:
            done = s.get(Job, job_id)
            assert done.status is JobStatus.SUCCEEDED, done.message
            assert done.result["statements_new"] == 1 and done.result["entries_matched"] == 2
            assert s.scalar(select(func.count()).select_from(BankStatement).where(of_org)) == 1
            assert (
                s.scalar(entries.where(StatementEntry.organisation_id == ids["organisation_id"]))
                == 3
            )
            states = s.scalars(select(Payout.state).where(Payout.id.in_(ids["payout_ids"]))).all()
            assert states == ["booked", "booked"]
