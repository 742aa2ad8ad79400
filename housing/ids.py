"""Ids as the database holds them: positive, and within PostgreSQL's `integer`.

A number beyond that range can name no row; sent to PostgreSQL it fails as "integer out of
range", a server error. So it is refused at the door: in a path it matches no route (404),
in a query string or a body it is a field the request got wrong (422).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """Flask's `<int:...>` bounded to the ids a row can have (installed as `int`)."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = 1,
        max: int | None = MAX_ID,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def id_field(*, strict: bool = True, **kwargs: Any) -> fields.Integer:
    """An id in a body (`strict`: a JSON number) or a query string (not strict: text)."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def read_id(value: object) -> int | None:
    """An id typed into a form (ASCII digits, within the range), or None."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
