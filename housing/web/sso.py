"""Logging in through an organisation's OpenID Provider (`housing.organisations.sso`).

`start` sends the browser to the provider with a fresh state, nonce and PKCE verifier,
kept in the browser's session (one sign-in waits at a time); `callback` checks what comes
back, admits the person and starts the session as a password login would: a staff user
whose provider is not trusted for multi-factor (or said it used one factor) goes on to our
second step (`housing.web.second_factor`), carrying the provider and its `acr` along.

A refusal answers 4xx with the login page and its reason, so the password login is still
there (break-glass accounts); a provider that does not answer, 503. The 4xx rolls the
request's work back, so nothing of a half-admitted person stays; the refusal's audit link
is written after that, in a unit of work of its own (`unit_of_work.after_rollback`).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from housing.accounts.authentication import authenticated
from housing.accounts.factors import requires_second_factor
from housing.clock import utcnow
from housing.db import db
from housing.organisations.models import SignInProvider
from housing.organisations.oidc import OpenIdConnect, ProviderUnavailable, SignInRefused
from housing.organisations.sso import SingleSignOn, session_methods
from housing.unit_of_work import after_rollback
from housing.web import second_factor
from housing.web.access import public, safe_next
from housing.web.forms import LoginForm
from housing.web.signin import SSO_LOGOUT, finish_single_sign_on, start_url_for

bp = Blueprint("sso", __name__, url_prefix="/login/sso")

_PENDING = "sso_pending"


def callback_url() -> str:
    return url_for("sso.callback", _external=True)


def _login_page(message: str, status: int) -> ResponseReturnValue:
    form = LoginForm(formdata=None)
    form.form_errors.append(message)
    return render_template("auth/login.html", form=form), status


def _unavailable(provider: SignInProvider) -> ResponseReturnValue:
    message = _(
        "%(provider)s cannot be reached now. Try again later, or log in with your e-mail "
        "address and password if you have one.",
        provider=provider.name,
    )
    return _login_page(message, 503)


def _refusal(
    provider: SignInProvider, refusal: SignInRefused, subject: str | None = None
) -> ResponseReturnValue:
    """The login page with the refusal (4xx: the request's work is rolled back), and the
    refusal audited in a unit of work of its own after that."""
    provider_id, reason = provider.id, refusal.reason

    def audit() -> None:
        found = db.session.get(SignInProvider, provider_id)
        if found is not None:
            SingleSignOn(db.session).failed(found, reason, subject)

    after_rollback(audit)
    return _login_page(refusal.message, refusal.status)


@bp.route("/<int:provider_id>", methods=["POST"])
@public
def start(provider_id: int) -> ResponseReturnValue:
    """To the provider's login (a POST: a link cannot start a sign-in behind one's back)."""
    provider = SingleSignOn(db.session).provider(provider_id)
    if provider is None:
        return _login_page(_("This way of logging in does not exist (any more)."), 404)
    try:
        url, pending = OpenIdConnect(provider, callback_url()).begin()
    except ProviderUnavailable:
        return _unavailable(provider)
    pending["next"] = safe_next(request.args.get("next"))
    session[_PENDING] = pending
    return redirect(url)


@bp.route("/callback")
@public
def callback() -> ResponseReturnValue:
    """Where the provider sends the browser back: check, admit, sign in."""
    pending = session.pop(_PENDING, None)
    arguments = {k: v for k, v in request.args.items() if isinstance(v, str)}
    if not isinstance(pending, dict) or not isinstance(pending.get("provider"), int):
        return _login_page(
            _("Signing in took too long, or was already finished. Start again."), 400
        )
    sso = SingleSignOn(db.session)
    provider = sso.provider(pending["provider"])
    if provider is None:
        return _login_page(_("This way of logging in does not exist (any more)."), 404)
    try:
        verified = OpenIdConnect(provider, callback_url()).finish(pending, arguments)
    except SignInRefused as refusal:
        return _refusal(provider, refusal)
    except ProviderUnavailable:
        return _unavailable(provider)
    try:
        user = sso.admit(provider, verified)
    except SignInRefused as refusal:
        return _refusal(provider, refusal, verified.subject)
    methods = session_methods(provider, verified.amr)
    next_url = pending.get("next")
    next_url = next_url if isinstance(next_url, str) else None
    signed_in: dict[str, Any] = {
        "provider": provider.id,
        "acr": verified.acr,
        "amr": sorted(methods),
        "id_token": verified.id_token,
    }
    if requires_second_factor(user) and not _multi_factor(methods):
        return second_factor.challenge(user, next_url, sso=signed_in)
    finish_single_sign_on(user, signed_in)
    return redirect(next_url or start_url_for(user))


def _multi_factor(methods: frozenset[str]) -> bool:
    return authenticated(0, methods, utcnow()).multi_factor


def logout_url() -> str | None:
    """Where a logout goes to end the single sign-on at its provider too (read before the
    session is cleared); None for a password login or a provider without the endpoint."""
    kept = session.get(SSO_LOGOUT)
    if not current_user.is_authenticated or not isinstance(kept, dict):
        return None
    provider_id = kept.get("provider")
    provider = (
        SingleSignOn(db.session).provider(provider_id) if isinstance(provider_id, int) else None
    )
    if provider is None:
        return None
    id_token = kept.get("id_token")
    return OpenIdConnect(provider, callback_url()).logout_url(
        id_token if isinstance(id_token, str) else None, url_for("auth.login", _external=True)
    )


def sign_in_providers() -> list[SignInProvider]:
    """The providers the login page offers (a template global)."""
    return SingleSignOn(db.session).active_providers()


def install(app: Flask) -> None:
    app.jinja_env.globals["sign_in_providers"] = sign_in_providers
    app.register_blueprint(bp)
