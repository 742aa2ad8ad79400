"""Errors as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from flask_babel import gettext as _
from marshmallow import fields
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from housing.api.dumping import Schema
from housing.unit_of_work import work_may_be_saved

PROBLEM_JSON = "application/problem+json"


class ProblemSchema(Schema):
    """The body of every error answer, as `problem_response` builds it."""

    type = fields.Str(required=True, metadata={"example": "about:blank"})
    title = fields.Str(required=True)
    status = fields.Int(required=True)
    detail = fields.Str()
    errors = fields.Dict(
        metadata={"description": "Per field (or per location, then field): the messages."}
    )


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = _stringify(errors)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_from_http_exception(error: HTTPException) -> Response:
    """Turn any HTTP error (webargs' 422 included) into a problem; never leak internals."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    # webargs nests errors by location ("json", "query"); keep that, it tells where to look.
    detail = data.get("message") or (
        "The request did not pass validation; see errors." if errors else error.description
    )
    if status >= 500:
        detail = server_error_detail()
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return problem_response(status, detail, errors=errors, headers=headers)


def server_error_detail() -> str:
    """What a server error says of the request's work: nothing was saved, unless the error
    came at or after the COMMIT, when it may have been."""
    if work_may_be_saved():
        return _(
            "The connection broke off while saving: the request may or may not have been"
            " carried out. Check before trying again, or retry with the same Idempotency-Key."
        )
    return _("An internal error occurred; it has been logged. Nothing was saved.")


def _stringify(value: Any) -> Any:
    # Lazy translation strings and other objects become plain JSON.
    if isinstance(value, dict):
        return {str(k): _stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
