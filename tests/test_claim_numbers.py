"""Claim numbers: per organisation and year, never the same twice, also when at once."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.claims.drafting import DraftingService, next_claim_number
from housing.claims.models import Claim, ClaimNumberCounter
from housing.db import db
from housing.scoping import Scope
from tests.conftest import factories_on
from tests.test_claim_service import MONDAY, World, remove_organisation


def test_numbers_count_per_organisation_and_year(session):
    world, other = World(session), World(session, name="Gemeente Ander")
    first, second = world.draft(), world.draft()
    assert (first.number, second.number) == ("VW-2026-00001", "VW-2026-00002")
    assert other.draft().number == "VW-2026-00001"
    world.clock.now = dt.datetime(2027, 1, 4, 9, tzinfo=dt.UTC)
    assert world.draft().number == "VW-2027-00001"
    counters = session.scalars(
        select(ClaimNumberCounter)
        .where(ClaimNumberCounter.organisation_id == world.org.id)
        .order_by(ClaimNumberCounter.year)
    ).all()
    assert [(c.year, c.last_number) for c in counters] == [(2026, 2), (2027, 1)]


def test_a_draft_rolled_back_gives_its_number_back(session):
    world = World(session)
    assert next_claim_number(session, world.org.id, 2026) == 1
    session.rollback()
    assert world.draft().number == "VW-2026-00001"


def test_two_drafts_started_at_once_get_two_numbers(app):
    """Two real connections start a draft in one organisation at the same moment."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as setup, factories_on(setup):
        world = World(setup, name="Gemeente Tegelijk")
        applicant_id, home_id, org_id = world.applicant.id, world.home.id, world.org.id
    barrier = threading.Barrier(2)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        with Session(engine) as s:
            user = s.get_one(User, applicant_id)
            barrier.wait(timeout=10)
            try:
                claim = DraftingService(s, clock=lambda: MONDAY).create_draft(
                    Scope.for_user(user), user, home_id=home_id
                )
                # Both are inside their transaction before either commits: counting the
                # claims here would give both the same number.
                time.sleep(0.3)
                s.commit()
                numbers.append(claim.number)
            except BaseException as exc:  # any failure is the test's to report
                s.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert errors == []
        assert sorted(numbers) == ["VW-2026-00001", "VW-2026-00002"]
        with Session(engine) as check:
            stored = check.scalars(
                select(Claim.number).where(Claim.organisation_id == org_id).order_by(Claim.number)
            ).all()
            assert stored == ["VW-2026-00001", "VW-2026-00002"]
    finally:
        remove_organisation(engine, org_id)
