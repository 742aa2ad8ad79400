"""User, its roles, its API tokens, its signed-in sessions and its second factor."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from housing.db import Base, created_at, encrypted, intpk, str200, str_enum
from housing.roles import ROLE_PRECEDENCE, Role

if TYPE_CHECKING:
    from housing.organisations.models import Organisation


class Language(enum.StrEnum):
    NL = "nl"
    EN = "en"


class Channel(enum.StrEnum):
    """How the body may reach this person (electronic only when chosen, Awb 2026)."""

    ELECTRONIC = "electronic"
    POST = "post"


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str200]
    password_hash: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    language: Mapped[Language] = mapped_column(
        str_enum(Language, "language"), default=Language.NL, server_default=Language.NL.value
    )
    channel_preference: Mapped[Channel] = mapped_column(
        str_enum(Channel, "channel"), default=Channel.POST, server_default=Channel.POST.value
    )
    # Part of the session id: bumping it logs out every session of this user.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    last_login_at: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    @roles.setter
    def roles(self, wanted: set[Role] | frozenset[Role]) -> None:
        kept = [r for r in self.role_rows if r.role in wanted]
        have = {r.role for r in kept}
        self.role_rows = kept + [UserRole(role=r) for r in sorted(wanted - have)]

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def primary_role(self) -> Role | None:
        return next((r for r in ROLE_PRECEDENCE if r in self.roles), None)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"), primary_key=True)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the secret, so a person can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[created_at]
    last_used_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def usable_at(self, moment: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or moment < self.expires_at)


class SessionEnd(enum.StrEnum):
    """Why a signed-in session ended."""

    LOGOUT = "logout"
    EVERYWHERE = "everywhere"  # the user signed out on every device
    IDLE = "idle"
    LIFETIME = "lifetime"
    PASSWORD = "password"  # noqa: S105 (a reason: the password was changed or reset)
    DEACTIVATED = "deactivated"


class UserSession(Base):
    """A signed-in browser session, kept on the server so that ending it here ends it.

    The session cookie carries a random secret; only its SHA-256 is stored, so a copy of
    this table opens no session. A session is usable while it is not ended, was used within
    the idle timeout and began within the absolute lifetime (`housing.accounts.sessions`).
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_open", "user_id", "ended_at"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    # Written at most once a minute (SEEN_RESOLUTION), not on every request.
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[SessionEnd | None] = mapped_column(str_enum(SessionEnd, "session_end"))
    # A single sign-on: the provider, and the authentication context it reported (`acr`).
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("sign_in_provider.id", ondelete="SET NULL")
    )
    acr: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class SignInFailure(Base):
    """A wrong password for an existing account: what a spike of failures is counted from.

    Only failures on existing accounts are kept, with the account's organisation: what was
    typed as an e-mail address for no account (sometimes a password) is never stored.
    """

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index("ix_sign_in_failure_organisation_at", "organisation_id", "at"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    # The client's address as the app saw it (IPv6 at most 45 characters).
    address: Mapped[str] = mapped_column(String(45))
    at: Mapped[dt.datetime]


class SignInSpike(Base):
    """An organisation's current or last spike of failed sign-ins; its administrators are
    told when one begins, and not again while it lasts."""

    __tablename__ = "sign_in_spike"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    started_at: Mapped[dt.datetime]
    # The last failure that found the organisation above the threshold: the spike lasts
    # while that happens again within the window.
    seen_at: Mapped[dt.datetime]


class TotpFactor(Base):
    """A user's authenticator app (TOTP, RFC 6238): the second factor of a password login.

    The row exists only once the user proved with a code that their app has the secret, so
    a user is enrolled or not, never half. Its own table, not columns on the user: enrolling
    is one insert and a reset one delete, and passkeys can join as a table of their own.
    """

    __tablename__ = "totp_factor"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), unique=True
    )
    # Base32, encrypted at rest with the field keys (rotated by `housing keys rotate`).
    secret: Mapped[encrypted]
    # The time step (Unix time // 30) of the last code accepted: a code of that step or an
    # earlier one is refused, so each code is used once.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[dt.datetime]
    created_at: Mapped[created_at]


class RecoveryCode(Base):
    """A single-use code for when the authenticator app is lost; only its Argon2 hash is
    kept, the code is shown once."""

    __tablename__ = "recovery_code"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
