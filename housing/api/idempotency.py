"""The `Idempotency-Key` header: a POST retried with the same key is done once.

The API's `Blueprint` wraps every POST operation in `idempotent` and documents the header,
so no route handles it itself. The first request with a key takes it and does the work;
the key and the response are written in the request's own transaction, so they commit
together with the work or not at all (a refused request, 4xx or 5xx, leaves no key: its
retry is simply tried again). A retry with the same key and the same request gets the
first response, marked `Idempotent-Replayed: true`, and writes nothing; the same key with
another request is a 422. A retry that arrives while the first still runs waits for it (see
`housing.idempotency.services`). Keys belong to the authenticated user and are forgotten
after `IDEMPOTENCY_KEY_HOURS`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import IO, Any, TypeVar, cast

from flask import Response, current_app, request

from housing.api.auth import authenticated_user
from housing.api.problems import problem_response
from housing.db import db
from housing.idempotency.services import (
    KEY_MAX_LENGTH,
    FirstResponse,
    IdempotencyKeys,
    fingerprint,
)

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# What a client reads besides status and body.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
_KEY = re.compile(rf"[!-~]{{1,{KEY_MAX_LENGTH}}}")

PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX_LENGTH,
        "pattern": "^[!-~]+$",  # visible ASCII, as _KEY
    },
    "description": (
        "A key of your choice (e.g. a UUID), unique per operation you mean to do once. A"
        " retry with the same key and the same request gets the first response again"
        f" (marked `{REPLAYED}: true`) and changes nothing; the same key with another request"
        " is a 422. A retry sent while the first request still runs waits for it. Keys belong"
        " to the token's user and are remembered for %(hours)d hours (IDEMPOTENCY_KEY_HOURS, 24 by"
        " default)."
        " Only a successful response is remembered: after an error, retry with the same key."
    ),
}


def keys() -> IdempotencyKeys:
    return IdempotencyKeys.from_config(db.session, current_app.config)


def request_fingerprint() -> str:
    """The request's method, path, query and body; a form by its fields and files' contents
    (a multipart boundary differs from one try to the next)."""
    parts: list[bytes] = [request.query_string]
    if request.mimetype in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        for name, value in sorted(request.form.items(multi=True)):
            parts += [name.encode(), value.encode()]
        for name, sent in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            parts += [name.encode(), (sent.filename or "").encode(), _digest(sent.stream)]
    else:
        parts.append(request.get_data(cache=True))
    return fingerprint(request.method, request.path, parts)


def _digest(stream: IO[bytes]) -> bytes:
    digest = hashlib.sha256()
    while chunk := stream.read(65536):
        digest.update(chunk)
    stream.seek(0)
    return digest.digest()


def replay(first: FirstResponse) -> Response:
    response = current_app.response_class(first.body, status=first.status)
    for name, value in first.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def idempotent(view: F) -> F:
    """Honour an `Idempotency-Key` header on the view (a POST)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.fullmatch(key):
            return problem_response(
                400,
                f"{HEADER} must be 1 to {KEY_MAX_LENGTH} visible ASCII characters.",
            )
        user = authenticated_user()
        this_request = request_fingerprint()
        taken = keys().take(user.id, key, this_request)
        if isinstance(taken, FirstResponse):
            if taken.fingerprint != this_request:
                return problem_response(
                    422,
                    f"This {HEADER} was used for another request; use a new key for a new one.",
                )
            return replay(taken)
        response = current_app.make_response(view(*args, **kwargs))
        if response.status_code < 400:
            headers = response.headers
            kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
            keys().answer(taken, response.status_code, kept, response.get_data(as_text=True))
        return response

    return cast(F, wrapped)
