"""Account use cases. Services flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.accounts.models import ApiToken, Channel, Language, User
from housing.accounts.passwords import hash_password, policy_problems, verify_password
from housing.clock import utcnow
from housing.errors import Conflict, InvalidInput, NotFound
from housing.roles import Role
from housing.scoping import Scope

if TYPE_CHECKING:
    # Accounts sit below organisations: a user only points at theirs (the mapper resolves
    # the relationship by name), so the class is needed for the annotation alone.
    from housing.organisations.models import Organisation

TOKEN_PREFIX = "vw_"  # noqa: S105 (a marker, not a secret)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountService:
    def __init__(self, session: Session, clock: Callable[[], dt.datetime] = utcnow) -> None:
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

    # --- user administration --------------------------------------------------------
    def create_user(
        self,
        *,
        organisation: Organisation,
        email: str,
        full_name: str,
        password: str,
        roles: Iterable[Role],
        language: Language = Language.NL,
        channel: Channel = Channel.POST,
    ) -> User:
        email = normalise_email(email)
        if self.session.scalar(select(func.count()).where(User.email == email)):
            raise Conflict(
                _l("An account with this e-mail address already exists."),
                field_errors={"email": [_l("An account with this e-mail address already exists.")]},
            )
        problems = policy_problems(password, email=email)
        if problems:
            raise InvalidInput(problems[0], field_errors={"password": problems})
        user = User(
            email=email,
            full_name=full_name.strip(),
            password_hash=hash_password(password),
            organisation=organisation,
            language=language,
            channel_preference=channel,
        )
        user.roles = frozenset(roles)
        self.session.add(user)
        self.session.flush()
        return user

    def update_user(
        self,
        actor: User,
        user: User,
        *,
        full_name: str,
        roles: Iterable[Role],
        active: bool,
        language: Language,
        channel: Channel,
    ) -> None:
        roles = frozenset(roles)
        if user.id == actor.id and (not active or Role.ADMIN not in roles):
            # Otherwise the last administrator can lock the organisation out by accident.
            raise InvalidInput(
                _l("You cannot remove your own administrator role or deactivate yourself."),
                field_errors={"roles": [_l("You cannot remove your own administrator role.")]},
            )
        if not roles:
            raise InvalidInput(
                _l("Choose at least one role."),
                field_errors={"roles": [_l("Choose at least one role.")]},
            )
        if user.active and not active:
            user.session_version += 1
        user.full_name = full_name.strip()
        user.roles = roles
        user.active = active
        user.language = language
        user.channel_preference = channel
        self.session.flush()

    def reset_password(self, user: User, new_password: str) -> None:
        """An administrator sets a temporary password; the user's sessions end."""
        problems = policy_problems(new_password, email=user.email)
        if problems:
            raise InvalidInput(problems[0], field_errors={"password": problems})
        user.password_hash = hash_password(new_password)
        user.password_changed_at = self.clock()
        user.session_version += 1
        self.session.flush()

    # --- API tokens -------------------------------------------------------------------
    def issue_token(
        self, user: User, name: str, *, valid_for: dt.timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token; the secret is returned once and never stored."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput(
                _l("Give the token a name of 1 to 100 characters."),
                field_errors={"name": [_l("Give the token a name of 1 to 100 characters.")]},
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user=user,
            name=name,
            token_hash=token_digest(secret),
            prefix=secret[:10],
            expires_at=self.clock() + valid_for if valid_for else None,
        )
        self.session.add(token)
        self.session.flush()
        return token, secret

    def revoke_token(self, scope: Scope, token_id: int) -> ApiToken:
        token = scope.get(self.session, ApiToken, token_id)
        if token is None:
            raise NotFound(_l("No such token."))
        if token.revoked_at is None:
            token.revoked_at = self.clock()
            self.session.flush()
        return token

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
