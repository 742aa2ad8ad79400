"""Claim use cases on PostgreSQL: one transaction per event, with its audit link."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.drafting import LineInput
from housing.claims.models import Claim, Decision, InformationRequest
from housing.claims.terms import objection_deadline
from housing.claims.workflow import WorkflowService
from housing.db import db
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.organisations.models import Budget
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import MONDAY, World, remove_organisation
from tests.conftest import factories_on


@pytest.fixture
def world(session):
    return World(session)


def test_from_draft_to_a_partial_grant(world, session):
    claim = world.draft()
    assert claim.number == "VW-2026-00001" and claim.state == "draft"
    world.fire(world.applicant, claim, "submit")
    assert claim.state == "submitted" and claim.received_on == dt.date(2026, 3, 2)
    # 8 weeks end Monday 27 April 2026: King's Day, so the term runs to Tuesday the 28th.
    assert claim.decision_deadline == dt.date(2026, 4, 28)

    world.fire(world.assessor, claim, "start_assessment")
    assert claim.assessor_id == world.assessor.id
    world.fire(world.assessor, claim, "request_info", details={"question": "Offerte camera's?"})
    assert claim.state == "awaiting_info"
    assert claim.decision_deadline == dt.date(2026, 5, 11)  # provisional: the full 14 days
    world.clock.advance(3)
    world.fire(world.applicant, claim, "provide_info", details={"answer": "Bijgevoegd"})
    assert claim.decision_deadline == dt.date(2026, 4, 30)  # suspended 3 days only
    request = session.scalars(select(InformationRequest)).one()
    assert request.answered_on == dt.date(2026, 3, 5) and request.answer == "Bijgevoegd"

    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-1",
            "advice_date": "2026-03-04",
            "advised_measures": ["cameras", "freestanding_letterbox"],
        },
    )
    camera, letterbox = claim.lines
    world.fire(
        world.assessor,
        claim,
        "propose_decision",
        details={
            "granted": {camera.id: "1200.00", letterbox.id: "300.00"},
            "line_reasons": {letterbox.id: "Eenvoudiger model volstaat"},
        },
    )
    world.fire(world.decider, claim, "grant_partially", reason="Brievenbus deels")
    assert claim.state == "granted" and claim.decided_by_id == world.decider.id

    budget = session.scalars(select(Budget).where(Budget.organisation_id == world.org.id)).one()
    assert budget.committed == Decimal("1500.00")
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
    assert (decision.kind, decision.prepared_by_id, decision.decided_by_id) == (
        "partial_grant",
        world.assessor.id,
        world.decider.id,
    )
    session.commit()
    events = session.scalars(
        select(AuditEvent.event)
        .where(AuditEvent.claim_id == claim.id)
        .order_by(AuditEvent.sequence)
    ).all()
    assert events == [
        "create",
        "submit",
        "start_assessment",
        "request_info",
        "provide_info",
        "request_advice",
        "record_advice",
        "propose_decision",
        "grant_partially",
    ]
    assert AuditTrail(session).verify(world.org.id).intact


def test_the_proposer_never_decides(world):
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.both, claim, "start_assessment")
    world.fire(world.both, claim, "request_advice")
    world.fire(
        world.both,
        claim,
        "record_advice",
        details={
            "reference": "R",
            "advice_date": "2026-03-02",
            "advised_measures": ["cameras", "freestanding_letterbox"],
        },
    )
    world.fire(
        world.both,
        claim,
        "propose_decision",
        details={"granted": {line.id: line.requested_amount for line in claim.lines}},
    )
    with pytest.raises(Forbidden) as refused:
        world.fire(world.both, claim, "grant")
    assert refused.value.field_errors["rule"] == ["four_eyes"]


def test_a_mayor_who_decides_never_decides_on_their_own_claim(world, session):
    world.applicant.roles = {Role.APPLICANT, Role.DECIDER}
    session.commit()
    claim = world.proposed()
    with pytest.raises(Forbidden) as refused:
        world.fire(world.applicant, claim, "grant")
    assert refused.value.field_errors["rule"] == ["self_decision"]


def test_a_grant_beyond_the_budget_is_refused_and_changes_nothing(world, session):
    budget = session.scalars(select(Budget).where(Budget.organisation_id == world.org.id)).one()
    budget.amount = Decimal("1000.00")
    session.commit()
    claim = world.proposed()
    with pytest.raises(InvalidInput) as refused:
        world.fire(world.decider, claim, "grant")
    assert refused.value.field_errors["rule"] == ["budget"]
    fresh = session.get(Claim, claim.id)
    session.refresh(fresh)
    assert fresh.state == "decision_proposed"
    assert session.scalars(select(Budget.committed).where(Budget.id == budget.id)).one() == 0


def test_an_event_the_state_does_not_allow_is_a_conflict(world):
    claim = world.draft()
    with pytest.raises(Conflict, match="draft"):
        world.fire(world.assessor, claim, "start_assessment")


def test_unknown_events_and_other_organisations(world, session):
    claim = world.draft()
    with pytest.raises(InvalidInput):
        world.fire(world.applicant, claim, "explode")
    other = World(session, name="Gemeente Elders")
    with pytest.raises(NotFound):
        other.workflow.fire(
            Scope.for_user(other.assessor), other.assessor, claim.id, "start_assessment"
        )


def test_only_the_applicant_edits_a_draft_and_only_a_draft(world):
    claim = world.draft()
    with pytest.raises(Forbidden):
        world.drafting.add_line(
            world.scope(world.assessor),
            world.assessor,
            claim.id,
            LineInput("cameras", "x", "1", "0"),
        )
    world.fire(world.applicant, claim, "submit")
    with pytest.raises(Conflict):
        world.drafting.add_line(
            world.scope(world.applicant),
            world.applicant,
            claim.id,
            LineInput("cameras", "x", "1", "0"),
        )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (LineInput("cameras", "x", "1e3", "0"), "requested_amount"),
        (LineInput("cameras", "x", "1.250,00", "0"), "requested_amount"),
        (LineInput("cameras", "x", "0", "0"), "requested_amount"),
        (LineInput("cameras", "x", "10.001", "0"), "requested_amount"),
        (LineInput("cameras", "x", "100", "101"), "vat_amount"),
        (LineInput("tank", "x", "100", "0"), "catalogue_code"),
        (LineInput("cameras", "x", "100", "0", recurrence="monthly"), "recurrence"),
        (LineInput("cameras", "", "100", "0"), "description"),
    ],
)
def test_bad_lines_are_refused_by_field(world, line, field):
    claim = world.draft(lines=())
    with pytest.raises(InvalidInput) as refused:
        world.drafting.add_line(world.scope(world.applicant), world.applicant, claim.id, line)
    assert field in refused.value.field_errors


def test_before_2021_no_regime_applies(world, session):
    world.holder.term_start = dt.date(2019, 1, 1)  # in office, but before any regime
    session.commit()
    world.clock.now = dt.datetime(2020, 6, 1, 9, tzinfo=dt.UTC)
    claim = world.draft(lines=())
    assert claim.regime is None
    with pytest.raises(InvalidInput) as refused:
        world.fire(world.applicant, claim, "submit")
    assert refused.value.field_errors["rule"] == ["regime_none"]


def test_two_concurrent_starts_one_wins_one_conflicts(app, database_url):
    """Two real connections fire the same event at once: exactly one succeeds."""
    with app.app_context():
        engine = db.engine
    with Session(engine) as setup, factories_on(setup):
        world = World(setup, name="Gemeente Gelijktijdig")
        claim = world.draft()
        world.fire(world.applicant, claim, "submit")
        setup.commit()
        claim_id, org_id = claim.id, world.org.id
        assessors = [world.assessor.id, world.assessor2.id]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start(user_id: int) -> None:
        from housing.accounts.models import User

        with Session(engine) as s:
            user = s.get(User, user_id)
            barrier.wait(timeout=10)
            try:
                WorkflowService(s, clock=lambda: MONDAY).fire(
                    Scope.for_user(user), user, claim_id, "start_assessment"
                )
                s.commit()
                outcomes.append("ok")
            except Conflict:
                s.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=start, args=(u,)) for u in assessors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert sorted(outcomes) == ["conflict", "ok"]
        with Session(engine) as check:
            starts = check.scalar(
                select(func.count()).where(
                    AuditEvent.claim_id == claim_id, AuditEvent.event == "start_assessment"
                )
            )
            assert starts == 1
            assert AuditTrail(check).verify(org_id).intact
    finally:
        remove_organisation(engine, org_id)


def test_the_objection_term_runs_six_weeks_from_the_sent_decision(world, session, tmp_path):
    from housing.claims.documents import DocumentStore

    world.documents = DocumentStore(tmp_path / "documents")
    claim = world.proposed(granted={})
    for line in claim.lines:
        line.granted_amount = Decimal("0.00")
    session.commit()
    world.fire(world.decider, claim, "refuse", reason="Niet geadviseerd")
    # Refused and sent Monday 2 March 2026: six weeks end Monday 13 April 2026.
    assert objection_deadline(session, claim) == dt.date(2026, 4, 13)


def test_the_system_archives_after_seven_years(world, session):
    claim = world.draft()
    world.fire(world.applicant, claim, "withdraw")
    system = Scope.system_scope()
    with pytest.raises(InvalidInput) as early:
        world.workflow.fire(system, None, claim.id, "retention_expired")
    assert early.value.field_errors["rule"] == ["retention_running"]
    session.rollback()
    world.clock.now = MONDAY.replace(year=2033, month=3, day=3)
    world.workflow.fire(system, None, claim.id, "retention_expired")
    assert claim.state == "archived"


def test_every_rule_reads_as_a_sentence_in_the_users_language(world, session, app):
    from housing.workflow import RULE_MESSAGES
    from workflows.rules import Rule

    assert set(RULE_MESSAGES) == set(Rule)
    claim = world.proposed()
    with app.test_request_context(), pytest.raises(Forbidden) as refused:
        world.fire(world.assessor, claim, "grant")
    # Dutch by default; the workflow's own sentence is kept for integrations.
    assert refused.value.message == "Uw rol staat deze stap niet toe."
    assert refused.value.field_errors["rule"] == ["role"]
    assert "decider" in refused.value.field_errors["detail"][0]


def test_amounts_nobody_else_proposed_cannot_be_granted(world, session):
    """Four eyes in substance: a sent-back proposal's amounts leave with it."""
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.both, claim, "start_assessment")
    world.fire(world.both, claim, "request_advice")
    world.fire(
        world.both,
        claim,
        "record_advice",
        details={
            "reference": "BZK-1",
            "advice_date": "2026-03-02",
            "advised_measures": ["cameras", "freestanding_letterbox"],
        },
    )
    full = {line.id: line.requested_amount for line in claim.lines}
    world.fire(world.both, claim, "propose_decision", details={"granted": full})
    world.fire(world.decider, claim, "send_back")
    assert all(line.granted_amount is None for line in claim.lines)
    world.fire(world.both, claim, "request_info", details={"question": "Offerte?"})
    world.clock.advance(15)
    system = Scope.system_scope()
    world.workflow.fire(system, None, claim.id, "info_term_expired")
    session.commit()
    assert claim.state == "decision_proposed" and claim.proposed_by_id is None
    with pytest.raises(InvalidInput) as refused:
        world.fire(world.both, claim, "grant")
    assert refused.value.field_errors["rule"] == ["grant_not_full"]
    world.fire(world.both, claim, "declare_not_considered")
    assert claim.state == "not_considered"


