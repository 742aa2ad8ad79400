"""Reading claims for a page or an API answer."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    literal_column,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import (
    QueryableAttribute,
    aliased,
    contains_eager,
    joinedload,
    selectinload,
)

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.audit.services import VIEW_CLAIM, read_logged, read_logged_values, record_access
from housing.claims.base import NO_SUCH_CLAIM
from housing.claims.late_decisions import LateFacts
from housing.claims.models import Claim, Decision, DefaultNotice, MeasureLine, SecurityAdvice
from housing.db import DbSession
from housing.deadlines.rules import rules_version_of
from housing.errors import NotFound
from housing.ids import MAX_ID
from housing.organisations.models import OfficeHolder, Organisation
from housing.permissions import ACTED_FOR_COLUMN, acted_for_params, actor_from
from housing.scoping import Scope
from workflows.rules import Actor

# The parts of a claim's detail, one row each (`claim_detail`).
LINE, EVENT, DECISION = 1, 2, 3


def _part(part: int) -> ColumnElement[int]:
    # Written out, not bound: the plan leaves out what no row of the part can match.
    return literal_column(str(part), Integer)


def loaded_claim(
    session: DbSession, scope: Scope, claim_id: int, *also: QueryableAttribute[Any]
) -> Claim:
    """The claim with its lines (and the relationships in `also`) loaded, if the scope may
    see it; else NotFound, whether it exists elsewhere or not at all."""
    claim = session.scalars(
        scope.select(Claim)
        .where(Claim.id == claim_id)
        .options(selectinload(Claim.lines), *(selectinload(rel) for rel in also))
    ).one_or_none()
    if claim is None:
        raise NotFound(NO_SUCH_CLAIM)
    return claim


@dataclass(frozen=True)
class ClaimDetail:
    """A claim with all its detail shows, read by `claim_detail`."""

    # Its lines, office holder (with the organisation) and whether the advice is recorded.
    claim: Claim
    # The reader, as the workflows see them.
    actor: Actor
    # The whole timeline, in order; `readable_history` leaves what the actor may read.
    timeline: Sequence[AuditEvent]
    # Oldest first.
    decisions: Sequence[Decision]
    notice_received_on: dt.date | None
    # The organisation's rules version, for its rules as the process keeps them (`RulesCache`).
    rules_version: str

    @property
    def late_facts(self) -> LateFacts:
        return LateFacts.of(self.notice_received_on, self.decisions)


def claim_detail(
    session: DbSession, scope: Scope, user: User, claim_id: int, *, request_id: str | None
) -> ClaimDetail:
    """The claim as its detail shows it to `user`, if the scope may see it (else NotFound),
    in one statement whatever the length of its history (`_detail_statement`); the read is
    logged (`VIEW_CLAIM`, request `request_id`) in the same statement on PostgreSQL, by a
    second one elsewhere, in the caller's transaction."""
    logged_along = session.get_bind().dialect.name == "postgresql"
    statement, values = scope.statement(_detail_statement, logged_along)
    params = {**values, **acted_for_params(user), "claim_id": claim_id}
    if logged_along:
        params.update(read_logged_values(user_id=user.id, roles=user.roles, request_id=request_id))
    rows = session.execute(statement, params).unique().all()
    if not rows:
        raise NotFound(NO_SUCH_CLAIM)
    claim, _event, _decision, notice_received_on, acted_for, rules_version = rows[0]
    if not logged_along:
        record_access(
            session,
            organisation_id=claim.organisation_id,
            user_id=user.id,
            roles=user.roles,
            claim_id=claim.id,
            action=VIEW_CLAIM,
            request_id=request_id,
        )
    return ClaimDetail(
        claim=claim,
        actor=actor_from(user, acted_for),
        timeline=[row.AuditEvent for row in rows if row.AuditEvent is not None],
        decisions=[row.Decision for row in rows if row.Decision is not None],
        notice_received_on=notice_received_on,
        rules_version=rules_version,
    )


