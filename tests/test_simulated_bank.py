"""The simulated bank of the demo and the benchmark writes statements the reader accepts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from housing.payments.camt import CreditDebit, parse_statement
from housing.payments.simulated_bank import PaidBatch, PaidTransfer, statement


def test_a_paid_batch_with_a_return_reads_back_as_the_bank_would_send_it():
    transfers = [
        PaidTransfer("VW-2026-00001-P1", Decimal("300.00"), "Ünal & Zn.", "NL20INGB0001234567"),
        PaidTransfer("VW-2026-00001-P2", Decimal("200.00"), "B", "NL44RABO0123456789", "AC04"),
    ]
    data = statement(
        account_iban="NL91ABNA0417164300",
        statement_id="SIM-2026-0001",
        booked_on=dt.date(2026, 3, 5),
        opening_balance=Decimal("1000.00"),
        batches=[PaidBatch("VW0001B00000001", "VW0001B00000001-1", transfers)],
    )
    (read,) = parse_statement(data).statements  # validated against the XSD on the way
    debit, credit = read.entries
    assert (debit.credit_debit, debit.amount) == (CreditDebit.DEBIT, Decimal("500.00"))
    assert debit.batch.payment_information_id == "VW0001B00000001-1"
    assert [d.end_to_end_id for d in debit.details] == ["VW-2026-00001-P1", "VW-2026-00001-P2"]
    assert (
        credit.credit_debit is CreditDebit.CREDIT and credit.details[0].return_info.code == "AC04"
    )
    assert read.closing_balance.amount == Decimal("700.00")  # 1000 - 500 + 200


def test_a_batch_without_details_carries_only_its_count_and_total():
    data = statement(
        account_iban="NL91ABNA0417164300",
        statement_id="SIM-2026-0002",
        booked_on=dt.date(2026, 3, 6),
        opening_balance=Decimal("0.00"),
        batches=[
            PaidBatch(
                "M1",
                "M1-1",
                [
                    PaidTransfer(f"E{n}", Decimal("10.00"), "X", "NL20INGB0001234567")
                    for n in range(3)
                ],
                with_details=False,
            )
        ],
    )
    (entry,) = parse_statement(data).statements[0].entries
    assert entry.details == () or list(entry.details) == []
    assert entry.batch.number_of_transactions == 3 and entry.batch.total_amount == Decimal("30.00")


def test_a_bank_may_book_each_transfer_as_an_entry_of_its_own():
    transfers = [
        PaidTransfer(f"VW-2026-00001-P{n}", Decimal("12.34"), "X", "NL20INGB0001234567")
        for n in range(4)
    ]
    data = statement(
        account_iban="NL91ABNA0417164300",
        statement_id="SIM-2026-0003",
        booked_on=dt.date(2026, 3, 6),
        opening_balance=Decimal("100.00"),
        batches=[PaidBatch("M1", "M1-1", transfers, entry_per_transfer=True)],
    )
    (read,) = parse_statement(data).statements
    assert len(read.entries) == 4 and len({e.reference for e in read.entries}) == 4
    assert [e.details[0].end_to_end_id for e in read.entries] == [
        t.end_to_end_id for t in transfers
    ]
    assert read.closing_balance.amount == Decimal("50.64")
