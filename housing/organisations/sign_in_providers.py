"""Administering an organisation's sign-in providers (OpenID Connect): checked, audited
(never the secret, which is encrypted at rest). Services flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.clock import Clock, utcnow
from housing.db import DbSession
from housing.errors import InvalidInput, NotFound
from housing.organisations.models import (
    ProviderAudience,
    SignInProvider,
)
from housing.organisations.sso import parse_role_mapping

# --- administering providers ------------------------------------------------------------


@dataclass(frozen=True)
class ProviderData:
    """What an administrator sets for a provider; `client_secret` None keeps the one
    stored (it is never shown again)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str = "openid email profile"
    audience: ProviderAudience = ProviderAudience.BOTH
    groups_claim: str = "groups"
    role_mapping: str = ""
    sync_roles: bool = True
    trust_provider_mfa: bool = False
    active: bool = True


# The fields an audit link names when they change (the secret only as "changed").
_AUDITED_FIELDS = (
    "name",
    "issuer",
    "client_id",
    "scopes",
    "audience",
    "groups_claim",
    "role_mapping",
    "sync_roles",
    "trust_provider_mfa",
    "active",
)


def _problem(field: str, message: Any) -> InvalidInput:
    return InvalidInput(message, field_errors={field: [message]})


def checked(data: ProviderData, *, new: bool) -> ProviderData:
    """`data` stripped and checked; InvalidInput at the first field that is wrong."""
    name, issuer, client_id = data.name.strip(), data.issuer.strip(), data.client_id.strip()
    scopes = " ".join(data.scopes.split())
    groups_claim = data.groups_claim.strip()
    if not name:
        raise _problem("name", _l("Give the provider a name."))
    if len(name) > 80:
        raise _problem("name", _l("At most %(n)d characters.", n=80))
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(issuer) > 500:
        raise _problem(
            "issuer", _l("Give the issuer or its discovery URL, starting with https://.")
        )
    if not client_id or len(client_id) > 200:
        raise _problem("client_id", _l("Give the client id the provider gave (at most 200)."))
    secret = data.client_secret.strip() if data.client_secret else None
    if new and not secret:
        raise _problem("client_secret", _l("Give the client secret the provider gave."))
    if secret is not None and len(secret) > 500:
        raise _problem("client_secret", _l("At most %(n)d characters.", n=500))
    if "openid" not in scopes.split() or len(scopes) > 500:
        raise _problem("scopes", _l('The scopes must include "openid".'))
    if not groups_claim or len(groups_claim) > 100:
        raise _problem("groups_claim", _l("Name the claim that carries the groups or roles."))
    if len(data.role_mapping) > 4000:
        raise _problem("role_mapping", _l("At most %(n)d characters.", n=4000))
    parse_role_mapping(data.role_mapping)
    return ProviderData(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        scopes=scopes,
        audience=ProviderAudience(data.audience),
        groups_claim=groups_claim,
        role_mapping=data.role_mapping.strip(),
        sync_roles=bool(data.sync_roles),
        trust_provider_mfa=bool(data.trust_provider_mfa),
        active=bool(data.active),
    )


class ProviderAdministration:
    """An administrator adds and changes their organisation's providers; audited (never
    the secret). Changing who may sign in how needs step-up in the UI (the views)."""

    def __init__(
        self, session: DbSession, clock: Clock = utcnow, audit: AuditTrail | None = None
    ) -> None:
        self.session = session
        self.clock = clock
        self.audit = audit or AuditTrail(session, clock=clock)

    def _name_taken(self, organisation_id: int, name: str, but: int | None = None) -> None:
        query = select(func.count()).where(
            SignInProvider.organisation_id == organisation_id, SignInProvider.name == name
        )
        if but is not None:
            query = query.where(SignInProvider.id != but)
        if self.session.scalar(query):
            raise _problem("name", _l("Another provider has this name."))

    def create(self, actor: User, data: ProviderData) -> SignInProvider:
        data = checked(data, new=True)
        self._name_taken(actor.organisation_id, data.name)
        assert data.client_secret is not None  # checked: required when new
        provider = SignInProvider(
            organisation_id=actor.organisation_id,
            name=data.name,
            issuer=data.issuer,
            client_id=data.client_id,
            client_secret=data.client_secret,
            scopes=data.scopes,
            audience=data.audience,
            groups_claim=data.groups_claim,
            role_mapping=data.role_mapping,
            sync_roles=data.sync_roles,
            trust_provider_mfa=data.trust_provider_mfa,
            active=data.active,
        )
        self.session.add(provider)
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sign_in_provider_added",
            actor_id=actor.id,
            payload={
                "provider_id": provider.id,
                **{f: getattr(provider, f) for f in _AUDITED_FIELDS},
            },
        )
        return provider

    def update(self, actor: User, provider: SignInProvider, data: ProviderData) -> None:
        if provider.organisation_id != actor.organisation_id:
            raise NotFound(_l("No such provider."))
        data = checked(data, new=False)
        self._name_taken(actor.organisation_id, data.name, but=provider.id)
        changes: dict[str, Any] = {}
        for name in _AUDITED_FIELDS:
            if getattr(provider, name) != getattr(data, name):
                changes[name] = getattr(data, name)
                setattr(provider, name, getattr(data, name))
        if data.client_secret is not None and data.client_secret != provider.client_secret:
            provider.client_secret = data.client_secret
            changes["client_secret"] = "changed"  # noqa: S105 (never the secret itself)
        if not changes:
            return
        self.session.flush()
        self.audit.append(
            provider.organisation_id,
            event="sign_in_provider_changed",
            actor_id=actor.id,
            payload={"provider_id": provider.id, **changes},
        )
