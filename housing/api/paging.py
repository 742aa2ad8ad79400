"""One page of a list endpoint, with the total flask-smorest puts in X-Pagination."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select

from housing.db import db
from housing.ids import MAX_ID

Row = TypeVar("Row")

# A list answers a page of 25 rows unless `page_size` asks for another, at most 100.
PAGE_PARAMETERS = {"page": 1, "page_size": 25, "max_page_size": 100}
# The header's value is JSON text: a string whose content is the metadata object.
PAGINATION_HEADER = {
    "description": "The page's place in the list, as JSON: total, total_pages, first_page,"
    " last_page, page, previous_page, next_page.",
    "schema": {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {
            "type": "object",
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in (
                    "total",
                    "total_pages",
                    "first_page",
                    "last_page",
                    "page",
                    "previous_page",
                    "next_page",
                )
            },
            "required": ["total", "total_pages"],
        },
    },
}


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
