"""The rules an organisation works by, kept per process: its settings (eligible offices,
regime A cap), its Awb terms and the Atw calendar.

Read from the database they cost three statements (the organisation, its eligible
offices, the equated days), on every workflow event. Each process keeps them per
organisation instead, with the organisation's `rules_version`, and uses what it keeps only
while the version the request reads (with a query it makes anyway: the claim it locks) is
the same. An app keeps its own `RulesCache` (`housing.services.rules_cache`).

Every change of what is kept stamps a fresh version in the changing transaction: the
`before_flush` hook below watches the ORM for an organisation's terms, cap or eligible
offices, and for any equated day (the Atw calendar is national law, so a new day stamps
every organisation). A write that goes past the ORM must call `stamp_all` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ScalarSelect, SQLColumnExpression, Table, event, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from housing.db import DbSession
from housing.deadlines.models import EquatedDay
from housing.deadlines.services import atw_calendar
from housing.organisations.models import EligibleOffice, Organisation, new_rules_version
from workflows.atw import AtwCalendar
from workflows.awb import AwbTerms
from workflows.rules import OrganisationSettings

__all__ = ["OrganisationRules", "RulesCache", "rules_version_of", "stamp_all"]

ORGANISATIONS = cast(Table, Organisation.__table__)
# What an organisation's cached rules are built from; a change of any of them stamps it.
WATCHED_ATTRIBUTES = (
    "regime_a_cap",
    "decision_weeks",
    "information_term_days",
    "objection_weeks",
    "not_considered_weeks",
    "eligible_offices",
)


@dataclass(frozen=True, slots=True)
class OrganisationRules:
    """An organisation's rules as of its `version`."""

    version: str
    settings: OrganisationSettings
    terms: AwbTerms
    calendar: AtwCalendar


def rules_version_of(organisation_id: SQLColumnExpression[int]) -> ScalarSelect[str]:
    """The organisation's rules version as a column, to be read with a query the request
    makes anyway (so checking the cache costs no statement of its own)."""
    return (
        select(Organisation.rules_version)
        .where(Organisation.id == organisation_id)
        .correlate_except(Organisation)
        .scalar_subquery()
    )


def _load(session: DbSession, organisation_id: int) -> OrganisationRules:
    # The version is read with the terms: what is kept is never older than its version
    # (a change committed in between makes the next request read again).
    row = session.execute(
        select(
            Organisation.rules_version,
            Organisation.regime_a_cap,
            Organisation.decision_weeks,
            Organisation.information_term_days,
            Organisation.objection_weeks,
            Organisation.not_considered_weeks,
        ).where(Organisation.id == organisation_id)
    ).one()
    offices = session.scalars(
        select(EligibleOffice.office_type).where(EligibleOffice.organisation_id == organisation_id)
    )
    return OrganisationRules(
        version=row.rules_version,
        settings=OrganisationSettings(
            eligible_office_types=frozenset(office.value for office in offices),
            regime_a_cap=row.regime_a_cap,
        ),
        terms=AwbTerms(
            decision_weeks=row.decision_weeks,
            information_term_days=row.information_term_days,
            objection_weeks=row.objection_weeks,
            not_considered_weeks=row.not_considered_weeks,
        ),
        calendar=atw_calendar(session),
    )


class RulesCache:
    """One process's copy of each organisation's rules, each with the version it was read at.

    Threads of one process share it: a miss read by two at once is read twice, and either
    copy is right.
    """

    def __init__(self) -> None:
        self._kept: dict[int, OrganisationRules] = {}

    def rules(
        self, session: DbSession, organisation_id: int, version: str | None = None
    ) -> OrganisationRules:
        """The organisation's rules at `version` (the current one, read now, when None):
        the copy kept if it is of that version, else read from the database and kept."""
        if version is None:
            version = session.scalar(
                select(Organisation.rules_version).where(Organisation.id == organisation_id)
            )
        kept = self._kept.get(organisation_id)
        if kept is not None and kept.version == version:
            return kept
        loaded = _load(session, organisation_id)
        self._kept[organisation_id] = loaded
        return loaded

    def clear(self) -> None:
        self._kept.clear()


def stamp_all(session: DbSession) -> None:
    """Stamp every organisation's rules as changed (the Atw calendar changed)."""
    session.connection().execute(update(ORGANISATIONS).values(rules_version=new_rules_version()))


def _stamp(session: DbSession, organisation_ids: Iterable[int]) -> None:
    ids = sorted(set(organisation_ids))
    if ids:
        session.connection().execute(
            update(ORGANISATIONS)
            .where(ORGANISATIONS.c.id.in_(ids))
            .values(rules_version=new_rules_version())
        )


def _changed(organisation: Organisation) -> bool:
    attributes = sa_inspect(organisation).attrs
    return any(attributes[name].history.has_changes() for name in WATCHED_ATTRIBUTES)


@event.listens_for(Session, "before_flush")
def _stamp_changed_rules(session: Session, _context: Any, _instances: Any) -> None:
    """Stamp a fresh rules version on every organisation whose cached rules this flush
    changes, in its transaction."""
    calendar = False
    others: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, EquatedDay):
            calendar = True
        elif isinstance(obj, EligibleOffice) and obj.organisation_id is not None:
            # Written on its own, not through the organisation's list (which stamps below).
            others.add(obj.organisation_id)
        elif isinstance(obj, Organisation) and obj not in session.new and _changed(obj):
            obj.rules_version = new_rules_version()
    if calendar:
        stamp_all(session)
    else:
        _stamp(session, others)
