"""One-time form tokens: a double click or a resubmission after a timeout does one thing.

A form that creates or fires carries `{{ once_field() }}`: a random token, new on every
page. The first POST with it takes the token as an idempotency key of its user
(housing.idempotency), in the request's own transaction: the token is used up exactly when
the work commits (a redirect), and not when it is refused, fails or shows the form again.
A second POST with the same token waits while the first still runs, then is sent where the
first was sent, with a message that it had been done already, and writes nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from housing.db import db
from housing.idempotency.services import FirstResponse, IdempotencyKeys, fingerprint
from housing.unit_of_work import before_commit

F = TypeVar("F", bound=Callable[..., Any])

FIELD = "once_token"
# Work done answers with a redirect (post/redirect/get); another answer did nothing.
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def once_field() -> Markup:
    """The hidden field of a form's one-time token (a template global)."""
    token = secrets.token_urlsafe(24)
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token)


def _keys() -> IdempotencyKeys:
    return IdempotencyKeys.from_config(db.session, current_app.config)


def passes_tokens_on(view: F) -> F:
    """Mark a view that sends a form on to another (the step-up page): the token is the
    other view's to take."""
    view.passes_once_token = True  # type: ignore[attr-defined]  # mypy: no function attributes
    return view


def _use_token() -> ResponseReturnValue | None:
    """Before the view: take the form's token, or answer as its first use did."""
    if request.method != "POST" or not current_user.is_authenticated:
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "passes_once_token", False):
        return None
    token = request.form.get(FIELD, "")
    if not _TOKEN.fullmatch(token):
        return None  # no token (or none of ours): the form is handled as any other
    keys = _keys()
    taken = keys.take(current_user.id, f"form:{token}", fingerprint("POST", request.path, []))
    if isinstance(taken, FirstResponse):
        flash(_("This form had already been sent; it was done once, not again."), "info")
        back = taken.headers.get("Location") or request.referrer or "/"
        return redirect(back, code=303)

    def remember(response: Response) -> None:
        location = response.headers.get("Location")
        if response.status_code in REDIRECTS and location:
            keys.answer(taken, response.status_code, {"Location": location}, "")
        else:
            # The form shown again (its input refused): nothing was done, the token stays
            # unused, and the page shown carries a new one anyway.
            keys.release(taken)

    before_commit(remember)
    return None


def install(app: Flask) -> None:
    app.jinja_env.globals["once_field"] = once_field
    app.before_request(_use_token)
