"""Bearer-token authentication for the JSON API (no cookies, hence no CSRF)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request
from flask_smorest import abort

from housing.accounts.models import User
from housing.accounts.services import AccountService
from housing.db import db
from housing.roles import Role
from housing.scoping import Scope

F = TypeVar("F", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="veilig-wonen"'}


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, message="Send a bearer token in the Authorization header.", headers=CHALLENGE)
    user = AccountService(db.session).user_for_token(secret.strip())
    if user is None:
        abort(401, message="The token is unknown, revoked or expired.", headers=CHALLENGE)
    # The last use is part of the request's unit of work: saved when the request is.
    return user


def authenticated_user() -> User:
    """The caller, authenticated once per request (401 without a valid token)."""
    if "api_user" not in g:
        g.api_user = _authenticate()
    user: User = g.api_user
    return user


def api_user() -> User:
    return g.api_user


def api_scope() -> Scope:
    return Scope.for_user(g.api_user)


def token_required(*roles: Role) -> Callable[[F], F]:
    """Authenticate by bearer token; with `roles`, also require one of them (else 403)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            authenticated_user()
            if roles and not g.api_user.has_role(*roles):
                abort(403, message="Your role does not allow this.")
            return view(*args, **kwargs)

        required = frozenset(roles) if roles else frozenset(Role)
        wrapped.required_roles = required  # type: ignore[attr-defined]  # mypy: no function attributes
        return cast(F, wrapped)  # wraps keeps the view's signature

    return decorate
