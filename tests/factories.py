"""factory-boy factories with traits; they commit into the test's SAVEPOINT."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select

from housing.accounts.factors import requires_second_factor
from housing.accounts.models import ApiToken, Channel, Language, TotpFactor, User
from housing.accounts.passwords import hash_password
from housing.claims.models import (
    Claim,
    Decision,
    DecisionKind,
    InformationRequest,
    MeasureLine,
    Regime,
    SecurityAdvice,
)
from housing.clock import utcnow
from housing.db import db
from housing.deadlines.services import atw_calendar, awb_terms
from housing.organisations.catalogue import seed_catalogue
from housing.organisations.models import (
    Budget,
    Home,
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.roles import Role
from tests.conftest import PASSWORD
from tests.second_factor import factor_secret
from workflows import awb
from workflows.claim import ClaimState
from workflows.rules import granted_total, regime_for

# Hashing is deliberately slow; every factory user shares one hash of PASSWORD.
PASSWORD_HASH = hash_password(PASSWORD)
IBANS = ["NL44RABO0123456789", "NL20INGB0001234567", "NL14BNGH0285001234", "NL91ABNA0417164300"]


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class OrganisationFactory(Base):
    class Meta:
        model = Organisation

    kind = OrganisationKind.GEMEENTE
    name = factory.Sequence(lambda n: f"Gemeente Test {n}")
    iban = factory.Sequence(lambda n: IBANS[n % len(IBANS)])
    bic = None

    class Params:
        province = factory.Trait(
            kind=OrganisationKind.PROVINCIE, name=factory.Sequence(lambda n: f"Provincie Test {n}")
        )


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@test.example")
    organisation_id = None
    full_name = factory.Faker("name", locale="nl_NL")
    password_hash = PASSWORD_HASH
    # Given an organisation_id, use that organisation; otherwise make one.
    organisation = factory.Maybe(
        "organisation_id",
        yes_declaration=factory.LazyAttribute(
            lambda o: db.session.get(Organisation, o.organisation_id)
        ),
        no_declaration=factory.SubFactory(OrganisationFactory),
    )
    language = Language.NL
    channel_preference = Channel.ELECTRONIC
    roles = frozenset({Role.APPLICANT})

    @factory.post_generation
    def second_factor(obj: User, create: bool, extracted: bool | None, **kwargs: object) -> bool:
        """Staff users have their authenticator app set up, with a secret of their own
        (`tests.second_factor.factor_secret`); `second_factor=False` makes one who has not
        yet, `second_factor=True` an applicant who has."""
        wanted = requires_second_factor(obj) if extracted is None else extracted
        if create and wanted:
            db.session.add(
                TotpFactor(user_id=obj.id, secret=factor_secret(obj.email), confirmed_at=utcnow())
            )
        # True: the factory commits once more, with the factor.
        return bool(create and wanted)

    class Params:
        admin = factory.Trait(roles=frozenset({Role.ADMIN}))
        assessor = factory.Trait(roles=frozenset({Role.ASSESSOR}))
        decider = factory.Trait(roles=frozenset({Role.DECIDER}))
        finance = factory.Trait(roles=frozenset({Role.FINANCE}))
        auditor = factory.Trait(roles=frozenset({Role.AUDITOR}))
        inactive = factory.Trait(active=False)


class OfficeHolderFactory(Base):
    class Meta:
        model = OfficeHolder

    organisation = factory.SubFactory(OrganisationFactory)
    full_name = factory.Faker("name", locale="nl_NL")
    office_type = OfficeType.WETHOUDER
    term_start = dt.date(2022, 6, 1)
    term_end = None
    user = None

    class Params:
        mayor = factory.Trait(office_type=OfficeType.BURGEMEESTER)
        councillor = factory.Trait(office_type=OfficeType.RAADSLID)


class HomeFactory(Base):
    class Meta:
        model = Home

    office_holder = factory.SubFactory(OfficeHolderFactory)
    street = factory.Faker("street_name", locale="nl_NL")
    house_number = factory.Sequence(lambda n: str(n + 1))
    postcode = factory.Faker("postcode", locale="nl_NL")
    city = factory.Faker("city", locale="nl_NL")
    is_registered_address = True


class ApiTokenFactory(Base):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    name = "test"
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    prefix = "vw_test"


# What a claim asks for once it leaves the draft: the World's two regime B measures.
DEFAULT_LINES = (("cameras", "1200.00", "208.26"), ("freestanding_letterbox", "400.00", "69.42"))
# States whose proposal or decision grants what was requested; a refusal grants nothing.
GRANTED_IN_FULL = frozenset(
    {
        ClaimState.DECISION_PROPOSED,
        ClaimState.GRANTED,
        ClaimState.IN_PAYMENT,
        ClaimState.SETTLED,
        ClaimState.ARCHIVED,
    }
)
GRANTED_NOTHING = frozenset({ClaimState.REFUSED, ClaimState.NOT_CONSIDERED})
# States reached by a decision, and the decision each records.
DECISION_OF = {
    ClaimState.GRANTED: DecisionKind.GRANT,
    ClaimState.IN_PAYMENT: DecisionKind.GRANT,
    ClaimState.SETTLED: DecisionKind.GRANT,
    ClaimState.ARCHIVED: DecisionKind.GRANT,
    ClaimState.REFUSED: DecisionKind.REFUSAL,
    ClaimState.NOT_CONSIDERED: DecisionKind.NOT_CONSIDERED,
}


def staff(organisation_id: int, role: Role) -> int:
    """A new colleague of the organisation with this one role: the claim's handler."""
    return UserFactory(organisation_id=organisation_id, roles=frozenset({role})).id


