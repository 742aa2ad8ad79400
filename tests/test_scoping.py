"""The scope decides which rows each actor sees, for every scoped model."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import housing.models  # noqa: F401
from housing.accounts.models import ApiToken, User
from housing.organisations.models import Home, OfficeHolder, Organisation
from housing.roles import Role
from housing.scoping import Scope, scoped_models
from tests.factories import ApiTokenFactory, HomeFactory, OfficeHolderFactory, UserFactory


@pytest.fixture
def world(session):
    """Two organisations, each with an applicant who holds an office and a home."""
    homes = {}
    for name in ("own", "other"):
        applicant = UserFactory()
        holder = OfficeHolderFactory(organisation=applicant.organisation, user=applicant)
        homes[name] = HomeFactory(office_holder=holder)
    # A colleague in the own organisation with an office and home of their own.
    own_org = homes["own"].office_holder.organisation
    colleague_holder = OfficeHolderFactory(organisation=own_org)
    homes["colleague"] = HomeFactory(office_holder=colleague_holder)
    return homes


def ids(session, scope: Scope, model) -> set[int]:
    return set(session.scalars(select(model.id).where(*scope.criteria(model))))


def staff_scope(world, role: Role) -> Scope:
    org = world["own"].office_holder.organisation_id
    return Scope(user_id=-1, organisation_id=org, roles=frozenset({role}))


def test_every_case_model_has_a_rule():
    assert {Organisation, User, ApiToken, OfficeHolder, Home} <= scoped_models()


def test_an_applicant_sees_only_their_own_office_and_home(session, world):
    applicant = world["own"].office_holder.user
    scope = Scope.for_user(applicant)
    assert ids(session, scope, OfficeHolder) == {world["own"].office_holder_id}
    assert ids(session, scope, Home) == {world["own"].id}
    assert ids(session, scope, User) == {applicant.id}


@pytest.mark.parametrize("role", [Role.ASSESSOR, Role.DECIDER])
def test_case_handlers_see_every_home_of_their_organisation_only(session, world, role):
    scope = staff_scope(world, role)
    assert ids(session, scope, Home) == {world["own"].id, world["colleague"].id}


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN, Role.AUDITOR])
def test_the_address_is_hidden_from_those_who_do_not_handle_cases(session, world, role):
    assert ids(session, staff_scope(world, role), Home) == set()


def test_admins_see_the_office_holders_of_their_organisation(session, world):
    scope = staff_scope(world, Role.ADMIN)
    assert ids(session, scope, OfficeHolder) == {
        world["own"].office_holder_id,
        world["colleague"].office_holder_id,
    }


def test_an_auditor_sees_no_case_data(session, world):
    scope = staff_scope(world, Role.AUDITOR)
    assert ids(session, scope, OfficeHolder) == set()
    assert ids(session, scope, Organisation) == {world["own"].office_holder.organisation_id}


def test_tokens_are_personal_even_for_admins(session, world):
    admin = UserFactory(admin=True, organisation=world["own"].office_holder.organisation)
    colleague_token = ApiTokenFactory(user=world["own"].office_holder.user)
    own_token = ApiTokenFactory(user=admin)
    assert ids(session, Scope.for_user(admin), ApiToken) == {own_token.id}
    assert colleague_token.id not in ids(session, Scope.for_user(admin), ApiToken)


def test_nobody_and_inactive_users_see_nothing(session, world):
    inactive = UserFactory(inactive=True, admin=True)
    for scope in (Scope.nobody(), Scope.for_user(inactive)):
        for model in (Organisation, User, OfficeHolder, Home):
            assert ids(session, scope, model) == set()


def test_get_returns_none_outside_the_scope(session, world):
    scope = Scope.for_user(world["own"].office_holder.user)
    assert scope.get(session, Home, world["own"].id) is not None
    assert scope.get(session, Home, world["other"].id) is None


def test_a_model_without_a_rule_is_refused():
    with pytest.raises(LookupError, match="no scope rule"):
        Scope.nobody().criteria(int)


def test_only_the_system_scope_sees_every_organisation(session, world):
    everything = ids(session, Scope.system_scope(), Home)
    assert {world["own"].id, world["other"].id, world["colleague"].id} <= everything
    assert Scope.for_user(world["own"].office_holder.user).system is False


def _homes_by_id(scope: Scope):
    return scope.select(Home).where(Home.id.in_(select(Home.id)))


def test_a_statement_built_once_reads_each_scopes_own_rows(session, world):
    """`Scope.statement` builds once per kind of scope; each caller's organisation and user
    are bound at execution, so the first caller's values are never read for the next."""
    own, other = world["own"].office_holder.user, world["other"].office_holder.user
    own_statement, own_values = Scope.for_user(own).statement(_homes_by_id)
    other_statement, other_values = Scope.for_user(other).statement(_homes_by_id)
    assert own_statement is other_statement
    assert set(session.scalars(own_statement, own_values).all()) == {world["own"]}
    assert set(session.scalars(other_statement, other_values).all()) == {world["other"]}

    # A case handler of the own organisation: another statement (other roles), the
    # organisation's homes, none of the other organisation's.
    staff, staff_values = staff_scope(world, Role.ASSESSOR).statement(_homes_by_id)
    assert staff is not own_statement
    assert set(session.scalars(staff, staff_values).all()) == {world["own"], world["colleague"]}
    # Finance never reads addresses, built once or not.
    finance, finance_values = staff_scope(world, Role.FINANCE).statement(_homes_by_id)
    assert session.scalars(finance, finance_values).all() == []


def test_a_statement_builder_may_not_keep_a_callers_values(world):
    """A builder that closed over a value would hand the first caller's value to everyone:
    refused before anything is built."""
    scope = staff_scope(world, Role.ASSESSOR)
    home_id = world["own"].id

    def one_home(scope: Scope):
        return scope.select(Home).where(Home.id == home_id)

    def with_default(scope: Scope, home_id: int = home_id):
        return scope.select(Home).where(Home.id == home_id)

    for build in (one_home, with_default):
        with pytest.raises(TypeError, match="shape"):
            scope.statement(build)
