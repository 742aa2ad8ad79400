"""One page of a list endpoint, with the total flask-smorest puts in X-Pagination."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select

from housing.db import db
from housing.ids import MAX_ID

Row = TypeVar("Row")


def page_of(query: Select[Row], pagination_parameters: PaginationParameters) -> Sequence[Row]:
    """The rows of `query` (already ordered) on the requested page; records the total."""
    pagination_parameters.item_count = (
        db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    if pagination_parameters.page > MAX_ID:  # past every row, and past any offset PostgreSQL takes
        return []
    return db.session.scalars(
        query.offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)
    ).all()
