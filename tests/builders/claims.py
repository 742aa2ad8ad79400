"""A claims world: an organisation, its mayor, assessors, deciders and a budget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from housing.claims.documents import DocumentStore
from housing.claims.drafting import DraftingService, LineInput
from housing.claims.late_decisions import LateDecisionService
from housing.claims.letters import TOPIC as LETTER_TOPIC
from housing.claims.letters import deliver_decision_letter
from housing.claims.workflow import WorkflowService
from housing.organisations.models import Budget, OfficeHolder, OfficeType, OrganisationKind
from housing.organisations.services import OrganisationService
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import OutboxConsumer, Outcome
from housing.roles import Role
from housing.scoping import Scope
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

    # The test app's config (conftest's `app` fixture sets it): the world keeps documents
    # where the app's pages read them (DOCUMENT_ROOT), unless a test gives it a store.
    app_config: Mapping[str, Any] = {}

    def __init__(
        self,
        session: Session,
        name: str = "Gemeente Proef",
        documents: DocumentStore | None = None,
    ) -> None:
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
        store = documents or DocumentStore.from_config(self.app_config)
        self.drafting = DraftingService(session, clock=self.clock, documents=store)
        self.workflow = WorkflowService(session, clock=self.clock, documents=store)
        self.late = LateDecisionService(session, clock=self.clock, documents=store)

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

    def serve_pages(self, monkeypatch) -> None:
        """The claim services as `housing.services` builds them for the pages and the API,
        on the world's clock and document store."""
        world = self
        for service in (DraftingService, LateDecisionService, WorkflowService):

            class OnWorldClock(service):  # type: ignore[valid-type,misc]
                def __init__(self, session, *args, **kwargs):
                    super().__init__(session, clock=world.clock, documents=world.documents)

            monkeypatch.setattr(f"housing.services.{service.__name__}", OnWorldClock)

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


# What a test committed for real, child tables first.
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
    "DELETE FROM objection WHERE organisation_id = :o",
    "DELETE FROM decision USING claim"
    " WHERE decision.claim_id = claim.id AND claim.organisation_id = :o",
    # Documents first: an answer's attachments refer to their information request.
    "DELETE FROM document WHERE organisation_id = :o",
    "DELETE FROM claim_note WHERE organisation_id = :o",
    "DELETE FROM information_request USING claim"
    " WHERE information_request.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM default_notice USING claim"
    " WHERE default_notice.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM woning_scan USING claim"
    " WHERE woning_scan.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM security_advice USING claim"
    " WHERE security_advice.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM audit_event WHERE organisation_id = :o",
    "DELETE FROM audit_chain_head WHERE organisation_id = :o",
    "DELETE FROM measure_line USING claim"
    " WHERE measure_line.claim_id = claim.id AND claim.organisation_id = :o",
    "DELETE FROM claim WHERE organisation_id = :o",
    "DELETE FROM home USING office_holder"
    " WHERE home.office_holder_id = office_holder.id AND office_holder.organisation_id = :o",
    "DELETE FROM office_holder WHERE organisation_id = :o",
    "DELETE FROM budget WHERE organisation_id = :o",
    # Their linked identities go with them (ON DELETE CASCADE).
    "DELETE FROM sign_in_provider WHERE organisation_id = :o",
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