def _detail_statement(scope: Scope, logged_along: bool) -> Select[Any]:
    """The claim `claim_id` (bound) with all its detail, built once per kind of scope;
    `logged_along`: with the read's access-log row (`read_logged`).

    Its measure lines, audit events and decisions are three lists: joined side by side they
    would multiply (lines × events × decisions rows). So the claim is joined to three
    numbered parts and each list to its own part only, one row per line, event and decision
    (never fewer than one per part: an empty list is a row of NULLs). The office holder, the
    organisation, the advice's id, the notice of default and the office holders the reader
    acts for, and the organisation's rules version, are one value per claim and ride along on
    every row.
    """
    parts = union_all(
        *(select(_part(part).label("part")) for part in (LINE, EVENT, DECISION))
    ).subquery("detail_part")
    # Aliased: the scope's own condition on the claim's office holder stays its own.
    holder = aliased(OfficeHolder)
    statement = (
        scope.select(Claim)
        .where(Claim.id == bindparam("claim_id", type_=Integer))
        .join(holder, Claim.office_holder)
        .join(holder.organisation)
        .outerjoin(Claim.advice)
        .outerjoin(DefaultNotice, DefaultNotice.claim_id == Claim.id)
        .join(parts, true())
        .outerjoin(MeasureLine, and_(parts.c.part == _part(LINE), MeasureLine.claim_id == Claim.id))
        .outerjoin(AuditEvent, and_(parts.c.part == _part(EVENT), AuditEvent.claim_id == Claim.id))
        .outerjoin(Decision, and_(parts.c.part == _part(DECISION), Decision.claim_id == Claim.id))
        .add_columns(
            AuditEvent,
            Decision,
            DefaultNotice.received_on,
            ACTED_FOR_COLUMN,
            rules_version_of(Claim.organisation_id),
        )
        .options(
            # The organisation for its terms; not the offices it lists as eligible.
            contains_eager(Claim.office_holder.of_type(holder))
            .contains_eager(holder.organisation)
            .lazyload(Organisation.eligible_offices),
            contains_eager(Claim.advice).load_only(SecurityAdvice.id),
            contains_eager(Claim.lines),
        )
        .order_by(parts.c.part, MeasureLine.id, AuditEvent.sequence, Decision.id)
    )
    if logged_along:
        visible = scope.select(Claim).where(Claim.id == bindparam("claim_id", type_=Integer))
        statement = statement.add_cte(
            read_logged(visible.with_only_columns(Claim.organisation_id, Claim.id))
        )
    return statement


# A cursor: the decision deadline (or "none") and the id of the last claim of a page.
NO_DEADLINE = "none"
CURSOR_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|none)\.[0-9]{1,10}$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class DeadlineCursor:
    """Where a page of claims in deadline order (`by_deadline`) ended: its last claim."""

    deadline: dt.date | None
    claim_id: int

    def __str__(self) -> str:
        day = self.deadline.isoformat() if self.deadline is not None else NO_DEADLINE
        return f"{day}.{self.claim_id}"

    @classmethod
    def parse(cls, text: str) -> DeadlineCursor:
        """The cursor `str()` wrote; ValueError for anything else."""
        if not _CURSOR.match(text):
            raise ValueError(text)
        day, ident = text.split(".")
        claim_id = int(ident)
        if claim_id > MAX_ID:
            raise ValueError(text)
        return cls(None if day == NO_DEADLINE else dt.date.fromisoformat(day), claim_id)


@dataclass(frozen=True)
class ClaimPage:
    claims: Sequence[Claim]
    # Where the next page starts; None on the last.
    next_after: DeadlineCursor | None


def by_deadline(
    session: DbSession,
    query: Select[Claim],
    page_size: int,
    *,
    after: DeadlineCursor | None = None,
    skip: int = 0,
) -> ClaimPage:
    """A page of `query`'s claims with their lines, nearest decision deadline first and those
    without one last: the first page (after `skip` rows: paging by number), or the page
    after a cursor, which costs what the first does however far on it is.

    One statement: one row more than the page says whether another follows. The one page
    where the claims with a deadline run out reads those without one in a second.
    """
    ordered = query.options(joinedload(Claim.lines)).order_by(
        Claim.decision_deadline.asc().nulls_last(), Claim.id
    )
    wanted = page_size + 1
    undated = Claim.decision_deadline.is_(None)

    def read(page: Select[Claim], limit: int) -> list[Claim]:
        return list(session.scalars(page.limit(limit)).unique())

    if after is None:
        claims = read(ordered.offset(skip or None), wanted)
    elif after.deadline is None:
        claims = read(ordered.where(undated, Claim.id > after.claim_id), wanted)
    else:
        # In the index the claims without a deadline follow those with one, but no single
        # condition says "after this row" across both (a comparison with NULL is no answer).
        claims = read(
            ordered.where(
                tuple_(Claim.decision_deadline, Claim.id) > tuple_(after.deadline, after.claim_id)
            ),
            wanted,
        )
        if len(claims) < wanted:
            claims += read(ordered.where(undated), wanted - len(claims))
    shown = claims[:page_size]
    if len(claims) <= page_size:
        return ClaimPage(shown, None)
    last = shown[-1]
    return ClaimPage(shown, DeadlineCursor(last.decision_deadline, last.id))
