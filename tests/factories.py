"""factory-boy factories with traits; they commit into the test's SAVEPOINT."""

from __future__ import annotations

import datetime as dt

import factory
from factory.alchemy import SQLAlchemyModelFactory

from housing.accounts.models import ApiToken, Channel, Language, User
from housing.accounts.passwords import hash_password
from housing.claims.models import Claim, Regime
from housing.db import db
from housing.organisations.models import (
    Home,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.roles import Role
from tests.conftest import PASSWORD

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
    state = "draft"
    application_date = dt.date(2026, 3, 2)
    regime = Regime.B
