"""Pages of a list endpoint: counted pages with the total flask-smorest puts in X-Pagination,
and cursor pages (the claims), counted only when the client asks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from flask_smorest.pagination import PaginationParameters
from sqlalchemy import Select, func, select

from housing.db import db
from housing.ids import MAX_ID

Row = TypeVar("Row")

# A list answers a page of 25 rows unless `page_size` asks for another, at most 100.
PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
PAGE_PARAMETERS = {"page": 1, "page_size": PAGE_SIZE, "max_page_size": MAX_PAGE_SIZE}
PAGE_FIELDS = (
    "total",
    "total_pages",
    "first_page",
    "last_page",
    "page",
    "previous_page",
    "next_page",
)


def _pagination_header(description: str, required: list[str]) -> dict[str, Any]:
    # The header's value is JSON text: a string whose content is the metadata object.
    return {
        "description": description,
        "schema": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "type": "object",
                "properties": {name: {"type": "integer", "minimum": 0} for name in PAGE_FIELDS},
                "required": required,
            },
        },
    }


PAGINATION_HEADER = _pagination_header(
    "The page's place in the list, as JSON: total, total_pages, first_page, last_page, page,"
    " previous_page, next_page.",
    ["total", "total_pages"],
)
# A cursor-paged list: what it knows without counting the whole list, the rest on request.
CURSOR_PAGE_HEADERS = {
    "X-Pagination": _pagination_header(
        "The page's place in the list, as JSON. Paged by number: page, first_page,"
        " previous_page and next_page (when there is one). Asked with `count=true`, also"
        " total, total_pages and last_page.",
        [],
    ),
    "Link": {
        "description": 'The next page, when there is one: `<URL>; rel="next"`, its URL'
        " paging by `after`.",
        "schema": {"type": "string"},
    },
}


def page_of(query: Select[Row], pagination_parameters: PaginationParameters) -> Sequence[Row]:
    """The rows of `query` (already ordered) on the requested page; records the total."""
    pagination_parameters.item_count = count_of(query)
    if pagination_parameters.page > MAX_ID:  # past every row, and past any offset PostgreSQL takes
        return []
    return db.session.scalars(
        query.offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)
    ).all()


def count_of(query: Select[Any]) -> int:
    """How many rows `query` has, in one statement."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def cursor_page_headers(
    *,
    page: int | None,
    page_size: int,
    total: int | None,
    next_url: str | None,
) -> dict[str, str]:
    """X-Pagination and Link of a cursor page (`CURSOR_PAGE_HEADERS`): `page` its number when
    paged by number, `total` when the client asked for a count, `next_url` when there is
    a next page."""
    metadata: dict[str, int] = {}
    if page is not None:
        metadata["page"] = page
        metadata["first_page"] = 1
        if page > 1:
            metadata["previous_page"] = page - 1
        if next_url is not None:
            metadata["next_page"] = page + 1
    if total is not None:
        pages = -(-total // page_size)
        metadata["total"], metadata["total_pages"] = total, pages
        if pages:
            metadata["last_page"] = pages
    headers = {"X-Pagination": json.dumps(metadata)}
    if next_url is not None:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return headers
