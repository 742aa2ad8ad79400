"""Who may do what: the acting user as the workflows see them, and refusals as values.

Each area keeps its own `may_*(actor, obj) -> Refusal | None` predicates (for example
`housing.claims.permissions`); they are built on `workflows.rules` and on what lives here.
A service calls `require(may_x(...))`; a view or template calls the same predicate to show
only what the user may do, so the page and the service can never disagree.

The `Actor` of a request (roles, organisation, the office holders a user acts for) is
built once per request and kept on `flask.g`; the own-claim question is answered here
and nowhere else outside `workflows/`. The office holders are one small query, or a
column of a query the request makes anyway (`ACTED_FOR_COLUMN`, then `actor_from`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import g, has_request_context
from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    SQLColumnExpression,
    String,
    bindparam,
    cast,
    exists,
    func,
    select,
)
from sqlalchemy.orm.util import AliasedClass

from housing.errors import DomainError
from housing.organisations.models import OfficeHolder
from workflows.rules import Actor, OfficeHolderFacts, RuleViolation, check_own_claim

if TYPE_CHECKING:
    from housing.accounts.models import User
    from housing.db import DbSession

# A refusal is the domain error a service would raise, held as a value so a page can ask
# "may I?" without trying.
Refusal = DomainError


def require(refusal: Refusal | None) -> None:
    """Raise the refusal, if there is one."""
    if refusal is not None:
        raise refusal


def office_holders_of(
    user: User, holder: type[OfficeHolder] | AliasedClass[OfficeHolder] = OfficeHolder
) -> Select[tuple[int]]:
    """The ids of the office holders `user` acts for in their organisation (those linked to
    them), as an `Actor` knows them; `holder` an alias, for a query that joins office
    holders itself."""
    return select(holder.id).where(
        holder.user_id == user.id, holder.organisation_id == user.organisation_id
    )


# `office_holders_of` as one text column ("3,7", or NULL for none) of a query the request
# makes anyway, for the user in `acted_for_params`: built once, its values bound per
# query, never correlated with the office holders that query reads.
ACTED_FOR_COLUMN: ScalarSelect[str | None] = (
    select(func.aggregate_strings(cast(OfficeHolder.id, String), ","))
    .where(
        OfficeHolder.user_id == bindparam("acted_for_user_id"),
        OfficeHolder.organisation_id == bindparam("acted_for_organisation_id"),
    )
    .correlate(None)
    .scalar_subquery()
)


def acted_for_params(user: User) -> dict[str, int | None]:
    """The values `ACTED_FOR_COLUMN` reads for `user`; `actor_from` takes its result."""
    return {"acted_for_user_id": user.id, "acted_for_organisation_id": user.organisation_id}


def _kept(user: User) -> Actor | None:
    cached = g.get("housing_actors") if has_request_context() else None
    return cached.get(user.id) if cached is not None else None


def remember_actor(user: User, office_holder_ids: Iterable[int]) -> Actor:
    """The `Actor` of `user`, from the office holders a query read (`office_holders_of`,
    or `ACTED_FOR_COLUMN` through `actor_from`), kept for the request as `actor_for` keeps
    it: a read that brings them along with what it reads anyway saves a query."""
    actor = Actor(
        user_id=user.id,
        roles=frozenset(role.value for role in user.roles),
        office_holder_ids=frozenset(office_holder_ids),
    )
    if has_request_context():
        g.setdefault("housing_actors", {})[user.id] = actor
    return actor


def actor_for(session: DbSession, user: User | None) -> Actor:
    """The workflows' view of `user` (None: the system), built once per request."""
    if user is None:
        return Actor.system()
    kept = _kept(user)
    if kept is not None:
        return kept
    return remember_actor(user, session.scalars(office_holders_of(user)))


def actor_from(user: User | None, acted_for: str | None) -> Actor:
    """`actor_for`, with the office holders `ACTED_FOR_COLUMN` read; kept alike for the rest
    of the request."""
    if user is None:
        return Actor.system()
    kept = _kept(user)
    if kept is not None:
        return kept
    return remember_actor(user, (int(ident) for ident in (acted_for or "").split(",") if ident))


def acts_for_office_holder(actor: Actor, claim: OfficeHolderFacts) -> bool:
    """Whether `actor` is the claim's office holder, or a clerk acting for them."""
    try:
        check_own_claim(claim, actor)
    except RuleViolation:
        return False
    return True


def user_acts_for_office_holder(
    user_id: SQLColumnExpression[int], office_holder_id: int
) -> ColumnElement[bool]:
    """`acts_for_office_holder` as SQL, for a query over users: the user is the office
    holder, or acts for them (the office holders `actor_for` collects)."""
    return exists().where(OfficeHolder.user_id == user_id, OfficeHolder.id == office_holder_id)
