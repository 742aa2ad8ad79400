"""The auditor's lists: the audit trail, the access log and the access review.

Filters come from a GET form (the address keeps them) and are read here, every field's
refusal at once. The trail and the log page by keyset, newest first (the trail by its
sequence, the log by id): a link written meanwhile never shifts a page, and page 100 costs
what page 1 does (as the claim search, housing.claims.search).

Only what the auditor may read (DESIGN.md §8): a claim's number, never its contents; the
trail without the reasons people typed (they may quote the case), the log without file
names (they may hold an address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from housing.accounts.models import TotpFactor, User, UserRole, UserSession
from housing.audit.models import AccessLog, AuditEvent
from housing.audit.services import DOWNLOAD, VIEW_CLAIM
from housing.claims.models import Claim, Document
from housing.clock import AMSTERDAM
from housing.dates import parse_day
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.ids import read_id
from housing.inputs import check_text
from housing.money import invalid
from housing.roles import Role
from housing.scoping import Scope

PER_PAGE = 50
ACCESS_ACTIONS = (VIEW_CLAIM, DOWNLOAD)
# The privileged roles, reviewed each quarter (BIO2 8.02); every account each year (5.18).
PRIVILEGED_ROLES = frozenset({Role.ADMIN, Role.FINANCE, Role.DECIDER})
T = TypeVar("T")
# A select of several columns.
Rows = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class LogFilter:
    """What the auditor asked for in the trail or the log; None: any."""

    number: str | None = None
    actor: int | None = None
    # An audit event's name (the trail) or an access log's action (the log).
    what: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    after: int | None = None

    @classmethod
    def from_args(
        cls, args: Mapping[str, str], *, what: str, choices: Sequence[str] | None = None
    ) -> LogFilter:
        """Read the form's fields (`what` names the event or action field); every field's
        refusal at once (InvalidInput). `choices`: the values `what` may take."""
        errors: dict[str, list[str]] = {}

        def read(name: str, parse: Callable[[str], T]) -> T | None:
            value = (args.get(name) or "").strip()
            if not value:
                return None
            try:
                return parse(value)
            except InvalidInput as error:
                errors.update(error.field_errors)
                return None

        def chosen(value: str) -> str:
            if choices is not None and value not in choices:
                raise invalid(what, _l("Choose one from the list."))
            return check_text(value, what, AuditEvent.event)

        found = cls(
            number=read("number", lambda v: check_text(v, "number", Claim.number).upper()),
            actor=read("actor", _person),
            what=read(what, chosen),
            start=read("from", lambda v: parse_day(v, "from")),
            end=read("to", lambda v: parse_day(v, "to")),
            after=read("after", _cursor),
        )
        errors.update(found.range_errors())
        if errors:
            raise InvalidInput(_l("Check the search fields."), field_errors=errors)
        return found

    def range_errors(self) -> dict[str, list[str]]:
        if self.start is not None and self.end is not None and self.start > self.end:
            return {"to": [_l("The last day lies before the first.")]}
        return {}

    def checked(self) -> LogFilter:
        """This filter, if its period is one (an API's parsed arguments); else refused."""
        errors = self.range_errors()
        if errors:
            raise InvalidInput(_l("Check the search fields."), field_errors=errors)
        return self

    def link_args(self, what: str) -> dict[str, str]:
        """The filters as address arguments (without the cursor), for the next page."""
        values: dict[str, Any] = {
            "number": self.number,
            "actor": self.actor,
            what: self.what,
            "from": self.start,
            "to": self.end,
        }
        return {
            key: value.isoformat() if isinstance(value, dt.date) else str(value)
            for key, value in values.items()
            if value is not None
        }

    def described(self) -> dict[str, str | int | None]:
        """The filters as an export records them (its audit link, its JSON)."""
        return {
            "number": self.number,
            "actor": self.actor,
            "what": self.what,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }

    def applied(
        self,
        query: Rows,
        *,
        moment: InstrumentedAttribute[dt.datetime],
        actor: InstrumentedAttribute[Any],
        what: InstrumentedAttribute[str],
        key: InstrumentedAttribute[int],
    ) -> Rows:
        """`query` (which joins `Claim` for its number) limited to this filter: the period
        on `moment`, the claim number's start, the `actor`, `what` was done, and the page
        after the cursor on `key`, by which it is ordered, newest first."""
        if self.start is not None:
            query = query.where(moment >= _midnight(self.start))
        if self.end is not None:
            query = query.where(moment < _midnight(self.end + dt.timedelta(days=1)))
        if self.number:
            query = query.where(Claim.number.startswith(self.number, autoescape=True))
        if self.actor is not None:
            query = query.where(actor == self.actor)
        if self.what:
            query = query.where(what == self.what)
        if self.after is not None:
            query = query.where(key < self.after)
        return query.order_by(key.desc())


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    # The cursor of the next page; None on the last.
    next_after: int | None


# --- the audit trail ------------------------------------------------------------------------
def trail_query(scope: Scope, wanted: LogFilter) -> Rows:
    """The links in scope that match, newest first, with the claim's number and the actor."""
    query: Rows = (
        select(
            AuditEvent.sequence,
            AuditEvent.occurred_at,
            AuditEvent.event,
            AuditEvent.from_state,
            AuditEvent.to_state,
            AuditEvent.actor_id,
            User.full_name.label("actor_name"),
            Claim.number.label("claim_number"),
            AuditEvent.payload_hash,
            AuditEvent.previous_hash,
            AuditEvent.hash,
        )
        .where(*scope.criteria(AuditEvent))
        # The number only: the claim's own scope would hide it, its contents stay hidden.
        .outerjoin(Claim, Claim.id == AuditEvent.claim_id)
        .outerjoin(User, User.id == AuditEvent.actor_id)
    )
    return wanted.applied(
        query,
        moment=AuditEvent.occurred_at,
        actor=AuditEvent.actor_id,
        what=AuditEvent.event,
        key=AuditEvent.sequence,
    )


def _page(session: DbSession, query: Rows, key: str) -> Page:
    """The first `PER_PAGE` rows, and the cursor (their last `key`) when more follow."""
    rows = session.execute(query.limit(PER_PAGE + 1)).all()
    shown = rows[:PER_PAGE]
    return Page(shown, getattr(shown[-1], key) if len(rows) > PER_PAGE else None)


def trail_page(session: DbSession, scope: Scope, wanted: LogFilter) -> Page:
    return _page(session, trail_query(scope, wanted), "sequence")


def trail_events(session: DbSession, scope: Scope) -> list[str]:
    """The names of the events in the organisation's chain, for the filter's list."""
    return list(
        session.scalars(
            select(AuditEvent.event)
            .distinct()
            .where(*scope.criteria(AuditEvent))
            .order_by(AuditEvent.event)
        )
    )


# --- the access log -------------------------------------------------------------------------
def access_query(scope: Scope, wanted: LogFilter) -> Rows:
    """Who read or downloaded which claim or document, newest first."""
    query: Rows = (
        select(
            AccessLog.id,
            AccessLog.occurred_at,
            AccessLog.action,
            AccessLog.roles,
            AccessLog.user_id,
            User.full_name.label("user_name"),
            Claim.number.label("claim_number"),
            AccessLog.document_id,
            Document.kind.label("document_kind"),
        )
        .where(*scope.criteria(AccessLog))
        .join(User, User.id == AccessLog.user_id)
        .join(Claim, Claim.id == AccessLog.claim_id)
        .outerjoin(Document, Document.id == AccessLog.document_id)
    )
    return wanted.applied(
        query,
        moment=AccessLog.occurred_at,
        actor=AccessLog.user_id,
        what=AccessLog.action,
        key=AccessLog.id,
    )


def access_page(session: DbSession, scope: Scope, wanted: LogFilter) -> Page:
    return _page(session, access_query(scope, wanted), "id")


# --- people ---------------------------------------------------------------------------------
def people(session: DbSession, scope: Scope) -> list[tuple[int, str]]:
    """The organisation's users as (id, name), for the actor filter."""
    return [
        (ident, name)
        for ident, name in session.execute(
            select(User.id, User.full_name)
            .where(*scope.criteria(User))
            .order_by(User.full_name, User.id)
        )
    ]


@dataclass(frozen=True)
class ReviewRow:
    user: User
    last_sign_in: dt.datetime | None
    has_factor: bool


def access_review(session: DbSession, scope: Scope, *, privileged: bool) -> list[ReviewRow]:
    """Every account with its roles, last sign-in and second factor (the yearly review);
    `privileged`: only those holding an administrator, finance or decider role (the
    quarterly one). Three statements, however many users."""
    last_sign_in = (
        select(func.max(UserSession.created_at))
        .where(UserSession.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    has_factor = exists().where(TotpFactor.user_id == User.id)
    query = (
        select(User, last_sign_in, has_factor)
        .where(*scope.criteria(User))
        .options(selectinload(User.role_rows))
        .order_by(User.full_name, User.id)
    )
    if privileged:
        query = query.where(User.role_rows.any(UserRole.role.in_(sorted(PRIVILEGED_ROLES))))
    return [ReviewRow(user, last, bool(factor)) for user, last, factor in session.execute(query)]


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), AMSTERDAM)


def _person(value: str) -> int:
    ident = read_id(value)
    if ident is None:
        raise invalid("actor", _l("Choose a person from the list."))
    return ident


def _cursor(value: str) -> int:
    ident = read_id(value)
    if ident is None:
        raise invalid("after", _l("This page link is not valid; search again."))
    return ident
