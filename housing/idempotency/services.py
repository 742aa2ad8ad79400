"""Idempotency keys: the first request with a key does the work; a retry gets its response.

The key is taken by inserting its row *before* the work, in the work's own transaction, and
the response is written to it before the commit: the key and the work are committed
together or not at all. A retry that arrives while the first request still runs waits on
the key's unique index (PostgreSQL makes the second INSERT wait for the first transaction)
and then answers the first response, or does the work itself if the first was undone; a
retry that has to ask again is worse for the caller than a short wait bounded by one
request. Keys are forgotten after a lifetime (a setting): an expired key is deleted when it
is met again, and by `sweep`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.errors import Conflict
from housing.idempotency.models import IdempotencyKey

KEY_MAX_LENGTH = 255
STILL_RUNNING = _l("A request with this key is still being processed; try again shortly.")


@dataclass(frozen=True)
class FirstResponse:
    """What the first request with a key answered, and which request that was."""

    fingerprint: str
    status: int
    headers: Mapping[str, str]
    body: str


def fingerprint(method: str, path: str, parts: Iterable[bytes]) -> str:
    """SHA-256 (hex) of a request: its method, path and body, each part length-prefixed."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), *parts):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyKeys:
    """Take keys for requests and remember their responses, for one caller. Never commits."""

    def __init__(
        self,
        session: DbSession,
        *,
        lifetime: dt.timedelta = dt.timedelta(hours=24),
        clock: Clock = utcnow,
    ) -> None:
        self.session = session
        self.lifetime = lifetime
        self.clock = clock

    @classmethod
    def from_config(cls, session: DbSession, config: Mapping[str, object]) -> IdempotencyKeys:
        """The keys with the lifetime the app's settings give (IDEMPOTENCY_KEY_HOURS)."""
        hours = int(str(config.get("IDEMPOTENCY_KEY_HOURS", 24)))
        return cls(session, lifetime=dt.timedelta(hours=hours))

    def take(self, user_id: int, key: str, request_fingerprint: str) -> int | FirstResponse:
        """Take `key` for this request (its row's id), or return the first request's answer.

        Waits while another transaction holds the key. A key still without its response
        (taken in this very transaction) is a conflict.
        """
        for _attempt in range(3):
            taken = self.session.execute(
                self._insert()
                .values(
                    user_id=user_id,
                    key=key,
                    fingerprint=request_fingerprint,
                    created_at=self.clock(),
                )
                .on_conflict_do_nothing(index_elements=["user_id", "key"])
                .returning(IdempotencyKey.id)
            ).scalar_one_or_none()
            if taken is not None:
                return taken
            first = self.session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                .execution_options(populate_existing=True)
            ).scalar_one_or_none()
            if first is None:
                continue  # undone or swept since: take it again
            if first.expired(self.clock(), self.lifetime):
                self.session.delete(first)
                self.session.flush()
                continue
            if first.response_status is None:
                raise Conflict(str(STILL_RUNNING))
            return FirstResponse(
                fingerprint=first.fingerprint,
                status=first.response_status,
                headers=dict(first.response_headers or {}),
                body=first.response_body or "",
            )
        raise Conflict(str(STILL_RUNNING))

    def answer(self, key_id: int, status: int, headers: Mapping[str, str], body: str) -> None:
        """Remember the response of the request that took the key (before its commit)."""
        self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(response_status=status, response_headers=dict(headers), response_body=body)
        )

    def release(self, key_id: int) -> None:
        """Give the key back unused (the request did nothing to remember)."""
        self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))

    def sweep(self) -> int:
        """Delete the keys past their lifetime; how many went."""
        result = self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at <= self.clock() - self.lifetime)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self.session.get_bind().dialect.name == "sqlite":
            return sqlite.insert(IdempotencyKey)
        return postgresql.insert(IdempotencyKey)
