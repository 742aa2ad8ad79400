"""Payment batches and bank statements at scale, and at double the scale.

Run by hand (not in the suite):
    .venv/bin/python bench/payments.py [--payouts 10000] [--entries 50000] [--part all]

Prints the time to build, approve and release (generate and validate against the XSD) a
batch of N approved payouts, and to import and match a camt.053 statement of M entries
(one entry per transfer, as the simulated bank writes it), then the same at 2N and 2M.
Needs PostgreSQL on 127.0.0.1:5432; creates and drops a database of its own per size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from decimal import Decimal

import psycopg
from sqlalchemy import insert, select

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IBANS = ["NL20INGB0001234567", "NL44RABO0123456789", "NL39RABO0300065264", "NL91ABNA0417164300"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--part", choices=["all", "batch", "statement"], default="all")
    args = parser.parse_args()
    os.environ.setdefault("HOUSING_INSTANCE_PATH", tempfile.mkdtemp(prefix="housing-bench-"))
    for factor in (1, 2):
        if args.part in ("all", "batch"):
            with database(f"batch{factor}") as app:
                report_batch(app, args.payouts * factor)
        if args.part in ("all", "statement"):
            with database(f"statement{factor}") as app:
                report_statement(app, args.entries * factor)


class database:
    """A fresh, migrated database for one measurement; dropped afterwards."""

    def __init__(self, tag: str) -> None:
        self.name = f"housing_bench_pay_{tag}_{os.getpid()}"

    def __enter__(self):  # type: ignore[no-untyped-def]
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        os.environ["DATABASE_URL"] = f"{base}/{self.name}"
        from flask_migrate import upgrade

        from housing import create_app

        self.app = create_app(
            {"OUTBOX_RELAY_ON_COMMIT": False, "RATELIMIT_STORAGE_URI": "memory://"}
        )
        self.context = self.app.app_context()
        self.context.push()
        upgrade()
        return self.app

    def __exit__(self, *exc: object) -> None:
        from housing.db import db

        db.session.remove()
        db.engine.dispose()
        self.context.pop()
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def seed(count: int, payout_state: str):  # type: ignore[no-untyped-def]
    """An organisation with `count` granted claims, each with one payout in `payout_state`."""
    from housing.claims.models import Claim, MeasureLine, Regime
    from housing.db import db
    from housing.organisations.accounts import AccountAdministration
    from housing.organisations.models import (
        Budget,
        Home,
        MeasureCatalogue,
        OfficeHolder,
        OfficeType,
        OrganisationKind,
    )
    from housing.organisations.services import OrganisationService
    from housing.payments.models import ApprovalLimit, Payout, PayoutKind
    from housing.roles import Role

    session = db.session
    org = OrganisationService(session).create_organisation(
        kind=OrganisationKind.GEMEENTE, name="Gemeente Bench", iban="NL91ABNA0417164300"
    )
    accounts = AccountAdministration(session)
    finance = [
        accounts.create_user(
            organisation=org,
            email=f"f{n}@bench.example",
            full_name=f"F{n}",
            password="bench-finance-pass-9",
            roles={Role.FINANCE},
        )
        for n in (1, 2)
    ]
    for user in finance:
        session.add(ApprovalLimit(user_id=user.id, organisation_id=org.id, amount=Decimal(10**6)))
    holder = OfficeHolder(
        organisation=org,
        full_name="Wethouder Bench",
        office_type=OfficeType.WETHOUDER,
        term_start=dt.date(2022, 1, 1),
    )
    session.add(holder)
    session.flush()
    home = Home(
        office_holder=holder, street="Straat", house_number="1", postcode="1234 AB", city="Bench"
    )
    session.add(home)
    session.add(Budget(organisation_id=org.id, year=dt.date.today().year, amount=Decimal(10**9)))
    session.flush()
    cameras = session.scalars(
        select(MeasureCatalogue.id).where(
            MeasureCatalogue.organisation_id == org.id, MeasureCatalogue.code == "cameras"
        )
    ).one()
    started = time.perf_counter()
    for offset in range(0, count, 5_000):
        size = min(5_000, count - offset)
        claim_ids = session.scalars(
            insert(Claim).returning(Claim.id),
            [
                {
                    "organisation_id": org.id,
                    "number": f"VW-2026-{offset + n:06d}",
                    "office_holder_id": holder.id,
                    "home_id": home.id,
                    "filed_by_id": finance[0].id,
                    "regime": Regime.B,
                    "state": "granted",
                    "received_on": dt.date(2026, 3, 2),
                    "application_date": dt.date(2026, 3, 2),
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
                    "organisation_id": org.id,
                    "claim_id": claim_id,
                    "measure_line_id": line_id,
                    "kind": PayoutKind.SUPPLIER,
                    "state": payout_state,
                    "payee_name": f"Leverancier Ünal & Zn. {n % 97}",
                    "payee_iban": IBANS[n % len(IBANS)],
                    "amount": Decimal("250.00"),
                    "vat_amount": Decimal("43.39"),
                    "invoice_number": f"F-{offset + n}",
                    "invoice_date": dt.date(2026, 3, 1),
                    "version": 1,
                }
                for n, (claim_id, line_id) in enumerate(zip(claim_ids, line_ids, strict=True))
            ],
        )
    session.commit()
    print(f"  seeded {count:,} claims with a payout in {time.perf_counter() - started:.1f}s")
    return org, finance


def report_batch(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from housing.db import db
    from housing.payments.batches import BatchService
    from housing.scoping import Scope

    print(f"batch of {count:,} approved payouts:")
    _org, (first, second) = seed(count, "approved")
    service = BatchService(db.session)
    started = time.perf_counter()
    batch = service.build(Scope.for_user(first), first, execution_date=dt.date(2026, 12, 2))
    service.approve(Scope.for_user(first), first, batch.id)
    db.session.commit()
    built = time.perf_counter()
    service.release(Scope.for_user(second), second, batch.id)
    db.session.commit()
    released = time.perf_counter()
    size = len(service.file(Scope.for_user(first), batch.id))
    print(
        f"  build + approve {built - started:.1f}s; release (pain.001 of {size / 1e6:.1f} MB,"
        f" XSD-validated, {count:,} payouts sent, their claims queued to follow)"
        f" {released - built:.1f}s; total {released - started:.1f}s"
    )


def report_statement(app, count: int) -> None:  # type: ignore[no-untyped-def]
    from housing import services
    from housing.db import db
    from housing.payments.models import PaymentBatch, PaymentBatchItem, Payout
    from housing.payments.simulated_bank import PaidBatch, PaidTransfer, statement

    print(f"statement of {count:,} entries:")
    org, (first, second) = seed(count, "sent")
    session = db.session
    batch = PaymentBatch(
        organisation_id=org.id,
        state="released",
        msg_id="BENCH-MSG-1",
        pmt_inf_id="BENCH-PMT-1",
        pain_version="pain.001.001.09",
        execution_date=dt.date(2026, 12, 2),
        item_count=count,
        total=Decimal("250.00") * count,
        created_by_id=first.id,
        approved_by_id=first.id,
        released_by_id=second.id,
        released_at=dt.datetime.now(dt.UTC),
        file_data=b"-",
        file_sha256="0" * 64,
    )
    session.add(batch)
    session.flush()
    payouts = session.execute(select(Payout.id, Payout.payee_iban).order_by(Payout.id)).all()
    session.execute(
        insert(PaymentBatchItem),
        [
            {
                "batch_id": batch.id,
                "payout_id": payout_id,
                "end_to_end_id": f"VW-B-P{payout_id}",
                "amount": Decimal("250.00"),
                "payee_name": "Leverancier",
                "payee_iban": iban,
                "remittance": "Bench",
            }
            for payout_id, iban in payouts
        ],
    )
    session.commit()
    # Fresh statistics, as autovacuum would give a real database: without them PostgreSQL
    # reads the batch's items by batch instead of by their unique EndToEndId.
    session.connection().exec_driver_sql("ANALYZE")
    session.commit()
    data = statement(
        account_iban="NL91ABNA0417164300",
        statement_id="BENCH-STMT-1",
        booked_on=dt.date(2026, 12, 3),
        opening_balance=Decimal(10**9),
        batches=[
            PaidBatch(
                batch.msg_id,
                batch.pmt_inf_id,
                [
                    PaidTransfer(f"VW-B-P{pid}", Decimal("250.00"), "Leverancier", iban)
                    for pid, iban in payouts
                ],
                entry_per_transfer=True,
            )
        ],
    )
    started = time.perf_counter()
    report = services.statement_import(session).import_file(org.id, first.id, data)
    session.commit()
    elapsed = time.perf_counter() - started
    print(f"  import and match ({len(data) / 1e6:.0f} MB): {elapsed:.1f}s; {report}")


if __name__ == "__main__":
    main()
