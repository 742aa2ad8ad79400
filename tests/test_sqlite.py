"""The embedded default (SQLite) runs the same migrations, demo data and encryption."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from housing import create_app
from housing.accounts.models import User
from housing.accounts.services import AccountService
from housing.db import db
from housing.demo import DEMO_PASSWORD, seed
from housing.organisations.models import Home


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setenv("HOUSING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_demo_seed_on_sqlite_is_idempotent_and_encrypts(sqlite_app):
    first = seed(db.session)
    db.session.commit()
    second = seed(db.session)
    db.session.commit()
    assert first.created > 0 and second.created == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 21
    raw = db.session.execute(text("SELECT street FROM home LIMIT 1")).scalar()
    assert raw.startswith("gAAAA")
    home = db.session.scalars(select(Home).limit(1)).one()
    assert not home.street.startswith("gAAAA")
    user = AccountService(db.session).authenticate("beheerder@duinwijk.example", DEMO_PASSWORD)
    assert user is not None and user.primary_role == "admin"
    # Aware datetimes come back from SQLite too.
    assert user.created_at.tzinfo is not None


def test_on_sqlite_a_page_reads_while_a_worker_writes(sqlite_app):
    """web, worker and beat share the file: every connection is in WAL mode (a reader
    never waits for a writer, even while it commits) and a writer waits its turn."""
    seed(db.session)
    db.session.commit()
    engine = db.engine
    with engine.connect() as writer, engine.connect() as reader:
        assert writer.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert writer.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15_000
        writer.exec_driver_sql("BEGIN IMMEDIATE")  # the worker holds the write lock
        writer.execute(text("UPDATE user_account SET full_name = 'Bezig' WHERE id = 1"))
        # Seen as it was before the write: no "database is locked" for the page.
        name = reader.execute(text("SELECT full_name FROM user_account WHERE id = 1")).scalar()
        assert name and name != "Bezig"
        writer.rollback()


def test_on_sqlite_an_idempotency_key_does_the_work_once(sqlite_app):
    from housing.claims.models import Claim
    from housing.organisations.accounts import AccountAdministration
    from housing.organisations.models import OfficeHolder

    seed(db.session)
    db.session.commit()
    home = db.session.scalars(
        select(Home).join(OfficeHolder).where(OfficeHolder.user_id.is_not(None)).limit(1)
    ).one()
    applicant = home.office_holder.user
    _token, secret = AccountAdministration(db.session).issue_token(applicant, "sqlite")
    db.session.commit()
    home_id = home.id
    claims = db.session.scalar(select(func.count()).select_from(Claim))
    db.session.remove()
    client = sqlite_app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "sqlite-1"}

    first = client.post("/api/v1/claims", headers=headers, json={"home_id": home_id})
    again = client.post("/api/v1/claims", headers=headers, json={"home_id": home_id})

    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert db.session.scalar(select(func.count()).select_from(Claim)) == claims + 1


def test_on_sqlite_the_audit_chain_appends_and_verifies(sqlite_app):
    """SQLite has no data-modifying CTE: its appends take their own path to the same chain."""
    from housing.audit.services import AuditTrail, NewLink, chain_length
    from housing.organisations.models import Organisation

    seed(db.session)  # fires workflow events: the demo's chains
    db.session.commit()
    org_id = db.session.scalars(select(Organisation.id).order_by(Organisation.id)).first()
    assert org_id is not None
    trail = AuditTrail(db.session)
    before = trail.verify(org_id)
    assert before.intact and before.checked > 0
    one = trail.append(org_id, event="sqlite_one", actor_id=None, reason="één")
    pair = trail.append_many(org_id, [NewLink(f"sqlite_{i}", None) for i in range(2)])
    db.session.commit()
    assert [one.sequence, *(link.sequence for link in pair)] == [
        before.checked + 1,
        before.checked + 2,
        before.checked + 3,
    ]
    assert pair[0].previous_hash == one.hash and pair[1].previous_hash == pair[0].hash
    after = trail.verify(org_id)
    assert after.intact and after.checked == before.checked + 3
    assert chain_length(db.session, org_id) == after.checked


def test_on_sqlite_the_claim_detail_and_the_list_by_cursor_read_as_on_postgresql(sqlite_app):
    """The detail's one statement (a claim joined to its numbered parts) and the list's
    cursor (a row comparison, the claims without a deadline last) are SQL SQLite reads too."""
    import re

    from housing.accounts.models import UserRole
    from housing.organisations.accounts import AccountAdministration
    from housing.organisations.models import OfficeHolder
    from housing.roles import Role

    seed(db.session)
    db.session.commit()
    home = db.session.scalars(
        select(Home).join(OfficeHolder).where(OfficeHolder.user_id.is_not(None)).limit(1)
    ).one()
    assessor = db.session.scalars(
        select(User)
        .join(UserRole)
        .where(
            UserRole.role == Role.ASSESSOR,
            User.organisation_id == home.office_holder.organisation_id,
        )
    ).first()
    assert assessor is not None
    tokens = AccountAdministration(db.session)
    _token, applicant = tokens.issue_token(home.office_holder.user, "sqlite")
    _token, secret = tokens.issue_token(assessor, "sqlite")
    home_id, assessor_id = home.id, assessor.id
    db.session.commit()
    db.session.remove()
    test_client = sqlite_app.test_client()

    class client:  # stands in for the test client
        """Each request in an app context of its own, as when served: the fixture's would
        be shared by them all, and with it `g`, the caller authenticated once."""

        @staticmethod
        def get(path: str, **kwargs):
            with sqlite_app.app_context():
                return test_client.get(path, **kwargs)

        @staticmethod
        def post(path: str, **kwargs):
            with sqlite_app.app_context():
                return test_client.post(path, **kwargs)

    for _ in range(3):  # drafts: no deadline, listed last
        created = client.post(
            "/api/v1/claims",
            headers={"Authorization": f"Bearer {applicant}"},
            json={"home_id": home_id},
        )
        assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {secret}"}

    whole = client.get("/api/v1/claims?page_size=100", headers=headers).get_json()
    assert len(whole) >= 5 and whole[-1]["deadline"]["decision_deadline"] is None
    seen, path = [], "/api/v1/claims?page_size=2"
    while path:
        page = client.get(path, headers=headers)
        assert page.status_code == 200, page.text
        seen += page.get_json()
        found = re.fullmatch(r'<([^>]+)>; rel="next"', page.headers.get("Link", ""))
        path = found.group(1) if found else ""
    assert [c["id"] for c in seen] == [c["id"] for c in whole]
    for claim in whole:
        detail = client.get(f"/api/v1/claims/{claim['id']}", headers=headers)
        assert detail.status_code == 200, detail.text
        body = detail.get_json()
        assert body["lines"] == claim["lines"] and body["deadline"] == claim["deadline"]
        assert [h["sequence"] for h in body["history"]] == sorted(
            h["sequence"] for h in body["history"]
        )
    # Each read logged, by a statement of its own here (PostgreSQL's goes with the read).
    from housing.audit.models import AccessLog

    logged = db.session.scalars(
        select(AccessLog).where(AccessLog.user_id == assessor_id).order_by(AccessLog.id)
    ).all()
    assert [(row.claim_id, row.action, row.roles) for row in logged] == [
        (claim["id"], "view_claim", "assessor") for claim in whole
    ]


def test_on_sqlite_the_dashboards_figures_and_charts_are_those_of_postgresql(sqlite_app):
    """The median (an aggregate of our own on SQLite, percentile_cont on PostgreSQL), the
    day in Amsterdam of a decision and the days between two dates, all inside the query."""
    import datetime as dt
    import statistics

    from housing.claims.figures import Period, claims_by_state, deadlines, lead_times
    from housing.claims.models import Claim, Decision, DecisionKind
    from housing.payments import figures as money
    from housing.payments.queries import budget_overview
    from housing.scoping import Scope

    seed(db.session)
    db.session.commit()
    assessor = db.session.scalars(
        select(User).where(User.email == "beoordelaar@rivierstad.example")
    ).one()
    claim = db.session.scalars(
        select(Claim).where(
            Claim.organisation_id == assessor.organisation_id, Claim.state == "granted"
        )
    ).first()
    assert claim is not None and claim.received_on is not None
    received = claim.received_on
    # Five more decisions on the demo's claim: 10, 20, 70 days in one month, 30 and 45 in
    # the next; 23:30 UTC in winter is the next day in Amsterdam.
    start = dt.datetime(2027, 1, 1, 23, 30, tzinfo=dt.UTC)
    received = start.date() - dt.timedelta(days=70)
    claim.received_on = received
    claim.decision_deadline = received + dt.timedelta(days=56)
    for moment in db.session.scalars(select(Decision).where(Decision.claim_id == claim.id)):
        db.session.delete(moment)
    for days in (10, 20, 70, 30 + 31, 45 + 31):
        db.session.add(
            Decision(
                claim_id=claim.id,
                kind=DecisionKind.GRANT,
                decided_at=dt.datetime.combine(
                    received + dt.timedelta(days=days - 1), dt.time(23, 30), dt.UTC
                ),
                reasons="-",
                legal_basis="-",
            )
        )
    db.session.commit()
    scope = Scope.for_user(assessor)
    months = {m.month: m for m in lead_times(db.session, scope, Period())}
    # Decided at 23:30 UTC the day before: in Amsterdam (00:30) that day itself.
    days_by_month: dict[str, list[int]] = {}
    for days in (10, 20, 70, 61, 76):
        day = received + dt.timedelta(days=days)
        days_by_month.setdefault(day.strftime("%Y-%m"), []).append(days)
    assert set(months) == set(days_by_month)
    for month, found in days_by_month.items():
        assert months[month].decided == len(found)
        assert months[month].median_days == statistics.median(found)
        assert months[month].worst_days == max(found)
        assert months[month].on_time == sum(1 for d in found if d <= 56)
    assert sum(claims_by_state(db.session, scope, Period()).values()) == db.session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.organisation_id == assessor.organisation_id, Claim.received_on.is_not(None))
    )
    assert deadlines(db.session, scope, Period(), dt.date(2026, 12, 7)).overdue >= 0

    finance = db.session.scalars(
        select(User).where(User.email == "financien@rivierstad.example")
    ).one()
    money_scope = Scope.for_user(finance)
    table = {y.year: y for y in budget_overview(db.session, money_scope)}
    for year in money.budget(db.session, money_scope, Period()):
        assert year == table[year.year]
    months_of_payouts = money.payouts_by_month(db.session, money_scope, Period())
    assert sum(m.in_progress for m in months_of_payouts) >= 1
    money.spend_by_measure(db.session, money_scope, Period())
    db.session.remove()
