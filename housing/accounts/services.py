"""Signing in: passwords, sessions and API tokens. Services flush, never commit.

What an administrator or operator does to an account is in
`housing.organisations.accounts`, which audits it: accounts sit below the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from housing.accounts.models import ApiToken, User
from housing.accounts.passwords import hash_password, policy_problems, verify_password
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import InvalidInput

if TYPE_CHECKING:
    # Accounts sit below organisations: a user only points at theirs (the mapper resolves
    # the relationship by name), so the class is needed for the annotation alone.
    pass

TOKEN_PREFIX = "vw_"  # noqa: S105 (a marker, not a secret)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountService:
    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.session = session
        self.clock = clock

    # --- authentication -------------------------------------------------------------
    def authenticate(self, email: str, password: str) -> User | None:
        """The active user with these credentials, or None (without saying which part failed)."""
        user = self.session.scalars(
            select(User).where(User.email == normalise_email(email))
        ).one_or_none()
        ok, needs_rehash = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.active:
            return None
        if needs_rehash:
            user.password_hash = hash_password(password)
        user.last_login_at = self.clock()
        self.session.flush()
        return user

    def load_session_user(self, session_id: str) -> User | None:
        """Resolve Flask-Login's id `user:version`; a stale version means logged out."""
        user_part, _, version_part = session_id.partition(":")
        if not (user_part.isdigit() and version_part.isdigit()):
            return None
        user = self.session.get(User, int(user_part))
        if user is None or not user.active or user.session_version != int(version_part):
            return None
        return user

    def change_password(self, user: User, current: str, new: str) -> None:
        ok, _ = verify_password(user.password_hash, current)
        if not ok:
            raise InvalidInput(
                _l("The current password is not correct."),
                field_errors={"current_password": [_l("The current password is not correct.")]},
            )
        problems = policy_problems(new, email=user.email)
        if new == current:
            problems.append(_l("Choose a password different from the current one."))
        if problems:
            raise InvalidInput(problems[0], field_errors={"new_password": problems})
        user.password_hash = hash_password(new)
        user.password_changed_at = self.clock()
        # Every other session of this user ends; the caller logs the current one in again.
        user.session_version += 1
        self.session.flush()

    def user_for_token(self, secret: str) -> User | None:
        """The active owner of a usable token; marks the token as used."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        token = self.session.scalars(
            select(ApiToken).where(ApiToken.token_hash == token_digest(secret))
        ).one_or_none()
        now = self.clock()
        if token is None or not token.usable_at(now) or not token.user.active:
            return None
        token.last_used_at = now
        self.session.flush()
        return token.user
