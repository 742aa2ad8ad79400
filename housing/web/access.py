"""Who may open a page: authentication, roles, and the current user's scope."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, g
from flask_login import current_user

from housing.audit.services import VIEW_CLAIM, record_access
from housing.claims.models import Claim
from housing.db import db
from housing.extensions import login_manager
from housing.roles import Role
from housing.scoping import Scope

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role) -> Callable[[F], F]:
    """Let in only logged-in users holding one of `roles`; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = frozenset(roles)  # type: ignore[attr-defined]  # mypy: no function attributes
        return cast(F, wrapped)  # wraps keeps the view's signature

    return decorate


def login_required(view: F) -> F:
    """Any logged-in user; marked so the route audit knows it is deliberate."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    wrapped.required_roles = frozenset(Role)  # type: ignore[attr-defined]  # mypy: no function attributes
    return cast(F, wrapped)  # wraps keeps the view's signature


def public(view: F) -> F:
    """Open to anyone; marked so the route audit knows it is deliberate."""
    view.required_roles = frozenset()  # type: ignore[attr-defined]  # mypy: no function attributes
    return view


def current_scope() -> Scope:
    if "scope" not in g:
        g.scope = Scope.for_user(current_user) if current_user.is_authenticated else Scope.nobody()
    return g.scope


def safe_next(target: str | None) -> str | None:
    """Accept only a local path as a redirect target (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def record_claim_view(claim: Claim) -> None:
    """Log that the signed-in user read this claim's page (the access log, for auditors)."""
    record_access(
        db.session,
        organisation_id=claim.organisation_id,
        user_id=current_user.id,
        roles=current_user.roles,
        claim_id=claim.id,
        action=VIEW_CLAIM,
        request_id=g.get("request_id"),
    )
