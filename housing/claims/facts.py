"""A claim locked for a workflow event, with the facts the event reads, in one statement.

The claim machine declares per event what its rules read (`WORKFLOW.facts(event)`, the
`Fact`s); `lock_for_event` reads the claim under its row lock together with exactly those:
the office holder and the home as joined rows, each context fact as a correlated column
(the home's earlier regime A grants, the advice's measures, the open information request,
the claim's last audit link). The lines come always (the event's effects and every answer
show them). With the row come, as columns too, what the request would otherwise ask on its
own: the office holders the actor acts for, the organisation's rules version (checked by
the cache of its rules) and whether the claim has any decision yet.

The budget is no column here: a grant locks its own row for it (two grants cannot both
spend the last euro).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Integer, Label, Select, bindparam, exists, func, select
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from housing.audit.models import AuditEvent
from housing.claims.base import NO_SUCH_CLAIM
from housing.claims.models import Claim, Decision, InformationRequest, MeasureLine, SecurityAdvice
from housing.claims.states import CAP_STATES
from housing.db import DbSession
from housing.deadlines.rules import rules_version_of
from housing.errors import NotFound
from housing.permissions import ACTED_FOR_COLUMN, acted_for_params, actor_from
from housing.scoping import Scope
from workflows.rules import Actor, Fact, Regime

if TYPE_CHECKING:
    from housing.accounts.models import User

__all__ = ["LockedClaim", "lock_for_event"]


@dataclass(frozen=True, slots=True)
class LockedClaim:
    """The claim, locked, with who acts on it and the facts read with it (None: not read)."""

    claim: Claim
    actor: Actor
    # The organisation's rules version, when the event asked for its rules.
    rules_version: str | None
    has_decisions: bool
    regime_a_granted_for_home: Decimal | None = None
    advised_measure_codes: frozenset[str] | None = None
    info_term_ends_on: dt.date | None = None
    last_event_at: dt.datetime | None = None


def _granted_for_home() -> ColumnElement[Any]:
    # What other claims on the same home had granted under regime A (DOMAIN.md §1's cap).
    other = aliased(Claim)
    return (
        select(func.coalesce(func.sum(MeasureLine.granted_amount), 0))
        .join(other, MeasureLine.claim_id == other.id)
        .where(
            other.home_id == Claim.home_id,
            other.id != Claim.id,
            other.regime == Regime.A,
            other.state.in_([s.value for s in CAP_STATES]),
        )
        .correlate(Claim)
        .scalar_subquery()
    )


def _open_request(column: Any) -> ColumnElement[Any]:
    # The latest information request the applicant has not answered yet
    # (housing.claims.terms.open_information_request), one column of it.
    return (
        select(column)
        .where(InformationRequest.claim_id == Claim.id, InformationRequest.answered_on.is_(None))
        .order_by(InformationRequest.requested_on.desc())
        .limit(1)
        .correlate(Claim)
        .scalar_subquery()
    )


# Built once: the columns and the joined rows each fact is read by, beside the claim's row.
_COLUMNS: Mapping[Fact, tuple[Label[Any], ...]] = {
    Fact.GRANTED_FOR_HOME: (_granted_for_home().label("granted_for_home"),),
    Fact.ADVISED_MEASURES: (
        select(SecurityAdvice.advised_measures)
        .where(SecurityAdvice.claim_id == Claim.id)
        .correlate(Claim)
        .scalar_subquery()
        .label("advised"),
    ),
    Fact.INFO_TERM: (
        _open_request(InformationRequest.requested_on).label("requested_on"),
        _open_request(InformationRequest.term_days).label("term_days"),
    ),
    Fact.RETENTION: (
        select(func.max(AuditEvent.occurred_at))
        .where(AuditEvent.claim_id == Claim.id)
        .correlate(Claim)
        .scalar_subquery()
        .label("last_event_at"),
    ),
}
_JOINED: Mapping[Fact, LoaderOption] = {
    Fact.OFFICE_HOLDER: joinedload(Claim.office_holder, innerjoin=True),
    Fact.HOME: joinedload(Claim.home, innerjoin=True),
}
_LINES = joinedload(Claim.lines)
_HAS_DECISIONS = exists().where(Decision.claim_id == Claim.id).correlate(Claim).label("decided")
_ACTED_FOR = ACTED_FOR_COLUMN.label("acted_for")
_RULES_VERSION = rules_version_of(Claim.organisation_id).label("rules_version")


def _locking_statement(
    scope: Scope, wanted: tuple[Fact, ...], with_actor: bool, rules: bool
) -> Select[Any]:
    """`lock_for_event`'s statement for the claim `claim_id` (bound), built once per kind
    of scope and set of facts."""
    columns = [_HAS_DECISIONS, *(c for fact in wanted for c in _COLUMNS.get(fact, ()))]
    if with_actor:
        columns.append(_ACTED_FOR)
    if rules:
        columns.append(_RULES_VERSION)
    options = [_LINES, *(_JOINED[fact] for fact in wanted if fact in _JOINED)]
    claim_id = cast(int, bindparam("claim_id", type_=Integer))
    return scope.select_for_update(Claim, claim_id).add_columns(*columns).options(*options)


def lock_for_event(
    session: DbSession,
    scope: Scope,
    claim_id: int,
    user: User | None,
    facts: Set[Fact],
    *,
    rules: bool,
) -> LockedClaim:
    """The claim with its lines and `facts`, locked until the transaction ends; `rules`: read
    the organisation's rules version too. NotFound outside the scope, as `get_for_update`."""
    # In the order of `Fact`, so that one event always sends one and the same statement.
    wanted = tuple(fact for fact in Fact if fact in facts)
    statement, values = scope.statement(_locking_statement, wanted, user is not None, rules)
    params: dict[str, Any] = {**values, "claim_id": claim_id}
    if user is not None:
        params.update(acted_for_params(user))
    row = session.execute(statement, params).unique().one_or_none()
    if row is None:
        raise NotFound(NO_SUCH_CLAIM)
    found = row._mapping
    advised = found.get("advised")
    requested_on, term_days = found.get("requested_on"), found.get("term_days")
    return LockedClaim(
        claim=row[0],
        actor=actor_from(user, found.get("acted_for")),
        rules_version=found.get("rules_version"),
        has_decisions=bool(found["decided"]),
        regime_a_granted_for_home=(
            Decimal(found["granted_for_home"]) if "granted_for_home" in found else None
        ),
        advised_measure_codes=(
            frozenset(c for c in (advised or "").split(",") if c)
            if Fact.ADVISED_MEASURES in facts
            else None
        ),
        info_term_ends_on=(
            requested_on + dt.timedelta(days=term_days)
            if requested_on is not None and term_days is not None
            else None
        ),
        last_event_at=found.get("last_event_at"),
    )
