"""Administering accounts: users, roles, password resets, second factors and API tokens.

Each act is audited in the organisation's hash chain in the same transaction (the caller
owns it); a payload never holds a password, a token's secret or its hash. It lives with
the organisation's administration, above both the accounts and the audit trail.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.factors import SecondFactors, requires_second_factor, wrong_code
from housing.accounts.models import ApiToken, Channel, Language, SessionEnd, User
from housing.accounts.passwords import hash_password, policy_problems
from housing.accounts.services import TOKEN_PREFIX, normalise_email, token_digest
from housing.accounts.sessions import SessionService
from housing.audit.services import AuditTrail
from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.organisations.models import Organisation
from housing.roles import Role
from housing.scoping import Scope


class AccountAdministration:
    def __init__(
        self, session: DbSession, clock: Clock = utcnow, audit: AuditTrail | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = audit or AuditTrail(session, clock=clock)
        # Only ending sessions: how long one lasts does not matter here.
        self.sessions = SessionService(session, clock)

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
        actor_id: int | None = None,
    ) -> User:
        """Add an account; `actor_id` is the administrator (None: an operator's command)."""
        email = normalise_email(email)
        if self.session.scalar(select(func.count()).where(User.email == email)):
            raise Conflict(
                _l("An account with this e-mail address already exists."),
                field_errors={"email": [_l("An account with this e-mail address already exists.")]},
            )
        problems = policy_problems(
            password, email=email, full_name=full_name, organisation=organisation.name
        )
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
        self.audit.append(
            user.organisation_id,
            event="user_created",
            actor_id=actor_id,
            payload={"user_id": user.id, "roles": sorted(user.roles), "active": user.active},
        )
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
        changes: dict[str, object] = {}
        if roles != user.roles:
            changes["roles"] = {
                "added": sorted(roles - user.roles),
                "removed": sorted(user.roles - roles),
            }
        if active != user.active:
            changes["active"] = active
        if user.active and not active:
            user.session_version += 1
            self.sessions.end_all(user.id, SessionEnd.DEACTIVATED)
        user.full_name = full_name.strip()
        user.roles = roles
        user.active = active
        user.language = language
        user.channel_preference = channel
        self.session.flush()
        # Roles and access are audited; a name or a language is the user's own business.
        if changes:
            self.audit.append(
                user.organisation_id,
                event="user_updated",
                actor_id=actor.id,
                payload={"user_id": user.id, **changes},
            )

    def reset_password(self, user: User, new_password: str, *, actor_id: int | None = None) -> None:
        """An administrator sets a temporary password; the user's sessions end."""
        problems = policy_problems(
            new_password,
            email=user.email,
            full_name=user.full_name,
            organisation=user.organisation.name,
        )
        if problems:
            raise InvalidInput(problems[0], field_errors={"password": problems})
        user.password_hash = hash_password(new_password)
        user.password_changed_at = self.clock()
        user.session_version += 1
        self.sessions.end_all(user.id, SessionEnd.PASSWORD)
        self.session.flush()
        self.audit.append(
            user.organisation_id,
            event="password_reset",
            actor_id=actor_id,
            payload={"user_id": user.id},
        )

    def sign_out_everywhere(self, user: User) -> int:
        """The user ends every session of theirs, on every device (API tokens stay);
        audited. How many sessions were open."""
        ended = self.sessions.end_all(user.id, SessionEnd.EVERYWHERE)
        self.audit.append(
            user.organisation_id,
            event="signed_out_everywhere",
            actor_id=user.id,
            payload={"user_id": user.id, "sessions": ended},
        )
        return ended

    # --- the second factor ------------------------------------------------------------
    def factors(self) -> SecondFactors:
        return SecondFactors(self.session, clock=self.clock)

    def check_second_factor(self, user: User, code: str) -> str | None:
        """The user's code or recovery code, accepted once (`SecondFactors.check`); a
        recovery code used is audited, so its owner and the administrator see it."""
        method = self.factors().check(user, code)
        if method == "recovery":
            self._audit_factor(user, "recovery_code_used", actor_id=user.id)
        return method

    def enrol_second_factor(self, user: User, secret: str, code: str) -> list[str]:
        """The user sets up their app, proving it with a code; the recovery codes."""
        codes = self.factors().enrol(user, secret, code)
        self._audit_factor(user, "second_factor_enrolled", actor_id=user.id)
        return codes

    def install_second_factor(self, user: User, secret: str) -> None:
        """An operator's command sets a known secret (the demo's): no code to prove it."""
        self.factors().install(user, secret)
        self._audit_factor(user, "second_factor_enrolled", actor_id=None)

    def replace_own_second_factor(
        self, user: User, current_code: str, secret: str, new_code: str
    ) -> list[str]:
        """The user moves to a new app: the old factor first, then a code of the new one."""
        self._require_own_factor(user, current_code)
        codes = self.factors().replace(user, secret, new_code)
        self._audit_factor(user, "second_factor_replaced", actor_id=user.id)
        return codes

    def renew_recovery_codes(self, user: User, current_code: str) -> list[str]:
        self._require_own_factor(user, current_code)
        codes = self.factors().new_recovery_codes(user)
        self._audit_factor(user, "recovery_codes_renewed", actor_id=user.id)
        return codes

    def remove_own_second_factor(self, user: User, current_code: str) -> None:
        """Someone who need not have a factor turns theirs off, with a code of it."""
        if requires_second_factor(user):
            raise Forbidden(
                _l("Your role needs a second factor: you can replace it, not remove it.")
            )
        self._require_own_factor(user, current_code)
        self.factors().remove(user)
        self._audit_factor(user, "second_factor_removed", actor_id=user.id)

    def reset_second_factor(self, actor: User, user: User) -> None:
        """An administrator removes a user's factor (lost phone): the user's sessions end
        and a staff user sets up a new one at their next login. Never one's own: that
        goes with the old factor, on the profile page."""
        if actor.id == user.id:
            raise Forbidden(
                _l("You cannot reset your own second factor; replace it on your profile page.")
            )
        if not self.factors().remove(user):
            raise Conflict(_l("This user has no second factor to reset."))
        user.session_version += 1
        self.session.flush()
        self._audit_factor(user, "second_factor_reset", actor_id=actor.id)

    def _require_own_factor(self, user: User, code: str) -> None:
        if self.check_second_factor(user, code) is None:
            raise wrong_code("current_code")

    def _audit_factor(self, user: User, event: str, *, actor_id: int | None) -> None:
        self.audit.append(
            user.organisation_id, event=event, actor_id=actor_id, payload={"user_id": user.id}
        )

    # --- API tokens -------------------------------------------------------------------
    def issue_token(
        self,
        user: User,
        name: str,
        *,
        valid_for: dt.timedelta | None = None,
        actor_id: int | None = None,
    ) -> tuple[ApiToken, str]:
        """Create a token; the secret is returned once and never stored.

        `actor_id` is who issued it: the user themself, or None for an operator's command.
        """
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
        self.audit.append(
            user.organisation_id,
            event="api_token_issued",
            actor_id=actor_id,
            payload={
                "token_id": token.id,
                "user_id": user.id,
                "name": token.name,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
            },
        )
        return token, secret

    def revoke_token(self, scope: Scope, token_id: int) -> ApiToken:
        token = scope.get(self.session, ApiToken, token_id)
        if token is None:
            raise NotFound(_l("No such token."))
        self._revoke(token, actor_id=scope.user_id)
        return token

    def revoke_tokens_starting(self, prefix: str) -> list[ApiToken]:
        """An operator revokes every live token whose secret starts with `prefix`."""
        found = self.session.scalars(
            select(ApiToken)
            .where(ApiToken.prefix == prefix[:10], ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id)
        ).all()
        for token in found:
            self._revoke(token, actor_id=None)
        return list(found)

    def _revoke(self, token: ApiToken, *, actor_id: int | None) -> None:
        if token.revoked_at is not None:
            return
        token.revoked_at = self.clock()
        self.session.flush()
        self.audit.append(
            token.user.organisation_id,
            event="api_token_revoked",
            actor_id=actor_id,
            payload={"token_id": token.id, "user_id": token.user_id},
        )
