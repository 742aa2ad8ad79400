"""The claim pages: inbox by deadline, filters, a claim with its timeline, least privilege."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select, update

from housing.audit.models import AccessLog
from housing.claims.models import Claim
from housing.db import db
from housing.roles import Role
from tests.conftest import login
from tests.factories import UserFactory
from tests.test_claim_service import World


def submitted(world, n):
    claims = []
    for _ in range(n):
        claim = world.draft()
        world.fire(world.applicant, claim, "submit")
        claims.append(claim)
    return claims


def test_the_inbox_lists_open_claims_nearest_deadline_first(client, session):
    world = World(session)
    first, second = submitted(world, 2)
    session.execute(
        update(Claim).where(Claim.id == first.id).values(decision_deadline=dt.date(2026, 6, 1))
    )
    session.execute(
        update(Claim).where(Claim.id == second.id).values(decision_deadline=dt.date(2026, 3, 1))
    )
    session.commit()
    login(client, world.assessor.email)
    page = client.get("/claims/inbox").text
    assert page.index(second.number) < page.index(first.number)
    assert "dagen te laat" in page  # 1 March 2026 lies in the past: overdue
    assert client.get("/claims/inbox?state=granted").status_code == 400
    assert client.get("/claims/inbox?regime=C").status_code == 400
    assert second.number in client.get("/claims/inbox?state=submitted&regime=B").text


def test_the_inbox_query_count_does_not_grow(app, client, session):
    world = World(session)
    login(client, world.assessor.email)
    with app.app_context():
        engine = db.engine

    def queries() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("/claims/inbox").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    submitted(world, 2)
    few = queries()
    submitted(world, 8)
    assert queries() == few


def test_a_claim_page_shows_the_timeline_and_logs_the_read(client, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    login(client, world.assessor.email)
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200
    assert claim.number in page.text and "Ingediend" in page.text
    logged = session.scalars(select(AccessLog).where(AccessLog.claim_id == claim.id)).all()
    assert [(row.user_id, row.action) for row in logged] == [(world.assessor.id, "view_claim")]


def test_claims_are_private(client, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    claim_id = claim.id
    stranger = World(session, name="Gemeente Anders")
    login(client, stranger.assessor.email)
    assert client.get(f"/claims/{claim_id}").status_code == 404
    assert claim.number not in client.get("/claims/inbox").text


def test_an_applicant_sees_only_their_own_claims(app, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    owner_client, colleague_client = app.test_client(), app.test_client()
    login(owner_client, world.applicant.email)
    login(colleague_client, colleague.email)
    assert claim.number in owner_client.get("/claims/mine").text
    assert owner_client.get(f"/claims/{claim.id}").status_code == 200
    assert claim.number not in colleague_client.get("/claims/mine").text
    assert colleague_client.get(f"/claims/{claim.id}").status_code == 404


def test_administrators_and_auditors_do_not_read_claims(app, session):
    world = World(session)
    (claim,) = submitted(world, 1)
    for role in (Role.ADMIN, Role.AUDITOR):
        user = UserFactory(organisation_id=world.org.id, roles={role})
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get(f"/claims/{claim.id}").status_code == 403
        assert browser.get("/claims/inbox").status_code == 403
