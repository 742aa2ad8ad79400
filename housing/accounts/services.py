"""Signing in: passwords, sessions and API tokens. Services flush, never commit.

What an administrator or operator does to an account is in
`housing.organisations.accounts`, which audits it: accounts sit below the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.orm import contains_eager

from housing.accounts.models import ApiToken, User, UserRole
from housing.accounts.passwords import hash_password, policy_problems, verify_password
from housing.clock import utcnow
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.security_events import FAILURE, SUCCESS, security_event

if TYPE_CHECKING:
    # Accounts sit below organisations: a user only points at theirs (the mapper resolves
    # the relationship by name), so the class is needed for the annotation alone.
    pass

TOKEN_PREFIX = "vw_"  # noqa: S105 (a marker, not a secret)
# A token's `last_used_at` is exact to this much: it is written at most once per this
# period, so an integration calling all day does not rewrite its token's row on every
# request (a write, and a row lock that its concurrent requests would queue on).
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SignInAttempt:
    """What a sign-in with a password came to."""

    user: User | None  # signed in
    wrong_password_for: User | None  # the existing account a wrong password was given for


def normalise_email(email: str) -> str:
    return email.strip().lower()


def sign_in_failed(account: User | None, reason: str) -> None:
    """A password sign-in failed: for the SIEM, the account (if one exists), never what was
    typed (an e-mail field holds a password now and then)."""
    security_event(
        "sign_in",
        result=FAILURE,
        actor_id=None,
        organisation_id=account.organisation_id if account else None,
        object=f"user:{account.id}" if account else None,
        reason=reason,
    )


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@cache
def _token_by_digest() -> Select[ApiToken]:
    """Every API request's first statement, built once (at first use: the mappers are
    complete by then): the token with its owner and roles."""
    return (
        select(ApiToken)
        .join(ApiToken.user)
        .outerjoin(User.role_rows)
        .options(contains_eager(ApiToken.user).contains_eager(User.role_rows))
        .where(ApiToken.token_hash == bindparam("token_hash"))
        .order_by(UserRole.role)
    )


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
        return self.attempt(email, password).user

    def attempt(self, email: str, password: str) -> SignInAttempt:
        """Check the credentials: who signed in, or which existing account a wrong
        password was given for (so a spike of failures can be seen)."""
        account = self.session.scalars(
            select(User).where(User.email == normalise_email(email))
        ).one_or_none()
        ok, needs_rehash = verify_password(account.password_hash if account else None, password)
        if account is None or not ok:
            sign_in_failed(account, "unknown_account" if account is None else "wrong_password")
            return SignInAttempt(user=None, wrong_password_for=account)
        if not account.active:
            sign_in_failed(account, "inactive_account")
            return SignInAttempt(user=None, wrong_password_for=None)
        if needs_rehash:
            account.password_hash = hash_password(password)
        account.last_login_at = self.clock()
        self.session.flush()
        return SignInAttempt(user=account, wrong_password_for=None)

    def change_password(self, user: User, current: str, new: str) -> None:
        ok, _ = verify_password(user.password_hash, current)
        if not ok:
            raise InvalidInput(
                _l("The current password is not correct."),
                field_errors={"current_password": [_l("The current password is not correct.")]},
            )
        problems = policy_problems(
            new, email=user.email, full_name=user.full_name, organisation=user.organisation.name
        )
        if new == current:
            problems.append(_l("Choose a password different from the current one."))
        if problems:
            raise InvalidInput(problems[0], field_errors={"new_password": problems})
        user.password_hash = hash_password(new)
        user.password_changed_at = self.clock()
        # Every other session of this user ends; the caller logs the current one in again.
        user.session_version += 1
        self.session.flush()
        security_event(
            "password_changed",
            result=SUCCESS,
            actor_id=user.id,
            organisation_id=user.organisation_id,
            object=f"user:{user.id}",
            session=self.session,
        )

    def token_for(self, secret: str) -> ApiToken | None:
        """The usable token with this secret, its active owner and the owner's roles, read
        in one statement; None when the token is unknown, revoked or expired, or its owner
        inactive.

        The token is looked up by the SHA-256 of its secret, never compared with it: how
        long a lookup takes depends on the digest alone, which tells a guesser nothing
        about how close a guessed secret came. Nothing is written here: the caller records
        the use (`token_use_due`, `record_token_use`) in the transaction that saves its
        work.
        """
        if not secret.startswith(TOKEN_PREFIX):
            return None
        token = (
            self.session.scalars(_token_by_digest(), {"token_hash": token_digest(secret)})
            .unique()
            .one_or_none()
        )
        if token is None or not token.usable_at(self.clock()) or not token.user.active:
            return None
        return token

    def token_use_due(self, token: ApiToken) -> bool:
        """Whether the token's recorded last use is older than `TOKEN_USE_RESOLUTION`."""
        last = token.last_used_at
        return last is None or self.clock() - last >= TOKEN_USE_RESOLUTION

    def record_token_use(self, token_id: int) -> None:
        """Record the token's use now, in the caller's transaction, unless a use within
        `TOKEN_USE_RESOLUTION` is recorded already (by a concurrent request, say).

        One UPDATE, whose condition makes a request that waited for another's write of the
        same row write nothing.
        """
        now = self.clock()
        self.session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - TOKEN_USE_RESOLUTION,
                ),
            )
            .values(last_used_at=now),
            execution_options={"synchronize_session": False},
        )