def catalogue_entry(claim: Claim, code: str) -> MeasureCatalogue:
    """The organisation's catalogue entry for the claim's regime (seeded when missing)."""
    organisation = db.session.get(Organisation, claim.organisation_id)
    assert organisation is not None and claim.regime is not None
    seed_catalogue(db.session, organisation)
    return db.session.scalars(
        select(MeasureCatalogue).where(
            MeasureCatalogue.organisation_id == claim.organisation_id,
            MeasureCatalogue.regime == claim.regime,
            MeasureCatalogue.code == code,
        )
    ).one()


def decision_deadline(claim: Claim) -> dt.date:
    """The deadline the claim service keeps: from receipt, held by information requests."""
    assert claim.received_on is not None
    requests = db.session.scalars(
        select(InformationRequest).where(InformationRequest.claim_id == claim.id)
    )
    return awb.decision_deadline(
        claim.received_on,
        calendar=atw_calendar(db.session),
        terms=awb_terms(claim.office_holder.organisation),
        information_requests=[
            awb.InformationRequest(r.requested_on, r.answered_on, r.term_days) for r in requests
        ],
    ).deadline


class ClaimFactory(Base):
    """A draft claim by the office holder themselves, for their registered home."""

    class Meta:
        model = Claim

    home = factory.SubFactory(HomeFactory)
    office_holder = factory.SelfAttribute("home.office_holder")
    organisation_id = factory.SelfAttribute("office_holder.organisation_id")
    filed_by_id = factory.LazyAttribute(
        lambda o: (
            o.office_holder.user_id or UserFactory(organisation=o.office_holder.organisation).id
        )
    )
    number = factory.Sequence(lambda n: f"VW-2026-{n:06d}")
    state = ClaimState.DRAFT.value
    application_date = dt.date(2026, 3, 2)
    # The regime in force on the application date, as submitting sets it.
    regime = factory.LazyAttribute(lambda o: regime_for(o.application_date))

    class Params:
        """Workflow states, each with what reaching it through the claim service leaves.

        `ClaimFactory(granted=True)`: measure lines granted in full, the advice, the
        assessor who proposed and another staff member who decided, the decision and the
        budget committed. Lines default to the World's two; pass `lines=[(code, amount,
        vat), ...]` for others. No audit links, letters or notices are written: where a
        test reads those, fire the events through the claim service (builders.claims.World).
        """

        submitted = factory.Trait(
            state=ClaimState.SUBMITTED.value, received_on=factory.SelfAttribute("application_date")
        )
        in_assessment = factory.Trait(
            submitted=True,
            state=ClaimState.IN_ASSESSMENT.value,
            assessor_id=factory.LazyAttribute(lambda o: staff(o.organisation_id, Role.ASSESSOR)),
        )
        awaiting_info = factory.Trait(in_assessment=True, state=ClaimState.AWAITING_INFO.value)
        awaiting_advice = factory.Trait(in_assessment=True, state=ClaimState.AWAITING_ADVICE.value)
        decision_proposed = factory.Trait(
            in_assessment=True,
            state=ClaimState.DECISION_PROPOSED.value,
            proposed_by_id=factory.SelfAttribute("assessor_id"),
        )
        granted = factory.Trait(
            decision_proposed=True,
            state=ClaimState.GRANTED.value,
            decided_by_id=factory.LazyAttribute(lambda o: staff(o.organisation_id, Role.DECIDER)),
        )
        refused = factory.Trait(
            decision_proposed=True,
            state=ClaimState.REFUSED.value,
            decided_by_id=factory.LazyAttribute(lambda o: staff(o.organisation_id, Role.DECIDER)),
        )
        withdrawn = factory.Trait(submitted=True, state=ClaimState.WITHDRAWN.value)
        # Seven years after the grant; what was granted still counts against the home's cap.
        archived = factory.Trait(granted=True, state=ClaimState.ARCHIVED.value)

    @factory.post_generation
    def lines(
        claim: Claim, create: bool, extracted: Sequence[tuple[str, str, str]] | None, **_: object
    ) -> None:
        """Measure lines: as given, else the default two once the claim left the draft."""
        if not create:
            return
        state = ClaimState(claim.state)
        wanted = DEFAULT_LINES if extracted is None and state is not ClaimState.DRAFT else ()
        for code, amount, vat in extracted if extracted is not None else wanted:
            requested = Decimal(amount)
            granted = (
                requested
                if state in GRANTED_IN_FULL
                else Decimal("0.00")
                if state in GRANTED_NOTHING
                else None
            )
            db.session.add(
                MeasureLine(
                    claim=claim,
                    catalogue=catalogue_entry(claim, code),
                    description=f"{code} voor de voordeur",
                    requested_amount=requested,
                    vat_amount=Decimal(vat),
                    granted_amount=granted,
                )
            )
        db.session.flush()

    @factory.post_generation
    def consequences(claim: Claim, create: bool, extracted: object, **_: object) -> None:
        """The rows the service writes on the way: request, advice, decision, budget."""
        if not create or claim.received_on is None:
            return
        state = ClaimState(claim.state)
        received = claim.received_on
        if state is ClaimState.AWAITING_INFO:
            db.session.add(
                InformationRequest(
                    claim_id=claim.id,
                    requested_by_id=claim.assessor_id,
                    requested_on=received,
                    term_days=14,
                    question="Offerte van de camera's?",
                )
            )
        if claim.proposed_by_id is not None and claim.regime is Regime.B:
            db.session.add(
                SecurityAdvice(
                    claim=claim,
                    reference="BZK-2026-17",
                    advice_date=received,
                    advised_measures=",".join(
                        sorted({line.catalogue_code for line in claim.lines})
                    ),
                    contents="",
                )
            )
        kind = DECISION_OF.get(state)
        if kind is not None:
            db.session.add(
                Decision(
                    claim_id=claim.id,
                    kind=kind,
                    prepared_by_id=claim.proposed_by_id,
                    decided_by_id=claim.decided_by_id,
                    decided_at=dt.datetime.combine(received, dt.time(10), dt.UTC),
                    sent_on=received,
                    reasons="Zoals voorgesteld.",
                    legal_basis="Subsidieregeling beveiliging ambtsdragers",
                )
            )
        if kind is DecisionKind.GRANT:
            total = granted_total(claim.lines)
            budget = db.session.scalars(
                select(Budget).where(
                    Budget.organisation_id == claim.organisation_id, Budget.year == received.year
                )
            ).one_or_none()
            if budget is None:
                budget = Budget(
                    organisation_id=claim.organisation_id,
                    year=received.year,
                    amount=max(total, Decimal("10000.00")),
                )
                db.session.add(budget)
            budget.committed = (budget.committed or Decimal("0.00")) + total
        db.session.flush()
        claim.decision_deadline = decision_deadline(claim)
