"""Starting a signed-in session, and what the session knows of how it was authenticated.

The one place that writes and reads the session's `Authentication` (which methods, when):
the password login, the second-factor step and the step-up write it; the staff guard and
the step-up read it. A sign-in by a provider (OpenID Connect) is to call `sign_in` with the
methods its provider reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import session, url_for
from flask_login import current_user

from housing.accounts.authentication import Authentication, authenticated
from housing.accounts.models import User
from housing.clock import utcnow
from housing.roles import START_ENDPOINTS
from housing.security_events import SUCCESS, security_event
from housing.web import sessions

_AUTHENTICATION = "authentication"
# The provider and ID token of this session's single sign-on, for logging out there too.
SSO_LOGOUT = "sso_logout"


def start_url_for(user: User) -> str:
    role = user.primary_role
    return url_for(START_ENDPOINTS[role]) if role else url_for("start.no_role")


def sign_in(
    user: User, methods: Iterable[str], *, provider_id: int | None = None, acr: str | None = None
) -> None:
    """A new session for `user`, authenticated now with `methods`: a new server-side session
    record and a cookie with nothing of the anonymous one but its language
    (`housing.web.sessions.begin`). A single sign-on names its provider and the
    authentication context (`acr`) it reported; both are kept on the session's record."""
    methods = tuple(methods)
    sessions.begin(user, provider_id=provider_id, acr=acr)
    source = "password" if provider_id is None else f"oidc:{provider_id}"
    session[_AUTHENTICATION] = authenticated(
        user.id, methods, utcnow(), source=source, acr=acr
    ).stored()
    security_event(
        "sign_in",
        result=SUCCESS,
        actor_id=user.id,
        organisation_id=user.organisation_id,
        object=f"user:{user.id}",
        methods=list(methods),
        source=source,
    )


def finish_single_sign_on(
    user: User, signed_in: Mapping[str, Any], extra_methods: tuple[str, ...] = ()
) -> None:
    """Start the session of a single sign-on (`housing.web.sso`), after our second step
    when it was asked (`extra_methods`); keep its provider and ID token for the logout."""
    sign_in(
        user,
        (*signed_in["amr"], *extra_methods),
        provider_id=signed_in["provider"],
        acr=signed_in.get("acr"),
    )
    session[SSO_LOGOUT] = {"provider": signed_in["provider"], "id_token": signed_in.get("id_token")}


def current_acr() -> str | None:
    """The authentication context of this session's single sign-on; None for a password
    login (recorded on each claim submitted in the session)."""
    found = current_authentication()
    return found.acr if found is not None else None


def current_authentication() -> Authentication | None:
    """How the signed-in user of this session was authenticated; None when not signed in,
    or when the session predates this record."""
    if not current_user.is_authenticated:
        return None
    found = Authentication.from_stored(session.get(_AUTHENTICATION))
    return found if found is not None and found.user_id == current_user.id else None


def renew_authentication(method: str) -> None:
    """The signed-in user proved who they are again, just now, with `method` (step-up)."""
    found = current_authentication()
    if found is not None:
        session[_AUTHENTICATION] = found.renewed(method, utcnow()).stored()
