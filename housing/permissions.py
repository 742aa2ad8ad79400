"""Who may do what: the acting user as the workflows see them, and refusals as values.

Each area keeps its own `may_*(actor, obj) -> Refusal | None` predicates (for example
`housing.claims.permissions`); they are built on `workflows.rules` and on what lives here.
A service calls `require(may_x(...))`; a view or template calls the same predicate to show
only what the user may do, so the page and the service can never disagree.

The `Actor` of a request (roles, organisation, the office holders a user acts for) is
built once per request and kept on `flask.g`; the own-claim question is answered here
and nowhere else outside `workflows/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, exists, select
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


def actor_for(session: DbSession, user: User | None) -> Actor:
    """The workflows' view of `user` (None: the system), built once per request."""
    if user is None:
        return Actor.system()
    cached = g.get("housing_actors") if has_request_context() else None
    if cached is not None and user.id in cached:
        return cached[user.id]
    return remember_actor(user, session.scalars(office_holders_of(user)))


def office_holders_of(
    user: User, holder: type[OfficeHolder] | AliasedClass[OfficeHolder] = OfficeHolder
) -> Select[tuple[int]]:
    """The ids of the office holders `user` acts for in their organisation, as an `Actor`
    knows them; `holder` an alias, for a query that joins office holders itself."""
    return select(holder.id).where(
        holder.user_id == user.id, holder.organisation_id == user.organisation_id
    )


def remember_actor(user: User, office_holder_ids: Iterable[int]) -> Actor:
    """The `Actor` of `user`, from the office holders a query read with `office_holders_of`
    (a read that brings them along with what it reads anyway), kept for the request as
    `actor_for` keeps it."""
    actor = Actor(
        user_id=user.id,
        roles=frozenset(role.value for role in user.roles),
        office_holder_ids=frozenset(office_holder_ids),
    )
    if has_request_context():
        g.setdefault("housing_actors", {})[user.id] = actor
    return actor


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
