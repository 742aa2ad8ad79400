"""The second step of a password login: a code of the user's authenticator app, or setting
one up at the first login of a staff user.

The password step (`housing.web.auth.login`) hands over with `challenge`: the session then
holds a pending login (who, since when, where to go next), not a signed-in user, so nothing
but these two pages opens until the code is right. A pending login lasts `PENDING_MAX_AGE`;
the secret being set up waits in it encrypted with the field keys, and the factor is saved
only when a code proves the app has it, so no one is ever half enrolled.

`install` adds the guard that keeps a staff session multi-factor: a session signed in
before this step existed, or a user given a staff role since, is logged out and asked to
log in again (with the factor, or setting it up).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno
from flask import (
    Blueprint,
    Flask,
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
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from housing.accounts.authentication import ONE_TIME_CODE, PASSWORD
from housing.accounts.factors import (
    WRONG_CODE,
    SecondFactors,
    grouped,
    new_secret,
    provisioning_uri,
    requires_second_factor,
)
from housing.accounts.models import TotpFactor, User
from housing.clock import utcnow
from housing.crypto import active_cipher
from housing.db import db
from housing.extensions import limiter
from housing.organisations.accounts import AccountAdministration
from housing.web.access import public
from housing.web.forms import LoginForm
from housing.web.formtools import refusal_on_form
from housing.web.signin import (
    current_authentication,
    finish_single_sign_on,
    sign_in,
    start_url_for,
)

bp = Blueprint("factor", __name__, url_prefix="/login")

PENDING_MAX_AGE = dt.timedelta(minutes=10)
_PENDING = "pending_login"
# Wrong codes per pending user; a right one does not count. Six digits cannot be guessed
# in this many tries (three codes are valid at a time: 3 in a million per try).
CODE_LIMIT = "10 per 15 minutes"
RECOVERY_CODE_USED = _l(
    "You used a recovery code. Make new ones on your profile page when few are left."
)
STEP_EXPIRED = _l("Logging in took too long. Log in again with your e-mail address and password.")


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l("The 6 digits your authenticator app shows now, or a recovery code."),
        validators=[DataRequired(_l("Enter the code.")), Length(max=40)],
    )


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l("The 6 digits the app shows after adding Veilig Wonen."),
        validators=[DataRequired(_l("Enter the code.")), Length(max=40)],
    )


def asked_of(user: User) -> bool:
    """Whether a password login of `user` goes on to a second step: staff always, anyone
    else who set a factor up."""
    return requires_second_factor(user) or SecondFactors(db.session).is_enrolled(user.id)


def challenge(
    user: User, next_url: str | None, *, sso: dict[str, Any] | None = None
) -> ResponseReturnValue:
    """After a right password, or a single sign-on not counted as multi-factor (`sso`: its
    provider, `acr`, methods and ID token, `housing.web.sso`): ask for the code, or have a
    staff user set one up."""
    chosen_language = session.get("language")
    session.clear()
    if chosen_language:
        session["language"] = chosen_language
    session[_PENDING] = {
        "user": user.id,
        "version": user.session_version,
        "since": int(utcnow().timestamp()),
        "next": next_url,
    }
    if sso is not None:
        session[_PENDING]["sso"] = sso
    enrolled = SecondFactors(db.session).is_enrolled(user.id)
    return redirect(url_for("factor.code" if enrolled else "factor.enrol"))


def _pending() -> tuple[User, dict[str, Any]] | None:
    """The user whose login waits for its second step, while it may."""
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("user"), int):
        return None
    since = pending.get("since")
    if not isinstance(since, int) or utcnow().timestamp() - since > PENDING_MAX_AGE.total_seconds():
        return None
    user = db.session.get(User, pending["user"])
    if user is None or not user.active or user.session_version != pending.get("version"):
        return None
    return user, pending


def _pending_key() -> str:
    pending = session.get(_PENDING)
    return f"factor:{pending.get('user') if isinstance(pending, dict) else request.remote_addr}"


def _wrong(response: Response) -> bool:
    return response.status_code == 422


def _step_expired() -> ResponseReturnValue:
    """A second step whose login has expired (or never was): back to the first."""
    session.pop(_PENDING, None)
    if request.method == "GET":
        flash(str(STEP_EXPIRED), "error")
        return redirect(url_for("auth.login"))
    form = LoginForm(formdata=None)
    form.form_errors.append(str(STEP_EXPIRED))
    return render_template("auth/login.html", form=form), 400


def _signed_in(user: User, pending: dict[str, Any]) -> str:
    """Start the session of a login that passed both steps; where it goes next."""
    sso = pending.get("sso")
    if isinstance(sso, dict):
        finish_single_sign_on(user, sso, (ONE_TIME_CODE,))
    else:
        sign_in(user, (PASSWORD, ONE_TIME_CODE))
    next_url = pending.get("next")
    return next_url if isinstance(next_url, str) and next_url else start_url_for(user)


@bp.route("/code", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, key_func=_pending_key, methods=["POST"], deduct_when=_wrong)
@public
def code() -> ResponseReturnValue:
    found = _pending()
    if found is None:
        return _step_expired()
    user, pending = found
    if not SecondFactors(db.session).is_enrolled(user.id):
        return redirect(url_for("factor.enrol"))
    form = CodeForm()

    def page() -> ResponseReturnValue:
        return render_template("auth/code.html", form=form), 422 if form.errors else 200

    if form.validate_on_submit():
        refusal_on_form(form, page)
        method = AccountAdministration(db.session).check_second_factor(user, form.code.data)
        if method is not None:
            if method == "recovery":
                flash(RECOVERY_CODE_USED, "info")
            return redirect(_signed_in(user, pending))
        form.code.errors = [str(WRONG_CODE)]
    return page()


@bp.route("/enrol", methods=["GET", "POST"])
@limiter.limit(CODE_LIMIT, key_func=_pending_key, methods=["POST"], deduct_when=_wrong)
@public
def enrol() -> ResponseReturnValue:
    found = _pending()
    if found is None:
        return _step_expired()
    user, pending = found
    accounts = AccountAdministration(db.session)
    if accounts.factors().is_enrolled(user.id):
        return redirect(url_for("factor.code"))
    secret = _secret_being_set_up(pending)
    form = EnrolForm()

    def page() -> ResponseReturnValue:
        return enrolment_page(
            "auth/enrol.html", form, secret, user.email, status=422 if form.errors else 200
        )

    if form.validate_on_submit():
        refusal_on_form(form, page)
        codes = accounts.enrol_second_factor(user, secret, form.code.data)
        return recovery_codes_page(codes, _signed_in(user, pending))
    return page()


def _secret_being_set_up(pending: dict[str, Any]) -> str:
    """The secret shown on the enrolment page: made once per pending login, kept encrypted
    in it, so reloading the page shows the same QR code."""
    cipher = active_cipher()
    stored = pending.get("secret")
    if isinstance(stored, str):
        return cipher.decrypt(stored)
    secret = new_secret()
    pending["secret"] = cipher.encrypt(secret)
    session[_PENDING] = pending
    return secret


def qr_code(uri: str) -> str:
    """The QR code of `uri` as an SVG data: URI (drawn here; the CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def enrolment_page(
    template: str, form: FlaskForm, secret: str, account: str, *, status: int = 200, **extra: Any
) -> ResponseReturnValue:
    uri = provisioning_uri(secret, account)
    return (
        render_template(template, form=form, qr=qr_code(uri), secret=grouped(secret), **extra),
        status,
    )


def recovery_codes_page(codes: list[str], continue_to: str) -> ResponseReturnValue:
    """The recovery codes, shown this once (they are kept as hashes only)."""
    return render_template("auth/recovery_codes.html", codes=codes, continue_to=continue_to)


def _staff_session_is_multi_factor() -> ResponseReturnValue | None:
    """Before each page: a staff user's session must have passed a second factor."""
    if request.path.startswith(("/static/", "/api/")) or not current_user.is_authenticated:
        return None
    if not requires_second_factor(current_user):
        return None
    found = current_authentication()
    if found is not None and found.multi_factor:
        return None
    logout_user()
    session.clear()
    flash(_("Log in again: your role needs a second factor."), "info")
    return redirect(url_for("auth.login"))


def second_factor_of(user: User) -> TotpFactor | None:
    """The user's factor, for a page that says whether there is one (a template global)."""
    return SecondFactors(db.session).factor_of(user.id)


def install(app: Flask) -> None:
    # Before the once-token check and any view: a session that fails it does nothing.
    app.before_request(_staff_session_is_multi_factor)
    app.jinja_env.globals["second_factor_of"] = second_factor_of
    app.register_blueprint(bp)
