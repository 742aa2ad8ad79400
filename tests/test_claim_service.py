"""Claim use cases on PostgreSQL: one transaction per event, with its audit link."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.drafting import DraftingService, LineInput
from housing.claims.late_decisions import LateDecisionService
from housing.claims.letters import TOPIC as LETTER_TOPIC
from housing.claims.letters import deliver_decision_letter
from housing.claims.models import Claim, Decision, InformationRequest
from housing.claims.terms import objection_deadline
from housing.claims.workflow import WorkflowService
from housing.db import db
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.organisations.models import Budget, OfficeHolder, OfficeType, OrganisationKind
from housing.organisations.services import OrganisationService
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import OutboxConsumer, Outcome
from housing.roles import Role
from housing.scoping import Scope
from tests.conftest import factories_on
from tests.factories import HomeFactory, UserFactory

# Monday 2 March 2026, 10:00 in Amsterdam.
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, days: int) -> None:
        self.now += dt.timedelta(days=days)


class World:
    """An organisation with a mayor who applies, two assessors, two deciders, a budget."""

    def __init__(self, session: Session, name: str = "Gemeente Proef") -> None:
        self.session = session
        self.org = OrganisationService(session).create_organisation(
            kind=OrganisationKind.GEMEENTE, name=name, iban="NL91ABNA0417164300"
        )
        self.applicant = UserFactory(organisation=self.org, roles={Role.APPLICANT})
        self.holder = OfficeHolder(
            organisation=self.org,
            full_name="Burgemeester Proef",
            office_type=OfficeType.BURGEMEESTER,
            term_start=dt.date(2023, 1, 1),
            user=self.applicant,
        )
        session.add(self.holder)
        session.flush()
        self.home = HomeFactory(office_holder=self.holder)
        self.assessor = UserFactory(organisation=self.org, roles={Role.ASSESSOR})
        self.assessor2 = UserFactory(organisation=self.org, roles={Role.ASSESSOR})
        self.decider = UserFactory(organisation=self.org, roles={Role.DECIDER})
        self.both = UserFactory(organisation=self.org, roles={Role.ASSESSOR, Role.DECIDER})
        session.add(Budget(organisation_id=self.org.id, year=2026, amount=Decimal("10000.00")))
        session.commit()
        self.clock = Clock(MONDAY)
        self.drafting = DraftingService(session, clock=self.clock)
        self.workflow = WorkflowService(session, clock=self.clock, documents=self.documents)
        self.late = LateDecisionService(session, clock=self.clock, documents=self.documents)

    @property
    def documents(self) -> DocumentStore:
        """The one document store the world's claim services share."""
        return self.drafting.documents

    @documents.setter
    def documents(self, store: DocumentStore) -> None:
        for service in (self.drafting, self.workflow, self.late):
            service.documents = store

    def scope(self, user) -> Scope:
        return Scope.for_user(user)

    def letters(self) -> list[Outcome]:
        """Lay out the decision letters asked for, as the outbox worker does."""
        handler = partial(deliver_decision_letter, documents=self.documents)
        consumer = OutboxConsumer(self.session, {LETTER_TOPIC: handler}, clock=self.clock)
        pending = self.session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.topic == LETTER_TOPIC,
                OutboxMessage.status == OutboxStatus.PENDING,
            )
            .order_by(OutboxMessage.id)
        ).all()
        return [consumer.deliver(message_id) for message_id in pending]

    def fire(self, user, claim, event, **kwargs):
        """One unit of work, as a request would do it: fire, then commit."""
        try:
            fired = self.workflow.fire(self.scope(user), user, claim.id, event, **kwargs)
        except Exception:
            self.session.rollback()
            raise
        self.session.commit()
        return fired

    def draft(
        self,
        lines=(("cameras", "1200.00", "208.26"), ("freestanding_letterbox", "400.00", "69.42")),
    ):
        claim = self.drafting.create_draft(
            self.scope(self.applicant), self.applicant, home_id=self.home.id
        )
        for code, amount, vat in lines:
            self.drafting.add_line(
                self.scope(self.applicant),
                self.applicant,
                claim.id,
                LineInput(code, f"{code} voor de voordeur", amount, vat),
            )
        self.session.commit()
        return claim

    def proposed(self, granted=None):
        claim = self.draft()
        self.fire(self.applicant, claim, "submit")
        self.fire(self.assessor, claim, "start_assessment")
        self.fire(self.assessor, claim, "request_advice")
        self.fire(
            self.assessor,
            claim,
            "record_advice",
            details={
                "reference": "BZK-2026-17",
                "advice_date": "2026-03-02",
                "advised_measures": ["cameras", "freestanding_letterbox"],
            },
        )
        lines = {line.id: line.requested_amount for line in claim.lines}
        self.fire(self.assessor, claim, "propose_decision", details={"granted": granted or lines})
        return claim


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
        (LineInput("cameras", "x", "12,50", "0"), "requested_amount"),
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


