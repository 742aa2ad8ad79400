"""Single sign-on: the account a person a provider vouched for lands in.

`SingleSignOn.admit` finds the person's account by (provider, `sub`), or creates it in the
provider's organisation with the roles the group mapping gives (none otherwise). An
account of another organisation is never reached: identities are per provider, and an
e-mail address that already has an account is refused rather than linked. The exchange
with the provider is `housing.organisations.oidc`; setting providers up is
`housing.organisations.sign_in_providers`.

Every sign-in, refusal, account created and role changed is appended to the provider's
organisation's audit chain. Services flush, never commit.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from housing.accounts.authentication import FACTORS, FEDERATED, MULTI_FACTOR
from housing.accounts.models import User
from housing.accounts.services import normalise_email
from housing.audit.services import AuditTrail
from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.errors import InvalidInput
from housing.organisations.models import (
    ExternalIdentity,
    ProviderAudience,
    SignInProvider,
)
from housing.organisations.oidc import SignInRefused, Verified
from housing.roles import STAFF_ROLES, Role
from housing.security_events import FAILURE, MAX_WORD, security_event

NO_PASSWORD = "!sso"  # noqa: S105 (no hash: no password matches it)

ROLES_FOR_AUDIENCE: dict[ProviderAudience, frozenset[Role]] = {
    ProviderAudience.STAFF: STAFF_ROLES,
    ProviderAudience.APPLICANTS: frozenset({Role.APPLICANT}),
    ProviderAudience.BOTH: frozenset(Role),
}


def not_here(provider: SignInProvider, reason: str) -> SignInRefused:
    """The person is who the provider says, but may not sign in here (403)."""
    message = _l(
        "Your account at %(provider)s cannot be used here. Ask your administrator for access.",
        provider=provider.name,
    )
    return SignInRefused(str(message), reason, status=403)


# --- the group mapping -----------------------------------------------------------------


def parse_role_mapping(text: str) -> list[tuple[str, Role]]:
    """The rules of a mapping: one per line, "group pattern = role" (glob patterns: *, ?,
    [..]); empty lines and lines starting with # are skipped. Raises InvalidInput naming
    the first line that is not a rule."""
    rules: list[tuple[str, Role]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, equals, role = line.rpartition("=")
        pattern, role = pattern.strip(), role.strip().lower()
        if not equals or not pattern or role not in {r.value for r in Role}:
            message = _l(
                'Line %(line)d is not "group = role" with one of the roles %(roles)s.',
                line=number,
                roles=", ".join(r.value for r in Role),
            )
            raise InvalidInput(message, field_errors={"role_mapping": [message]})
        rules.append((pattern, Role(role)))
    return rules


def mapped_roles(rules: Iterable[tuple[str, Role]], groups: Iterable[str]) -> frozenset[Role]:
    """The roles whose pattern matches one of the person's groups (case-sensitive)."""
    groups = list(groups)
    return frozenset(
        role for pattern, role in rules if any(fnmatch.fnmatchcase(g, pattern) for g in groups)
    )


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The person's groups from the named claim: a list of names, or one name."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


# --- the account ---------------------------------------------------------------------


def session_methods(provider: SignInProvider, amr: Iterable[str]) -> frozenset[str]:
    """The methods the session records: the provider's `amr` when this provider's word is
    trusted (so "mfa" counts as multi-factor), otherwise one federated factor."""
    methods = frozenset(amr)
    if provider.trust_provider_mfa and methods & (FACTORS | {MULTI_FACTOR}):
        return methods
    return frozenset({FEDERATED})


