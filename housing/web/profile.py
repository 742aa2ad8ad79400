"""A user's own profile: preferences, signing out everywhere and personal API tokens."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from housing import services
from housing.accounts.models import ApiToken, Channel, Language, SessionEnd
from housing.db import db
from housing.extensions import limiter
from housing.organisations.accounts import AccountAdministration
from housing.web import sessions
from housing.web.access import current_scope, login_required
from housing.web.forms import PreferencesForm, TokenForm
from housing.web.formtools import refusal_on_form

bp = Blueprint("profile", __name__, url_prefix="/profile")


def _render(prefs: PreferencesForm, token_form: TokenForm, new_secret: str | None = None) -> str:
    tokens = db.session.scalars(
        current_scope().select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return render_template(
        "profile/show.html",
        prefs=prefs,
        token_form=token_form,
        tokens=tokens,
        new_secret=new_secret,
        open_sessions=services.user_sessions(db.session).open_count(current_user.id),
    )


@bp.route("", methods=["GET"])
@login_required
def show() -> ResponseReturnValue:
    prefs = PreferencesForm(
        data={
            "language": current_user.language.value,
            "channel": current_user.channel_preference.value,
        }
    )
    return _render(prefs, TokenForm(formdata=None))


@bp.route("", methods=["POST"])
@login_required
def update() -> ResponseReturnValue:
    prefs = PreferencesForm()
    if prefs.validate_on_submit():
        current_user.language = Language(prefs.language.data)
        current_user.channel_preference = Channel(prefs.channel.data)
        flash(_("Your preferences have been saved."), "success")
        return redirect(url_for("profile.show"))
    return _render(prefs, TokenForm(formdata=None))


@bp.route("/sessions/end", methods=["POST"])
@login_required
def sign_out_everywhere() -> ResponseReturnValue:
    """End every session of the user, this one too (API tokens keep working)."""
    # CSRFProtect has checked the token of this POST before the view runs.
    AccountAdministration(db.session).sign_out_everywhere(current_user._get_current_object())
    sessions.end(SessionEnd.EVERYWHERE)
    flash(_("You are signed out everywhere: on this device and on every other one."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/tokens", methods=["POST"])
@limiter.limit("20 per hour", key_func=lambda: f"tokens:{current_user.get_id()}")
@login_required
def issue_token() -> ResponseReturnValue:
    token_form = TokenForm()
    prefs = PreferencesForm(
        formdata=None,
        data={
            "language": current_user.language.value,
            "channel": current_user.channel_preference.value,
        },
    )
    if token_form.validate_on_submit():
        refusal_on_form(token_form, lambda: _render(prefs, token_form))
        _token, secret = AccountAdministration(db.session).issue_token(
            current_user, token_form.name.data, actor_id=current_user.id
        )
        # Shown once, on this response only: it is stored as a hash.
        return _render(prefs, TokenForm(formdata=None), new_secret=secret)
    return _render(prefs, token_form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    # CSRFProtect has checked the token of this POST before the view runs.
    AccountAdministration(db.session).revoke_token(current_scope(), token_id)
    flash(_("The token has been revoked."), "success")
    return redirect(url_for("profile.show"))
