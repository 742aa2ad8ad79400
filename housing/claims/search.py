"""Finding any claim the organisation received, open or closed, for its staff.

Filters come from a GET form (the URL keeps them); pages are keyset pages over
(received_on, id), newest first: a page's `after` cursor is the last row shown, so a claim
received meanwhile never shifts a page under the reader as OFFSET would, and page 100
costs what page 1 does.

Office holders' names are stored in plain text (only the address, the scan and the advice
are encrypted at rest), so the name is searched in SQL, inside the organisation's scope.
Should names ever be encrypted, this search needs a blind index beside them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, exists, tuple_
from sqlalchemy.orm import selectinload

from housing.claims.models import Claim, Decision
from housing.claims.states import OBJECTABLE_KINDS
from housing.clock import AMSTERDAM
from housing.dates import parse_day
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.ids import read_id
from housing.inputs import check_text
from housing.money import invalid
from housing.organisations.models import OfficeHolder
from housing.scoping import Scope
from workflows.claim import ClaimState
from workflows.rules import Regime

PER_PAGE = 50
UNASSIGNED = "none"
# Every state a claim can be in once the organisation received it.
SEARCHABLE_STATES = tuple(state for state in ClaimState if state is not ClaimState.DRAFT)
_CURSOR = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.([0-9]{1,18})")
T = TypeVar("T")


@dataclass(frozen=True)
class ClaimSearch:
    """What the staff member asked for; None: any."""

    number: str | None = None
    holder: str | None = None
    state: ClaimState | None = None
    regime: Regime | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None
    # An assessor's user id, or UNASSIGNED for claims nobody was assigned to.
    assessor: int | str | None = None
    after: tuple[dt.date, int] | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ClaimSearch:
        """Read the form's fields; every field's refusal at once (InvalidInput)."""
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

        search = cls(
            number=read("number", lambda v: check_text(v, "number", Claim.number).upper()),
            holder=read("holder", lambda v: check_text(v, "holder", OfficeHolder.full_name)),
            state=read("state", _state),
            regime=read("regime", _regime),
            received_from=read("received_from", lambda v: parse_day(v, "received_from")),
            received_to=read("received_to", lambda v: parse_day(v, "received_to")),
            decided_from=read("decided_from", lambda v: parse_day(v, "decided_from")),
            decided_to=read("decided_to", lambda v: parse_day(v, "decided_to")),
            assessor=read("assessor", _assessor),
            after=read("after", _cursor),
        )
        for start, end in (("received_from", "received_to"), ("decided_from", "decided_to")):
            first, last = getattr(search, start), getattr(search, end)
            if first is not None and last is not None and first > last:
                errors.setdefault(end, []).append(_l("The last day lies before the first."))
        if errors:
            raise InvalidInput(_l("Check the search fields."), field_errors=errors)
        return search

    def criteria(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Claim.received_on.is_not(None)]
        if self.number:
            found.append(Claim.number.startswith(self.number, autoescape=True))
        if self.holder:
            found.append(
                Claim.office_holder.has(
                    OfficeHolder.full_name.icontains(self.holder, autoescape=True)
                )
            )
        if self.state is not None:
            found.append(Claim.state == self.state)
        if self.regime is not None:
            found.append(Claim.regime == self.regime)
        if self.received_from is not None:
            found.append(Claim.received_on >= self.received_from)
        if self.received_to is not None:
            found.append(Claim.received_on <= self.received_to)
        if self.decided_from is not None or self.decided_to is not None:
            found.append(self._decided_between())
        if self.assessor == UNASSIGNED:
            found.append(Claim.assessor_id.is_(None))
        elif self.assessor is not None:
            found.append(Claim.assessor_id == self.assessor)
        if self.after is not None:
            found.append(tuple_(Claim.received_on, Claim.id) < tuple_(*self.after))
        return found

    def _decided_between(self) -> ColumnElement[bool]:
        """A decision on the claim taken on a day (in Amsterdam) within the range."""
        taken = [Decision.claim_id == Claim.id, Decision.kind.in_(OBJECTABLE_KINDS)]
        if self.decided_from is not None:
            taken.append(Decision.decided_at >= _midnight(self.decided_from))
        if self.decided_to is not None:
            taken.append(Decision.decided_at < _midnight(self.decided_to + dt.timedelta(days=1)))
        return exists().where(*taken)

    def link_args(self) -> dict[str, str]:
        """The filters as URL arguments (without the cursor), for the next page's link."""
        values: dict[str, Any] = {
            "number": self.number,
            "holder": self.holder,
            "state": self.state.value if self.state else None,
            "regime": self.regime.value if self.regime else None,
            "received_from": self.received_from,
            "received_to": self.received_to,
            "decided_from": self.decided_from,
            "decided_to": self.decided_to,
            "assessor": self.assessor,
        }
        return {
            key: value.isoformat() if isinstance(value, dt.date) else str(value)
            for key, value in values.items()
            if value is not None
        }


@dataclass(frozen=True)
class SearchPage:
    claims: Sequence[Claim]
    # The cursor of the next page; None on the last.
    next_after: str | None = None
    filters: dict[str, str] = field(default_factory=dict)


def search_claims(
    session: DbSession, scope: Scope, search: ClaimSearch, per_page: int | None = None
) -> SearchPage:
    """One page of the claims in scope that match, newest received first (one query, and
    one for their office holders)."""
    per_page = per_page or PER_PAGE
    claims = session.scalars(
        scope.select(Claim)
        .where(*search.criteria())
        .options(selectinload(Claim.office_holder))
        .order_by(Claim.received_on.desc(), Claim.id.desc())
        .limit(per_page + 1)
    ).all()
    shown = claims[:per_page]
    next_after = None
    if len(claims) > per_page:
        last = shown[-1]
        assert last.received_on is not None
        next_after = f"{last.received_on.isoformat()}.{last.id}"
    return SearchPage(shown, next_after, search.link_args())


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), AMSTERDAM)


def _state(value: str) -> ClaimState:
    if value not in {state.value for state in SEARCHABLE_STATES}:
        raise invalid("state", _l("Choose a status from the list."))
    return ClaimState(value)


def _regime(value: str) -> Regime:
    if value not in {regime.value for regime in Regime}:
        raise invalid("regime", _l("Choose a regime from the list."))
    return Regime(value)


def _assessor(value: str) -> int | str:
    if value == UNASSIGNED:
        return UNASSIGNED
    ident = read_id(value)
    if ident is None:
        raise invalid("assessor", _l("Choose an assessor from the list."))
    return ident


def _cursor(value: str) -> tuple[dt.date, int]:
    found = _CURSOR.fullmatch(value)
    ident = read_id(found[2]) if found else None
    if found is None or ident is None:
        raise invalid("after", _l("This page link is not valid; search again."))
    return parse_day(found[1], "after"), ident