def test_an_archived_grant_still_counts_against_the_homes_regime_a_cap(world, session):
    from housing.claims.models import Regime
    from tests.factories import ClaimFactory

    # A safe of 2,000.00 granted in full under regime A long ago, since archived.
    old = ClaimFactory(
        home=world.home,
        archived=True,
        application_date=dt.date(2022, 5, 2),
        lines=[("safe", "2000.00", "0.00")],
    )
    assert old.regime is Regime.A
    assert [(line.catalogue_code, line.granted_amount) for line in old.lines] == [
        ("safe", Decimal("2000.00"))
    ]
    claim = world.drafting.create_draft(
        world.scope(world.applicant), world.applicant, home_id=world.home.id
    )
    claim.application_date, claim.regime = dt.date(2023, 5, 1), Regime.A
    session.flush()
    world.drafting.add_line(
        world.scope(world.applicant), world.applicant, claim.id,
        LineInput("safe", "Tweede kluis", "1000.00", "0.00"),
    )  # fmt: skip
    session.commit()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    (line,) = claim.lines
    with pytest.raises(InvalidInput) as refused:
        world.fire(
            world.assessor, claim, "propose_decision", details={"granted": {line.id: "1000.00"}}
        )
    assert refused.value.field_errors["rule"] == ["regime_a_cap"]
