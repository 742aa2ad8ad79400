"""A user's own second factor, on their profile: set one up, move it to a new phone, make
new recovery codes, or (when the role does not need one) turn it off.

Nothing here changes a factor without a code of it: a lost factor is reset by an
administrator (`housing.web.admin.reset_second_factor`), never by its owner alone.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from housing.accounts.authentication import ONE_TIME_CODE
from housing.accounts.factors import new_secret, requires_second_factor
from housing.crypto import active_cipher
from housing.db import db
from housing.extensions import limiter
from housing.organisations.accounts import AccountAdministration
from housing.web.access import login_required
from housing.web.formtools import refusal_on_form
from housing.web.second_factor import EnrolForm, enrolment_page, recovery_codes_page
from housing.web.signin import renew_authentication

bp = Blueprint("own_factor", __name__, url_prefix="/profile/second-factor")

_NEW_SECRET = "new_factor_secret"  # noqa: S105 (a session key)
# Wrong codes per user; a right one does not count.
OWN_CODE_LIMIT = "10 per 15 minutes"

CURRENT_CODE = _l("Code of your current app")
CURRENT_CODE_HINT = _l("The 6 digits your authenticator app shows now, or a recovery code.")


def _required() -> list[DataRequired | Length]:
    return [DataRequired(_l("Enter the code.")), Length(max=40)]


class CurrentCodeForm(FlaskForm):
    current_code = StringField(CURRENT_CODE, description=CURRENT_CODE_HINT, validators=_required())


class ReplaceForm(FlaskForm):
    current_code = StringField(CURRENT_CODE, description=CURRENT_CODE_HINT, validators=_required())
    new_code = StringField(
        _l("Code of the new app"),
        description=_l("The 6 digits the new app shows after adding Veilig Wonen."),
        validators=_required(),
    )


def _new_secret() -> str:
    """The secret offered on this page: made once, kept encrypted in the session until it
    is set up, so reloading shows the same QR code."""
    cipher = active_cipher()
    stored = session.get(_NEW_SECRET)
    if isinstance(stored, str):
        return cipher.decrypt(stored)
    secret = new_secret()
    session[_NEW_SECRET] = cipher.encrypt(secret)
    return secret


def _limit_key() -> str:
    return f"own-factor:{current_user.get_id()}"


def _wrong(response: object) -> bool:
    return getattr(response, "status_code", 200) == 422


def _page(
    enrol: EnrolForm | None = None,
    replace: ReplaceForm | None = None,
    codes: CurrentCodeForm | None = None,
    remove: CurrentCodeForm | None = None,
) -> ResponseReturnValue:
    accounts = AccountAdministration(db.session)
    factors = accounts.factors()
    factor = factors.factor_of(current_user.id)
    forms: dict[str, FlaskForm] = {
        "enrol": enrol or EnrolForm(formdata=None),
        "replace": replace or ReplaceForm(formdata=None, prefix="replace"),
        "codes": codes or CurrentCodeForm(formdata=None, prefix="codes"),
        "remove": remove or CurrentCodeForm(formdata=None, prefix="remove"),
    }
    refused = any(form.errors for form in forms.values())
    return enrolment_page(
        "profile/second_factor.html",
        forms["enrol"],
        _new_secret(),
        current_user.email,
        status=422 if refused else 200,
        factor=factor,
        codes_left=factors.recovery_codes_left(current_user.id) if factor else 0,
        may_remove=not requires_second_factor(current_user),
        forms=forms,
    )


@bp.route("", methods=["GET"])
@login_required
def show() -> ResponseReturnValue:
    return _page()


@bp.route("", methods=["POST"])
@limiter.limit(OWN_CODE_LIMIT, key_func=_limit_key, deduct_when=_wrong)
@login_required
def enrol() -> ResponseReturnValue:
    form = EnrolForm()
    if form.validate_on_submit():
        refusal_on_form(form, lambda: _page(enrol=form))
        codes = AccountAdministration(db.session).enrol_second_factor(
            current_user, _new_secret(), form.code.data
        )
        session.pop(_NEW_SECRET, None)
        renew_authentication(ONE_TIME_CODE)
        return recovery_codes_page(codes, url_for("profile.show"))
    return _page(enrol=form)


@bp.route("/replace", methods=["POST"])
@limiter.limit(OWN_CODE_LIMIT, key_func=_limit_key, deduct_when=_wrong)
@login_required
def replace() -> ResponseReturnValue:
    form = ReplaceForm(prefix="replace")
    if form.validate_on_submit():
        refusal_on_form(form, lambda: _page(replace=form))
        codes = AccountAdministration(db.session).replace_own_second_factor(
            current_user, form.current_code.data, _new_secret(), form.new_code.data
        )
        session.pop(_NEW_SECRET, None)
        renew_authentication(ONE_TIME_CODE)
        return recovery_codes_page(codes, url_for("profile.show"))
    return _page(replace=form)


@bp.route("/recovery-codes", methods=["POST"])
@limiter.limit(OWN_CODE_LIMIT, key_func=_limit_key, deduct_when=_wrong)
@login_required
def renew_codes() -> ResponseReturnValue:
    form = CurrentCodeForm(prefix="codes")
    if form.validate_on_submit():
        refusal_on_form(form, lambda: _page(codes=form))
        codes = AccountAdministration(db.session).renew_recovery_codes(
            current_user, form.current_code.data
        )
        return recovery_codes_page(codes, url_for("profile.show"))
    return _page(codes=form)


@bp.route("/remove", methods=["POST"])
@limiter.limit(OWN_CODE_LIMIT, key_func=_limit_key, deduct_when=_wrong)
@login_required
def remove() -> ResponseReturnValue:
    form = CurrentCodeForm(prefix="remove")
    if form.validate_on_submit():
        refusal_on_form(form, lambda: _page(remove=form))
        AccountAdministration(db.session).remove_own_second_factor(
            current_user, form.current_code.data
        )
        flash(_("Your second factor is turned off."), "success")
        return redirect(url_for("profile.show"), code=303)
    return _page(remove=form)
