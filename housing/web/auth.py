"""Log in and out, change password, choose the language."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from housing import services
from housing.accounts.authentication import PASSWORD
from housing.accounts.models import Language
from housing.accounts.services import AccountService
from housing.db import db
from housing.extensions import limiter, login_manager
from housing.i18n import LANGUAGES
from housing.web import second_factor, sessions, sso, throttle
from housing.web.access import login_required, public, safe_next
from housing.web.forms import LanguageForm, LoginForm, PasswordChangeForm
from housing.web.formtools import refusal_on_form
from housing.web.signin import sign_in, start_url_for

bp = Blueprint("auth", __name__)

LOGIN_FAILED = _l("The e-mail address or the password is not correct.")


def _login_failed(response: Response) -> bool:
    return response.status_code == 200 and request.method == "POST"


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    sessions.init_app(app)
    app.register_blueprint(bp)


@bp.route("/login", methods=["GET", "POST"])
# Failed attempts only, per client address; per account in housing.web.throttle.
@limiter.limit(
    throttle.PER_ADDRESS,
    key_func=get_remote_address,
    methods=["POST"],
    deduct_when=_login_failed,
)
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(start_url_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        email, address = form.email.data, get_remote_address()
        if throttle.refused(email, address):
            abort(429)
        attempt = AccountService(db.session).attempt(email, form.password.data)
        user = attempt.user
        if user is not None:
            if second_factor.asked_of(user):
                return second_factor.challenge(user, safe_next(request.args.get("next")))
            sign_in(user, (PASSWORD,))
            return redirect(safe_next(request.args.get("next")) or start_url_for(user))
        throttle.failed(email, address)
        if attempt.wrong_password_for is not None:
            services.sign_in_watch(db.session).wrong_password(attempt.wrong_password_for, address)
        form.form_errors.append(str(LOGIN_FAILED))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> ResponseReturnValue:
    # A single sign-on ends at its provider too, where it offers that (RP-initiated logout).
    at_provider = sso.logout_url()
    sessions.end()
    flash(_("You are logged out."), "info")
    return redirect(at_provider or url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    form = PasswordChangeForm()

    def page() -> ResponseReturnValue:
        return render_template("auth/password.html", form=form)

    if form.validate_on_submit():
        user = current_user._get_current_object()
        refusal_on_form(form, page)
        AccountService(db.session).change_password(
            user, form.current_password.data, form.new_password.data
        )
        # The session version changed: log this session in again, end all others.
        login_user(user)
        sessions.end_others(user)
        flash(_("Your password has been changed."), "success")
        return redirect(url_for("profile.show"))
    return page()


@bp.route("/language", methods=["POST"])
@public
def choose_language() -> ResponseReturnValue:
    form = LanguageForm()
    if not form.validate_on_submit() or form.language.data not in LANGUAGES:
        flash(_("Choose Nederlands or English."), "error")
    else:
        session["language"] = form.language.data
        if current_user.is_authenticated:
            current_user.language = Language(form.language.data)
    return redirect(safe_next(request.form.get("next")) or url_for("start.index"))
