"""Step-up: the acts that matter need a recent authentication, or the code again.

Deciding a claim or an objection, releasing a payment batch, exporting, and changing roles
or a user's sign-in (password, second factor) need the user to have proved who they are at
most `STEP_UP_MAX_AGE` ago (`Authentication.recent`, read from the session by
`housing.web.signin`). The rule is `require_recent_authentication`, here only; a view calls
it for the act (or is decorated with `step_up_required`).

When the authentication is older, the act is not done (401) and the "confirm with your
code" page is drawn in its place, carrying every field of the refused request as a hidden
input: nothing typed is lost. That page posts to `confirm` here, which checks the code,
saves it as used and renews the session's authentication, then sends the browser back to
the act: a 307 repeats the POST with the same fields (a 303 for an act that is a GET, such
as an export). The code is checked in a request of its own, not inside the act's, so that
its single use is saved even when the act is then refused and rolled back.

The JSON API is not stepped up: a bearer token is its own credential (no session, no
password behind it), issued to one user and revocable; protect it as the act it allows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from housing.accounts.authentication import ONE_TIME_CODE
from housing.accounts.factors import WRONG_CODE
from housing.clock import utcnow
from housing.db import db
from housing.extensions import limiter
from housing.organisations.accounts import AccountAdministration
from housing.web.access import login_required, safe_next
from housing.web.once import passes_tokens_on
from housing.web.signin import current_authentication, renew_authentication

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("step_up", __name__)

# The step-up page's own fields; every other field of the refused request is carried.
CODE, RETURN_TO, METHOD = "step_up_code", "step_up_return", "step_up_method"
_OWN_FIELDS = frozenset({CODE, RETURN_TO, METHOD, "csrf_token"})
STEP_UP_LIMIT = "10 per 15 minutes"


class StepUpRequired(HTTPException):
    """The act needs a recent authentication; answered with the step-up page."""

    code = 401
    description = _l("Confirm with your code.")


def require_recent_authentication() -> None:
    """Let the act go on only when the session's authentication is recent and multi-factor."""
    found = current_authentication()
    if found is None or not found.recent(utcnow()):
        raise StepUpRequired()


def step_up_required(*methods: str) -> Callable[[F], F]:
    """Decorate a view whose act needs `require_recent_authentication`; with `methods`, only
    requests with one of those methods (e.g. the POST of a form whose GET shows it)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not methods or request.method in methods:
                require_recent_authentication()
            return view(*args, **kwargs)

        return cast(F, wrapped)  # wraps keeps the view's signature and required_roles

    return decorate


def _carried() -> list[tuple[str, str]]:
    """The fields of this request to send again with the code (a GET's live in its URL)."""
    if request.method != "POST":
        return []
    return [
        (name, value)
        for name in request.form
        if name not in _OWN_FIELDS
        for value in request.form.getlist(name)
    ]


def _page(return_to: str, method: str, error: str | None, status: int) -> ResponseReturnValue:
    return (
        render_template(
            "auth/step_up.html",
            carried=_carried(),
            return_to=return_to,
            method=method,
            error=error,
        ),
        status,
    )


def _asked(_error: StepUpRequired) -> ResponseReturnValue:
    """The step-up page in place of the refused act."""
    if not AccountAdministration(db.session).factors().is_enrolled(current_user.id):
        # No code to ask for (a session of a user whose factor was just reset): log in again.
        logout_user()
        flash(_("Log in again to do this."), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return_to = request.full_path.rstrip("?")
    return _page(return_to, request.method, None, 401)


def _wrong(response: Response) -> bool:
    return response.status_code == 422


@bp.route("/step-up", methods=["POST"])
@limiter.limit(
    STEP_UP_LIMIT,
    key_func=lambda: f"step-up:{current_user.get_id()}",
    methods=["POST"],
    deduct_when=_wrong,
)
@login_required
@passes_tokens_on
def confirm() -> ResponseReturnValue:
    """Check the code of the step-up page, then send the browser back to the act."""
    return_to = safe_next(request.form.get(RETURN_TO))
    method = request.form.get(METHOD)
    if return_to is None or method not in ("GET", "POST"):
        abort(400)
    method_kept: str = method or "POST"
    code = request.form.get(CODE, "")
    if not code.strip() or len(code) > 40:
        return _page(return_to, method_kept, _("Enter the code."), 422)
    used = AccountAdministration(db.session).check_second_factor(current_user, code)
    if used is None:
        return _page(return_to, method_kept, str(WRONG_CODE), 422)
    renew_authentication(ONE_TIME_CODE)
    # 307 repeats the POST, body and all; a GET act is fetched again.
    return redirect(return_to, code=307 if method_kept == "POST" else 303)


def install(app: Flask) -> None:
    app.register_error_handler(StepUpRequired, _asked)
    app.register_blueprint(bp)
