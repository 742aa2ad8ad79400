"""Seed N claims into PostgreSQL and measure the assessor inbox: latency and queries.

Run by hand (not in the suite):  .venv/bin/python bench/inbox.py [--claims 100000]
Needs PostgreSQL on 127.0.0.1:5432; creates and drops a database of its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time

import psycopg
from sqlalchemy import event, insert, select

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = f"housing_bench_{os.getpid()}"
OPEN = ["submitted", "in_assessment", "awaiting_info", "awaiting_advice", "decision_proposed"]
CLOSED = ["granted", "refused", "settled", "withdrawn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    os.environ["DATABASE_URL"] = f"{base}/{DATABASE}"
    os.environ.setdefault("HOUSING_INSTANCE_PATH", tempfile.mkdtemp(prefix="housing-bench-"))
    try:
        run(args.claims, args.requests)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def run(claim_count: int, request_count: int) -> None:
    from flask_migrate import upgrade

    from housing import create_app
    from housing.claims.models import Claim
    from housing.db import db
    from housing.organisations.accounts import AccountAdministration
    from housing.organisations.models import Home, OfficeHolder, OfficeType, OrganisationKind
    from housing.organisations.services import OrganisationService
    from housing.roles import Role

    app = create_app({"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        session = db.session
        org = OrganisationService(session).create_organisation(
            kind=OrganisationKind.GEMEENTE, name="Gemeente Bench", iban="NL91ABNA0417164300"
        )
        accounts = AccountAdministration(session)
        accounts.create_user(
            organisation=org,
            email="bench@bench.example",
            full_name="Bench",
            password="inbox-timing-pass-9",
            roles={Role.ASSESSOR},
        )
        applicant = accounts.create_user(
            organisation=org,
            email="applicant@bench.example",
            full_name="Applicant",
            password="inbox-timing-pass-9",
            roles={Role.APPLICANT},
        )
        started = time.perf_counter()
        holders = [
            OfficeHolder(
                organisation=org,
                full_name=f"Wethouder {i}",
                office_type=OfficeType.WETHOUDER,
                term_start=dt.date(2022, 1, 1),
                user=applicant if i == 0 else None,
            )
            for i in range(200)
        ]
        session.add_all(holders)
        session.flush()
        homes = [
            Home(
                office_holder=h,
                street="Straat",
                house_number=str(i),
                postcode="1234 AB",
                city="Bench",
            )
            for i, h in enumerate(holders)
        ]
        session.add_all(homes)
        session.flush()
        rng = random.Random(7)
        today = dt.date.today()
        rows = []
        for n in range(claim_count):
            home = homes[n % len(homes)]
            state = rng.choice(OPEN) if rng.random() < 0.3 else rng.choice(CLOSED)
            received = today - dt.timedelta(days=rng.randint(0, 120))
            rows.append(
                {
                    "organisation_id": org.id,
                    "number": f"VW-B-{n:07d}",
                    "office_holder_id": home.office_holder_id,
                    "home_id": home.id,
                    "filed_by_id": applicant.id,
                    "regime": rng.choice(["A", "B"]),
                    "state": state,
                    "application_date": received,
                    "received_on": received,
                    "decision_deadline": received + dt.timedelta(weeks=8),
                    "version": 1,
                }
            )
            if len(rows) == 10_000:
                session.execute(insert(Claim), rows)
                rows = []
        if rows:
            session.execute(insert(Claim), rows)
        session.commit()
        session.execute(select(1))
        db.session.connection().exec_driver_sql("ANALYZE")
        db.session.commit()
        print(f"seeded {claim_count:,} claims in {time.perf_counter() - started:.1f}s")
        engine = db.engine

    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login",
        data={
            "email": "bench@bench.example",
            "password": "inbox-timing-pass-9",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, "login failed"

    counts: list[int] = []
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    latencies = []
    for i in range(request_count):
        path = "/claims/inbox" if i % 2 == 0 else "/claims/inbox?state=decision_proposed&regime=B"
        seen.clear()
        start = time.perf_counter()
        response = client.get(path)
        latencies.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
        counts.append(len(seen))
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"inbox over {claim_count:,} claims, {request_count} requests:"
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms, queries per request {min(counts)}-{max(counts)}"
    )


if __name__ == "__main__":
    main()
