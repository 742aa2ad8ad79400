"""Reading claims for a page or an API answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import QueryableAttribute, selectinload

from housing.claims.base import NO_SUCH_CLAIM
from housing.claims.models import Claim
from housing.db import DbSession
from housing.errors import NotFound
from housing.scoping import Scope


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
