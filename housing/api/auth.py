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
from housing.unit_of_work import before_commit, first_use

F = TypeVar("F", bound=Callable[..., Any])
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="veilig-wonen"'}


def _authenticate() -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, message="Send a bearer token in the Authorization header.", headers=CHALLENGE)
    accounts = AccountService(db.session)
    # The request's first statement: on a connection the server dropped while it sat in
    # the pool, it is sent once more on a fresh one.
    token = first_use(db.session, lambda: accounts.token_for(secret.strip()))
    if token is None:
        abort(401, message="The token is unknown, revoked or expired.", headers=CHALLENGE)
    if accounts.token_use_due(token):
        # Part of the request's transaction, its last write: saved when the request is, and
        # the token's row locked only for the moment of the COMMIT.
        token_id = token.id
        before_commit(lambda _response: accounts.record_token_use(token_id))
    return token.user


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
