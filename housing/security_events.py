"""Security events for a SIEM: one JSON line per event on the logger `housing.security`.

Sign-ins and their failures, second-factor and role changes, exports, downloads and
refusals, each as a line with the same fields (BIO2 8.15.01): `time` (UTC), `logger`,
`action`, `result` (`success`, `failure` or `refused`), `actor` (a user id, or None for
the system or someone not signed in), `organisation`, `object` (what it was done to:
`user:12`, `claim:7`, `document:3`, a path), `origin` (the client's address, or the
process: `worker`, `cli`) and `request_id`; a few named details beside them.

Never a secret, an address or a document's content (8.15.02): the fields are ids, names of
acts, roles and counts. `security_event` refuses a detail whose name says it is a secret
and any value that is not a plain number, short word or list of short words, so a careless
call fails in the tests instead of leaking in production.

Where the act is a change saved in a transaction (a role changed, an export audited), the
line is written after that transaction commits and dropped when it rolls back
(`after_commit`): a SIEM must not hear of a change that did not happen. A refusal or a
failed sign-in is a fact as it happens, and is written at once.

The lines bypass structlog's renderer on purpose: they are JSON in development too, and
operators route them by the logger's name (a handler on `housing.security`) or by its
`logger` field in the process's standard error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from flask import Flask, Response, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session

from housing.clock import utcnow

if TYPE_CHECKING:
    from housing.db import DbSession

LOGGER_NAME = "housing.security"
SUCCESS, FAILURE, REFUSED = "success", "failure", "refused"
RESULTS = frozenset({SUCCESS, FAILURE, REFUSED})
# A detail named like one of these is refused, whatever its value.
FORBIDDEN_NAMES = ("password", "code", "token", "secret", "address", "street", "content")
# A detail's value: a number, a boolean, or a short word (a role, an event's name, a date).
MAX_WORD = 80
_PENDING = "security_events_pending"

logger = logging.getLogger(LOGGER_NAME)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each line to the process's standard error as it is at that moment, so a
    replaced `sys.stderr` (a test's capture) is honoured. Standard error, as the web
    server's own log: a command's standard output is its data (`housing tokens issue`
    prints a token a script reads), never mixed with log lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # logging sets `stream`; here it is read only
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def install(app: Flask) -> None:
    """Give the logger its handler once (plain lines: they are JSON already; INFO up; not
    passed on to the root logger, so no second copy in another format), and write every
    refused request as it leaves."""
    if not any(isinstance(handler, _CurrentStderr) for handler in logger.handlers):
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    app.after_request(_refusal)


# Not signed in or not recently enough (401), not allowed (403), too many tries (429).
# A 404 is no refusal to report: outside the scope a record simply does not exist.
REFUSALS = frozenset({401, 403, 429})


def _refusal(response: Response) -> Response:
    """Every refusal of the UI and the API, from the one place each leaves the app."""
    if response.status_code in REFUSALS:
        # The API knows its caller by the bearer token only, never by a session cookie.
        actor = g.get("api_user") if request.path.startswith("/api/") else current_user
        signed_in = actor is not None and actor.is_authenticated
        security_event(
            "request_refused",
            result=REFUSED,
            actor_id=actor.id if signed_in else None,
            organisation_id=actor.organisation_id if signed_in else None,
            # The path names what was asked for (ids); never its query (typed filters).
            object=f"{request.method} {request.path}"[:MAX_WORD],
            status=response.status_code,
        )
    return response


def _check_detail(name: str, value: Any) -> Any:
    lowered = name.lower()
    if any(word in lowered for word in FORBIDDEN_NAMES):
        raise ValueError(f"a security event may not carry {name!r}")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str) and len(value) <= MAX_WORD and "\n" not in value:
        return value
    if isinstance(value, list | tuple | frozenset | set):
        return sorted(_check_detail(name, item) for item in value)
    raise ValueError(f"a security event's {name!r} must be a number or a short word")


def _origin() -> str:
    if has_request_context():
        return request.remote_addr or "unknown"
    return "process"


def security_event(
    action: str,
    *,
    result: str,
    actor_id: int | None,
    organisation_id: int | None = None,
    object: str | None = None,
    session: DbSession | None = None,
    **detail: Any,
) -> None:
    """Write one security event: at once, or with `session`, when its transaction commits."""
    if result not in RESULTS:
        raise ValueError(f"result must be one of {sorted(RESULTS)}")
    line = {
        "time": utcnow().astimezone(dt.UTC).isoformat(),
        "logger": LOGGER_NAME,
        "action": _check_detail("action", action),
        "result": result,
        "actor": actor_id,
        "organisation": organisation_id,
        "object": _check_detail("object", object),
        "origin": _origin(),
        "request_id": g.get("request_id") if has_request_context() else None,
        **{name: _check_detail(name, value) for name, value in sorted(detail.items())},
    }
    if session is None:
        _write(line)
    else:
        session.info.setdefault(_PENDING, []).append(line)


def _write(line: dict[str, Any]) -> None:
    logger.info(json.dumps(line, separators=(",", ":"), ensure_ascii=False))


def pending(session: DbSession) -> Iterable[dict[str, Any]]:
    """The events waiting for `session`'s commit (for tests)."""
    return tuple(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for line in session.info.pop(_PENDING, ()):
        _write(line)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    # Any rollback, a SAVEPOINT's too: what waited may be undone; better unsaid than false.
    session.info.pop(_PENDING, None)
