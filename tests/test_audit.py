"""The audit chain: appended in the change's transaction, verified, and tamper-evident."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from housing.audit.models import AccessLog, AuditEvent
from housing.audit.services import (
    AuditTrail,
    NewLink,
    chain_length,
    payload_digest,
    record_access,
)
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
        roles=reader.roles,
        claim_id=claim.id,
        action="view_claim",
        request_id="abc123",
    )
    logged = session.scalars(select(AccessLog).where(AccessLog.claim_id == claim.id)).one()
    assert (logged.user_id, logged.action) == (reader.id, "view_claim")
    assert logged.roles == ",".join(sorted(reader.roles))
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


def test_an_append_sends_at_most_two_statements(session, count_queries):
    """The head locked (created for the organisation's first link) and read, then the link
    and the head's move in one statement: two, the first append as any later one. Before
    they were four (insert-or-nothing, SELECT ... FOR UPDATE, UPDATE, INSERT)."""
    org = OrganisationFactory()
    session.connection()  # the test's SAVEPOINT begun: production has none to count
    trail = AuditTrail(session)
    with count_queries() as first:
        one = trail.append(org.id, event="first", actor_id=None)
    assert trail.verify(org.id).checked == 1  # loads the head into the session
    with count_queries() as later:
        two = trail.append(org.id, event="second", actor_id=None, payload={"i": 2})
    with count_queries() as batch:
        many = trail.append_many(org.id, [NewLink(f"bulk_{i}", None) for i in range(3)])
    assert len(first) == 2 and "ON CONFLICT" in first[0], first
    assert len(later) == 2, later
    assert "INSERT INTO audit_event" in later[1] and "UPDATE audit_chain_head" in later[1]
    # Many links: the head locked once, ids at once, the head moved, one executemany.
    assert len(batch) == 4, batch
    assert [link.sequence for link in [one, two, *many]] == [1, 2, 3, 4, 5]
    assert two.previous_hash == one.hash and many[0].previous_hash == two.hash
    session.commit()
    report = trail.verify(org.id)  # the head read before the appends is not trusted
    assert report.intact and report.checked == 5
    assert chain_length(session, org.id) == 5


def test_many_writers_keep_one_gapless_chain(app):
    """Eight connections append at once to a new organisation's chain (so its first link
    races too), single links and pairs: the chain verifies, the sequence has no gap, and
    a pair's links sit next to each other."""
    from tests.builders.claims import remove_organisation

    with app.app_context():
        engine = db.engine
    with Session(engine) as setup:
        org = OrganisationFactory.build()
        setup.add(org)
        setup.commit()
        org_id = org.id
    writers, rounds = 8, 4
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with Session(engine) as s:
                barrier.wait(timeout=10)
                trail = AuditTrail(s)
                for r in range(rounds):
                    if r % 2:
                        trail.append_many(
                            org_id, [NewLink(f"pair_{n}_{r}_{i}", None) for i in range(2)]
                        )
                    else:
                        trail.append(org_id, event=f"one_{n}_{r}", actor_id=None)
                    s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        total = writers * (rounds // 2) * 3
        with Session(engine) as check:
            report = AuditTrail(check).verify(org_id)
            assert report.intact and report.checked == total, report
            events = check.scalars(
                select(AuditEvent.event)
                .where(AuditEvent.organisation_id == org_id)
                .order_by(AuditEvent.sequence)
            ).all()
            sequences = check.scalars(
                select(AuditEvent.sequence).where(AuditEvent.organisation_id == org_id)
            ).all()
            assert sorted(sequences) == list(range(1, total + 1))
            assert chain_length(check, org_id) == total
        for position, name in enumerate(events):
            if name.startswith("pair_") and name.endswith("_0"):
                assert events[position + 1] == name[:-1] + "1"
    finally:
        remove_organisation(engine, org_id)


def test_a_rolled_back_append_leaves_nothing_behind(session):
    org = OrganisationFactory()
    trail = AuditTrail(session)
    kept = trail.append(org.id, event="kept", actor_id=None)
    with pytest.raises(RuntimeError), session.begin_nested():
        gone = trail.append(org.id, event="gone", actor_id=None)
        raise RuntimeError("the change it records is refused")
    assert session.get(AuditEvent, gone.id) is None
    assert session.scalar(select(AuditEvent).where(AuditEvent.event == "gone")) is None
    again = trail.append(org.id, event="again", actor_id=None)
    assert again.sequence == 2 and again.previous_hash == kept.hash
    report = trail.verify(org.id)
    assert report.intact and report.checked == 2
