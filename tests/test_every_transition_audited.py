"""Every transition of the four machines, fired through `housing.workflow`, writes one link.

The cases are read from each machine's own transition table, so a transition added later
is covered without touching this file. Each fires on PostgreSQL, on a row locked as the
services lock it, and checks the chain grew by exactly one link naming the event, the
state it left and the state it reached.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, chain_length
from housing.claims.models import Claim, Decision, DecisionKind, Objection
from housing.payments.models import PaymentBatch, Payout, PayoutKind
from housing.roles import Role
from housing.scoping import Scope
from housing.workflow import fire
from tests.builders.claims import MONDAY, World
from tests.factories import UserFactory
from workflows.claim import EVENT_ROLES as CLAIM_ROLES
from workflows.claim import WORKFLOW as CLAIM
from workflows.machine import Workflow
from workflows.objection import EVENT_ROLES as OBJECTION_ROLES
from workflows.objection import WORKFLOW as OBJECTION
from workflows.objection import ObjectionContext
from workflows.payments import (
    BATCH,
    BATCH_EVENT_ROLES,
    PAYOUT,
    PAYOUT_EVENT_ROLES,
    PaymentContext,
    PayoutState,
)
from workflows.rules import ClaimContext, OrganisationSettings, Regime
from workflows.rules import Role as WorkflowRole

TODAY = MONDAY.date()
AUDIT_PREFIX = {"claim": "", "objection": "objection_", "payout": "payout_", "batch": "batch_"}


@dataclass(frozen=True)
class Case:
    workflow: Workflow[Any, Any]
    source: Any
    event: Any
    dest: Any

    def __str__(self) -> str:
        return f"{self.workflow.name}:{self.source.value}-{self.event.value}-{self.dest.value}"


CASES = [
    Case(workflow, source, event, dest)
    for workflow in (CLAIM, OBJECTION, PAYOUT, BATCH)
    for source, event, dest in workflow.transition_table()
]


def test_every_machine_has_cases() -> None:
    for workflow in (CLAIM, OBJECTION, PAYOUT, BATCH):
        assert len([c for c in CASES if c.workflow is workflow]) == len(workflow.transition_table())


class Books:
    """An organisation with claim and finance staff; objects put in any state."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.world = World(session, name="Gemeente Overal")
        self.finance = UserFactory(organisation=self.world.org, roles={Role.FINANCE})
        self.finance2 = UserFactory(organisation=self.world.org, roles={Role.FINANCE})
        session.commit()

    def user_for(self, role: WorkflowRole) -> Any:
        return {
            WorkflowRole.APPLICANT: self.world.applicant,
            WorkflowRole.ASSESSOR: self.world.assessor,
            WorkflowRole.DECIDER: self.world.decider,
            WorkflowRole.FINANCE: self.finance,
            WorkflowRole.SYSTEM: None,
        }[role]

    # --- claims -------------------------------------------------------------------------
    def claim(self, case: Case) -> tuple[Claim, Any]:
        claim = self.world.draft()
        if case.source.value != "draft":
            claim.application_date = TODAY
            claim.regime = Regime.B
        for line in claim.lines:
            # What each decision needs: all of it, part of it, or nothing.
            line.granted_amount = {
                "grant_partially": line.requested_amount / 2,
                "refuse": Decimal("0.00"),
            }.get(case.event.value, line.requested_amount)
        claim.state = case.source.value
        self.session.flush()
        context = ClaimContext(
            today=TODAY,
            settings=OrganisationSettings(),
            budget_remaining=Decimal("1000000.00"),
            regime_a_granted_for_home=Decimal("0.00"),
            advised_measure_codes=frozenset(line.catalogue_code for line in claim.lines),
            info_term_ends_on=TODAY - dt.timedelta(days=1),
            retention_ends_on=TODAY - dt.timedelta(days=1),
        )
        return self._locked(Claim, claim.id), context

    # --- objections ----------------------------------------------------------------------
    def objection(self, case: Case) -> tuple[Objection, ObjectionContext]:
        claim = self.world.draft()
        claim.state = "refused"
        decision = Decision(
            claim_id=claim.id,
            kind=DecisionKind.REFUSAL,
            prepared_by_id=self.world.assessor.id,
            decided_by_id=self.world.decider.id,
            sent_on=TODAY,
            reasons="Afgewezen",
            legal_basis="Awb",
        )
        self.session.add(decision)
        self.session.flush()
        objection = Objection(
            organisation_id=self.world.org.id,
            claim=claim,
            decision=decision,
            state=case.source.value,
            lodged_on=TODAY,
            term_ends_on=TODAY + dt.timedelta(weeks=6),
            grounds="Oneens",
            lodged_by_id=self.world.applicant.id,
        )
        self.session.add(objection)
        if case.source.value != "new":
            # Stored from lodged on: a new objection is lodged in the transaction it is made.
            self.session.flush()
            objection = self._locked(Objection, objection.id)
        return objection, ObjectionContext(reasons="Zo besloten")

    # --- payouts ------------------------------------------------------------------------
    def payout(self, case: Case) -> tuple[Payout, PaymentContext]:
        claim = self.world.draft()
        payout = Payout(
            organisation_id=self.world.org.id,
            claim_id=claim.id,
            measure_line_id=claim.lines[0].id,
            kind=PayoutKind.SUPPLIER,
            state=case.source.value,
            payee_name="Leverancier",
            payee_iban="NL20INGB0001234567",
            amount=Decimal("100.00"),
            vat_amount=Decimal("0.00"),
            invoice_number=f"F-{case}",
            invoice_date=TODAY,
            requested_by_id=self.world.assessor.id,
            first_approved_by_id=(
                self.finance2.id if case.source is PayoutState.FIRST_APPROVED else None
            ),
        )
        self.session.add(payout)
        self.session.flush()
        # Within the limit the approval is final; above it a second check is due.
        limit = Decimal("0.00") if case.dest is PayoutState.FIRST_APPROVED else Decimal("1e6")
        context = PaymentContext(approval_limit=limit, reason="Zo besloten")
        return self._locked(Payout, payout.id), context

    # --- batches ------------------------------------------------------------------------
    def batch(self, case: Case) -> tuple[PaymentBatch, PaymentContext]:
        batch = PaymentBatch(
            organisation_id=self.world.org.id,
            state=case.source.value,
            msg_id="VW-AUDIT-1",
            pmt_inf_id="VW-AUDIT-1-1",
            pain_version="pain.001.001.09",
            execution_date=TODAY,
            item_count=1,
            total=Decimal("100.00"),
            created_by_id=self.finance.id,
            # Approved by the other one: the actor may release it.
            approved_by_id=self.finance2.id if case.source.value != "open" else None,
            # Frozen as a release freezes it (a released or booked batch must be).
            released_at=MONDAY,
            file_data=b"-",
            file_sha256="0" * 64,
        )
        self.session.add(batch)
        self.session.flush()
        return self._locked(PaymentBatch, batch.id), PaymentContext(reason="Zo besloten")

    def _locked(self, model: type[Any], ident: int) -> Any:
        return Scope.system_scope().get_for_update(self.session, model, ident)


ROLES: dict[str, Any] = {
    "claim": CLAIM_ROLES,
    "objection": OBJECTION_ROLES,
    "payout": PAYOUT_EVENT_ROLES,
    "batch": BATCH_EVENT_ROLES,
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_transition_writes_exactly_one_audit_link(case: Case, session: Session) -> None:
    books = Books(session)
    name = case.workflow.name
    obj, context = getattr(books, name)(case)
    user = books.user_for(ROLES[name][case.event])
    org = books.world.org.id
    before = chain_length(session, org)

    record = fire(
        AuditTrail(session, books.world.clock),
        case.workflow,
        obj,
        case.event.value,
        user=user,
        context=context,
        reason="Zo besloten",
    )
    session.flush()

    assert (record.source, record.dest) == (case.source, case.dest)
    assert obj.state == case.dest.value
    links = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organisation_id == org, AuditEvent.sequence > before)
        .order_by(AuditEvent.sequence)
    ).all()
    assert [(link.event, link.from_state, link.to_state) for link in links] == [
        (f"{AUDIT_PREFIX[name]}{case.event.value}", case.source.value, case.dest.value)
    ]
    assert links[0].actor_id == (user.id if user is not None else None)
    assert AuditTrail(session).verify(org).intact
