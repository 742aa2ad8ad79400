"""Signed-in sessions kept on the server: begun at sign-in, ended by logout, by signing out
everywhere, after the idle timeout or the absolute lifetime. Services flush, never commit.

The browser's cookie (Flask's signed session) carries a random secret; the server keeps a
`UserSession` row per sign-in with the secret's SHA-256. Ending the row ends the session for
every copy of the cookie. What a request does with this (the cookie, Flask-Login) is in
`housing.web.sessions`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager

from housing.accounts.models import SessionEnd, User, UserRole, UserSession
from housing.clock import Clock, utcnow
from housing.db import DbSession

# `last_seen_at` is exact to this much: a session used all day writes its row once a minute
# at most, not on every request (a write, and a row lock its parallel requests queue on).
SEEN_RESOLUTION = dt.timedelta(minutes=1)


def session_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionService:
    def __init__(
        self,
        session: DbSession,
        clock: Clock = utcnow,
        *,
        idle: dt.timedelta = dt.timedelta(minutes=30),
        lifetime: dt.timedelta = dt.timedelta(hours=12),
    ) -> None:
        self.session = session
        self.clock = clock
        self.idle = idle
        self.lifetime = lifetime

    @classmethod
    def from_config(
        cls, session: DbSession, config: Mapping[str, Any], clock: Clock = utcnow
    ) -> SessionService:
        """With the app's SESSION_IDLE_MINUTES and SESSION_LIFETIME_HOURS."""
        return cls(
            session,
            clock,
            idle=dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
            lifetime=dt.timedelta(hours=config["SESSION_LIFETIME_HOURS"]),
        )

    def start(
        self, user: User, *, provider_id: int | None = None, acr: str | None = None
    ) -> tuple[UserSession, str]:
        """A new session for `user`; the secret is for the cookie and is not stored. A
        single sign-on records its provider and authentication context (`acr`)."""
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        record = UserSession(
            user=user,
            token_hash=session_digest(secret),
            created_at=now,
            last_seen_at=now,
            provider_id=provider_id,
            acr=acr,
        )
        self.session.add(record)
        self.session.flush()
        return record, secret

    def find(self, secret: str) -> UserSession | None:
        """The session with this secret, its user and the user's roles, in one statement;
        whether it may still be used is `ended_by`'s question."""
        if not secret or len(secret) > 100:
            return None
        return (
            self.session.scalars(
                select(UserSession)
                .join(UserSession.user)
                .outerjoin(User.role_rows)
                .options(contains_eager(UserSession.user).contains_eager(User.role_rows))
                .where(UserSession.token_hash == session_digest(secret))
                .order_by(UserRole.role)
            )
            .unique()
            .one_or_none()
        )

    def ended_by(self, record: UserSession) -> SessionEnd | None:
        """Why the session can no longer be used (None: it can)."""
        if record.ended_at is not None:
            return record.end_reason or SessionEnd.LOGOUT
        if not record.user.active:
            return SessionEnd.DEACTIVATED
        now = self.clock()
        if now - record.created_at >= self.lifetime:
            return SessionEnd.LIFETIME
        if now - record.last_seen_at >= self.idle:
            return SessionEnd.IDLE
        return None

    def end(self, record: UserSession, reason: SessionEnd) -> None:
        if record.ended_at is None:
            record.ended_at = self.clock()
            record.end_reason = reason
            self.session.flush()

    def end_all(self, user_id: int, reason: SessionEnd, *, keep: int | None = None) -> int:
        """End every open session of the user (but `keep`); how many were open."""
        statement = (
            update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .values(ended_at=self.clock(), end_reason=reason)
        )
        if keep is not None:
            statement = statement.where(UserSession.id != keep)
        # Rows this session has loaded are brought up to date ("evaluate", the default).
        result = self.session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    def open_count(self, user_id: int) -> int:
        """How many of the user's sessions can still be used."""
        now = self.clock()
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(UserSession)
                .where(
                    UserSession.user_id == user_id,
                    UserSession.ended_at.is_(None),
                    UserSession.created_at > now - self.lifetime,
                    UserSession.last_seen_at > now - self.idle,
                )
            )
            or 0
        )

    def seen_due(self, record: UserSession) -> bool:
        """Whether the recorded last use is older than `SEEN_RESOLUTION`."""
        return self.clock() - record.last_seen_at >= SEEN_RESOLUTION

    def record_seen(self, session_id: int) -> None:
        """Record the session's use now, unless one within `SEEN_RESOLUTION` is recorded
        already (by a parallel request): one UPDATE whose condition makes a request that
        waited for another's write of the same row write nothing."""
        now = self.clock()
        self.session.execute(
            update(UserSession)
            .where(
                UserSession.id == session_id,
                UserSession.ended_at.is_(None),
                UserSession.last_seen_at <= now - SEEN_RESOLUTION,
            )
            .values(last_seen_at=now),
            execution_options={"synchronize_session": False},
        )
