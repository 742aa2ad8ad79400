"""The audit chain: appended in the change's transaction, verified, and tamper-evident."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from housing.audit.models import AccessLog, AuditEvent
from housing.audit.services import AuditTrail, NewLink, payload_digest, record_access
from housing.db import db
from tests.factories import ClaimFactory, OrganisationFactory, UserFactory


def append(session, organisation_id, n=3, **extra):
    trail = AuditTrail(session)
    links = [
        trail.append(
            organisation_id,
            event=f"event_{i}",
            actor_id=None,
            from_state="draft",
            to_state="submitted",
            payload={"amount": Decimal("12.50"), "on": dt.date(2026, 1, 2), "i": i},
            **extra,
        )
        for i in range(n)
    ]
    session.commit()  # into the test's SAVEPOINT, so requests and commands see them
    return links


def test_links_chain_and_verify(session):
    org = OrganisationFactory()
    links = append(session, org.id)
    assert [link.sequence for link in links] == [1, 2, 3]
    assert links[1].previous_hash == links[0].hash
    report = AuditTrail(session).verify(org.id)
    assert report.intact and report.checked == 3


def test_many_links_at_once_chain_as_one_append_after_another(session):
    org = OrganisationFactory()
    append(session, org.id, 2)
    moment = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    trail = AuditTrail(session, clock=lambda: moment)
    links = trail.append_many(
        org.id,
        [
            NewLink(
                event=f"bulk_{i}",
                actor_id=None,
                from_state="sent",
                to_state="booked",
                payload={"i": i},
            )
            for i in range(5)
        ],
    )
    one = trail.append(org.id, event="after", actor_id=None)
    session.commit()
    assert [link.sequence for link in [*links, one]] == [3, 4, 5, 6, 7, 8]
    assert all(link.id is not None for link in links)  # ids taken from the sequence at once
    assert links[0].previous_hash != links[1].previous_hash == links[0].hash
    assert one.previous_hash == links[-1].hash
    assert {link.occurred_at for link in links} == {moment}
    report = AuditTrail(session).verify(org.id)
    assert report.intact and report.checked == 8
    assert trail.append_many(org.id, []) == []


def test_each_organisation_has_its_own_chain(session):
    first, second = OrganisationFactory(), OrganisationFactory()
    append(session, first.id, 2)
    other = append(session, second.id, 1)
    assert other[0].sequence == 1
    assert AuditTrail(session).verify(second.id).intact


def test_payload_digest_is_canonical():
    assert payload_digest({"b": 1, "a": Decimal("1.10")}) == payload_digest(
        {"a": Decimal("1.10"), "b": 1}
    )
    assert payload_digest({"a": 1}) != payload_digest({"a": 2})
    with pytest.raises(TypeError):
        payload_digest({"a": object()})


def test_a_row_altered_by_hand_is_named(session):
    org = OrganisationFactory()
    links = append(session, org.id, 4)
    session.execute(
        text("UPDATE audit_event SET to_state = 'granted' WHERE id = :id"), {"id": links[2].id}
    )
    session.expire_all()
    report = AuditTrail(session).verify(org.id)
    assert not report.intact
    assert report.first_broken_id == links[2].id
    assert report.checked == 2
    assert "changed" in report.problem


def test_a_deleted_link_is_found(session):
    org = OrganisationFactory()
    links = append(session, org.id, 4)
    session.execute(delete(AuditEvent).where(AuditEvent.id == links[1].id))
    report = AuditTrail(session).verify(org.id)
    assert report.first_broken_id == links[2].id and "gone" in report.problem


def test_removing_the_newest_link_is_found(session):
    org = OrganisationFactory()
    links = append(session, org.id, 3)
    session.execute(delete(AuditEvent).where(AuditEvent.id == links[-1].id))
    report = AuditTrail(session).verify(org.id)
    assert not report.intact and "removed" in report.problem


def test_a_rewritten_chain_with_recomputed_hashes_still_breaks_at_the_head(session):
    org = OrganisationFactory()
    links = append(session, org.id, 2)
    session.execute(update(AuditEvent).where(AuditEvent.id == links[1].id).values(hash="f" * 64))
    assert not AuditTrail(session).verify(org.id).intact


def test_the_cli_names_the_broken_event(app, session):
    org = OrganisationFactory(name="Gemeente Keten")
    links = append(session, org.id, 3)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify", "--organisation", "Gemeente Keten"])
    assert ok.exit_code == 0 and "intact (3 events)" in ok.output
    session.execute(text("UPDATE audit_event SET reason = 'x' WHERE id = :id"), {"id": links[0].id})
    session.commit()
    broken = runner.invoke(args=["audit", "verify", "--organisation", "Gemeente Keten"])
    assert broken.exit_code == 1
    assert f"BROKEN at event {links[0].id}" in broken.output


def test_access_is_logged(session):
    claim = ClaimFactory()
    reader = UserFactory(organisation_id=claim.organisation_id)
    record_access(
        session,
        organisation_id=claim.organisation_id,
        user_id=reader.id,
        claim_id=claim.id,
        action="view_claim",
        request_id="abc123",
    )
    logged = session.scalars(select(AccessLog).where(AccessLog.claim_id == claim.id)).one()
    assert (logged.user_id, logged.action) == (reader.id, "view_claim")
    assert logged.occurred_at.tzinfo is not None


def test_two_concurrent_appends_serialise(app, database_url):
    """Two real connections append at once: both succeed, the chain stays a line."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as setup:
        org = OrganisationFactory.build()
        setup.add(org)
        setup.commit()
        org_id = org.id
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with Session(engine) as s:
                barrier.wait(timeout=10)
                AuditTrail(s).append(org_id, event=f"concurrent_{n}", actor_id=None)
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert errors == []
        with Session(engine) as check:
            report = AuditTrail(check).verify(org_id)
            assert report.intact and report.checked == 2
    finally:
        with Session(engine) as cleanup:
            cleanup.execute(
                text("DELETE FROM audit_event WHERE organisation_id = :o"), {"o": org_id}
            )
            cleanup.execute(
                text("DELETE FROM audit_chain_head WHERE organisation_id = :o"), {"o": org_id}
            )
            cleanup.execute(text("DELETE FROM organisation WHERE id = :o"), {"o": org_id})
            cleanup.commit()