class SingleSignOn:
    """Admit a person a provider vouched for into its organisation; audited."""

    def __init__(
        self, session: DbSession, clock: Clock = utcnow, audit: AuditTrail | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = audit or AuditTrail(session, clock=clock)

    def provider(self, provider_id: int) -> SignInProvider | None:
        """An active provider by id (a callback or a login button names it)."""
        found = self.session.get(SignInProvider, provider_id)
        return found if found is not None and found.active else None

    def active_providers(self) -> list[SignInProvider]:
        return list(
            self.session.scalars(
                select(SignInProvider)
                .options(joinedload(SignInProvider.organisation))
                .where(SignInProvider.active.is_(True))
                .order_by(SignInProvider.name, SignInProvider.id)
            )
        )

    def failed(self, provider: SignInProvider, reason: str, subject: str | None = None) -> None:
        """A sign-in at `provider` that did not succeed: audited, and a SIEM hears of it at
        once (as of a wrong password)."""
        security_event(
            "sign_in",
            result=FAILURE,
            actor_id=None,
            organisation_id=provider.organisation_id,
            object=f"sign_in_provider:{provider.id}",
            reason=reason[:MAX_WORD],
        )
        self.audit.append(
            provider.organisation_id,
            event="sso_sign_in_failed",
            actor_id=None,
            reason=reason,
            payload={"provider_id": provider.id, "reason": reason, "subject": subject},
        )

    def admit(self, provider: SignInProvider, verified: Verified) -> User:
        """The account of the person `verified` names: found by (provider, sub), or made
        in the provider's organisation. Raises SignInRefused (audited by the caller) when
        the person may not sign in here; writes nothing then."""
        rules = parse_role_mapping(provider.role_mapping)
        allowed = ROLES_FOR_AUDIENCE[provider.audience]
        groups = groups_of(verified.claims, provider.groups_claim)
        wanted = mapped_roles(rules, groups) & allowed
        identity = self.session.scalars(
            select(ExternalIdentity).where(
                ExternalIdentity.provider_id == provider.id,
                ExternalIdentity.subject == verified.subject,
            )
        ).one_or_none()
        now = self.clock()
        if identity is None:
            user = self._provision(provider, verified, wanted, groups)
            identity = ExternalIdentity(
                provider_id=provider.id, subject=verified.subject, user_id=user.id
            )
            self.session.add(identity)
        else:
            user = self.session.get_one(User, identity.user_id)
            if user.organisation_id != provider.organisation_id or not user.active:
                raise not_here(provider, "inactive")
            if provider.sync_roles:
                self._sync_roles(provider, user, wanted, groups)
        if user.roles - allowed:
            # A staff account may not come in through an applicants' provider, nor the
            # reverse: the provider serves only its audience.
            raise not_here(provider, "audience")
        identity.last_login_at = now
        user.last_login_at = now
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_signed_in",
            actor_id=user.id,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "acr": verified.acr,
                "amr": sorted(verified.amr),
            },
        )
        return user

    def _provision(
        self,
        provider: SignInProvider,
        verified: Verified,
        roles: frozenset[Role],
        groups: list[str],
    ) -> User:
        email = verified.claims.get("email")
        if not isinstance(email, str) or "@" not in email or len(email) > 254:
            raise not_here(provider, "no_email")
        if verified.claims.get("email_verified") is False:
            raise not_here(provider, "email_not_verified")
        email = normalise_email(email)
        if self.session.scalar(select(func.count()).where(User.email == email)):
            # Never linked by e-mail address: that would let a provider (perhaps another
            # organisation's) open an account it did not make.
            raise not_here(provider, "email_taken")
        name = verified.claims.get("name")
        user = User(
            email=email,
            full_name=(name if isinstance(name, str) and name.strip() else email)[:200],
            password_hash=NO_PASSWORD,
            organisation_id=provider.organisation_id,
        )
        user.roles = roles
        self.session.add(user)
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_user_provisioned",
            actor_id=None,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "roles": sorted(roles),
                "groups": sorted(groups),
            },
        )
        return user

    def _sync_roles(
        self, provider: SignInProvider, user: User, wanted: frozenset[Role], groups: list[str]
    ) -> None:
        if wanted == user.roles:
            return
        added, removed = sorted(wanted - user.roles), sorted(user.roles - wanted)
        user.roles = wanted
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sso_roles_changed",
            actor_id=None,
            payload={
                "provider_id": provider.id,
                "user_id": user.id,
                "roles": {"added": added, "removed": removed},
                "groups": sorted(groups),
            },
        )
