"""Rows as the database holds them now."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session


def fresh(session: Session, model, ident: int):
    """The row as the database has it now (requests close the test's session)."""
    return session.scalars(
        select(model).where(model.id == ident).execution_options(populate_existing=True)
    ).one()
