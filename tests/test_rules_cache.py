"""The organisations' rules kept per process (housing/deadlines/rules.py): read once per
version, and stamped with a fresh version by every change of what is kept, in the
changing transaction, whichever way the change is written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from housing.deadlines.models import EquatedDay
from housing.deadlines.rules import RulesCache
from housing.deadlines.services import add_equated_day
from housing.organisations.models import EligibleOffice, OfficeType, Organisation
from housing.organisations.services import RulesService, TermsData
from housing.scoping import Scope
from tests.factories import OrganisationFactory, UserFactory


def version(session, organisation_id: int) -> str:
    stamp: str = session.scalar(
        select(Organisation.rules_version).where(Organisation.id == organisation_id)
    )
    return stamp


def terms(**changed: object) -> TermsData:
    data = {
        "decision_weeks": 8,
        "information_term_days": 14,
        "not_considered_weeks": 4,
        "regime_a_cap": Decimal("2400.00"),
        "eligible_offices": frozenset(
            {OfficeType.BURGEMEESTER, OfficeType.WETHOUDER, OfficeType.GEDEPUTEERDE}
        ),
    }
    return TermsData(**{**data, **changed})  # type: ignore[arg-type]


def test_the_rules_are_read_once_per_version(session, count_queries):
    org = OrganisationFactory(regime_a_cap=Decimal("1800.00"), decision_weeks=6)
    cache = RulesCache()
    current = version(session, org.id)
    with count_queries() as first:
        rules = cache.rules(session, org.id, current)
    assert rules.settings.regime_a_cap == Decimal("1800.00")
    assert rules.terms.decision_weeks == 6
    assert rules.calendar.is_holiday(dt.date(2026, 5, 15))  # an equated day of 2026
    assert len(first) == 3  # the organisation, its eligible offices, the equated days

    with count_queries() as again:
        assert cache.rules(session, org.id, rules.version) is rules
    assert again == []
    # Asked without the version it holds, the cache reads it: one small statement.
    with count_queries() as unknown:
        assert cache.rules(session, org.id) is rules
    assert len(unknown) == 1 and "rules_version" in unknown[0]


def test_a_new_version_is_read_afresh(session):
    org = OrganisationFactory()
    cache = RulesCache()
    kept = cache.rules(session, org.id)
    org.regime_a_cap = Decimal("900.00")
    session.flush()
    assert version(session, org.id) != kept.version
    fresh = cache.rules(session, org.id, version(session, org.id))
    assert fresh.settings.regime_a_cap == Decimal("900.00")
    assert fresh.version == version(session, org.id)


def test_an_administrators_change_stamps_and_no_change_does_not(session):
    admin = UserFactory(admin=True)
    org_id, scope = admin.organisation_id, Scope.for_user(admin)
    service = RulesService(session)
    before = version(session, org_id)
    service.update_terms(scope, org_id, terms(decision_weeks=6))
    session.flush()
    changed = version(session, org_id)
    assert changed != before

    service.update_terms(scope, org_id, terms(decision_weeks=6))
    session.flush()
    assert version(session, org_id) == changed  # saved as it was: nothing to read again

    offices = frozenset({OfficeType.BURGEMEESTER, OfficeType.RAADSLID})
    service.update_terms(scope, org_id, terms(decision_weeks=6, eligible_offices=offices))
    session.flush()
    assert version(session, org_id) not in (before, changed)


def test_an_eligible_office_written_on_its_own_stamps_its_organisation_only(session):
    org, other = OrganisationFactory(), OrganisationFactory()
    before, other_before = version(session, org.id), version(session, other.id)
    session.add(EligibleOffice(organisation_id=org.id, office_type=OfficeType.RAADSLID))
    session.flush()
    assert version(session, org.id) != before
    assert version(session, other.id) == other_before


def test_an_equated_day_stamps_every_organisation(session):
    first, second = OrganisationFactory(), OrganisationFactory()
    before = {org.id: version(session, org.id) for org in (first, second)}
    add_equated_day(session, dt.date(2031, 5, 30), "Besluit 2031")
    assert all(version(session, ident) != stamp for ident, stamp in before.items())

    cache = RulesCache()
    assert cache.rules(session, first.id).calendar.is_holiday(dt.date(2031, 5, 30))
    stamped = version(session, first.id)
    session.delete(session.get(EquatedDay, dt.date(2031, 5, 30)))
    session.flush()
    assert version(session, first.id) != stamped
    assert not cache.rules(session, first.id).calendar.is_holiday(dt.date(2031, 5, 30))


def test_a_rolled_back_change_leaves_no_version_a_later_change_takes_again(session):
    org = OrganisationFactory()
    session.commit()
    nested = session.begin_nested()
    org.decision_weeks = 5
    session.flush()
    rolled_back = version(session, org.id)
    nested.rollback()
    org = session.get(Organisation, org.id)
    org.decision_weeks = 5
    session.flush()
    # The same change again, a different stamp: a cache filled in the rolled-back
    # transaction (with what it saw) can never pass for the later one.
    assert version(session, org.id) != rolled_back