# What the concurrency test committed for real, child tables first.
# Tests that commit for real (several connections, a real worker) clean up after themselves.
CLEANUP = [
    "DELETE FROM payment_batch_item USING payment_batch"
    " WHERE payment_batch_item.batch_id = payment_batch.id"
    " AND payment_batch.organisation_id = :o",
    "DELETE FROM payment_batch WHERE organisation_id = :o",
    "DELETE FROM statement_entry WHERE organisation_id = :o",
    "DELETE FROM bank_statement WHERE organisation_id = :o",
    "DELETE FROM remainder_closure WHERE organisation_id = :o",
    "DELETE FROM payout WHERE organisation_id = :o",
    "DELETE FROM approval_limit WHERE organisation_id = :o",
    "DELETE FROM job WHERE organisation_id = :o",
    "DELETE FROM sent_mail USING outbox_message"
    " WHERE sent_mail.outbox_message_id = outbox_message.id"
    " AND outbox_message.organisation_id = :o",
    "DELETE FROM notification WHERE organisation_id = :o",
    "DELETE FROM print_item WHERE organisation_id = :o",
    "DELETE FROM outbox_message WHERE organisation_id = :o",
    "DELETE FROM access_log WHERE organisation_id = :o",
    "DELETE FROM decision USING claim"
    " WHERE decision.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM information_request USING claim"
    " WHERE information_request.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM default_notice USING claim"
    " WHERE default_notice.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM woning_scan USING claim"
    " WHERE woning_scan.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM security_advice USING claim"
    " WHERE security_advice.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM document WHERE organisation_id = :o",
    "DELETE FROM audit_event WHERE organisation_id = :o",
    "DELETE FROM audit_chain_head WHERE organisation_id = :o",
    "DELETE FROM measure_line USING claim"
    " WHERE measure_line.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM claim WHERE organisation_id = :o",
    "DELETE FROM home USING office_holder"
    " WHERE home.office_holder_id = office_holder.id AND office_holder.organisation_id = :o",
    "DELETE FROM office_holder WHERE organisation_id = :o",
    "DELETE FROM budget WHERE organisation_id = :o",
    "DELETE FROM user_role USING user_account"
    " WHERE user_role.user_id = user_account.id AND user_account.organisation_id = :o",
    "DELETE FROM user_account WHERE organisation_id = :o",
    "DELETE FROM measure_catalogue WHERE organisation_id = :o",
    "DELETE FROM eligible_office WHERE organisation_id = :o",
    "DELETE FROM organisation WHERE id = :o",
]


def remove_organisation(engine, org_id: int) -> None:
    with Session(engine) as s:
        for statement in CLEANUP:
            s.execute(text(statement), {"o": org_id})
        s.commit()


def test_an_objection_is_lodged_within_six_weeks_and_not_after(world, session, tmp_path):

    world.documents = DocumentStore(tmp_path / "documents")
    claim = world.proposed(granted={})
    for line in claim.lines:
        line.granted_amount = Decimal("0.00")
    session.commit()
    world.fire(world.decider, claim, "refuse", reason="Niet geadviseerd")
    # Refused and sent Monday 2 March 2026: six weeks end Monday 13 April 2026.
    assert objection_deadline(session, claim) == dt.date(2026, 4, 13)
    world.clock.now = dt.datetime(2026, 4, 14, 9, tzinfo=dt.UTC)
    with pytest.raises(InvalidInput) as late:
        world.fire(world.applicant, claim, "lodge_objection", reason="Oneens")
    assert late.value.field_errors["rule"] == ["objection_term"]
    world.clock.now = dt.datetime(2026, 4, 13, 9, tzinfo=dt.UTC)
    world.fire(world.applicant, claim, "lodge_objection", reason="Oneens")
    assert claim.state == "objection"


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
    from housing.claims.models import MeasureLine, Regime
    from housing.organisations.models import MeasureCatalogue
    from tests.factories import ClaimFactory

    safe = session.scalars(
        select(MeasureCatalogue).where(
            MeasureCatalogue.organisation_id == world.org.id,
            MeasureCatalogue.regime == Regime.A,
            MeasureCatalogue.code == "safe",
        )
    ).one()
    old = ClaimFactory(home=world.home, state="archived", regime=Regime.A)
    session.add(
        MeasureLine(
            claim=old, catalogue=safe, description="Kluis", requested_amount=Decimal("2000.00"),
            vat_amount=Decimal("0.00"), granted_amount=Decimal("2000.00"),
        )
    )  # fmt: skip
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
