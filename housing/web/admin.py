"""Administrators manage their organisation's users, details and office holders."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from housing.accounts.models import Channel, Language, User
from housing.accounts.services import AccountService
from housing.db import db
from housing.errors import DomainError
from housing.organisations.models import OfficeHolder, OfficeType, Organisation
from housing.organisations.services import OfficeHolderData, OrganisationService
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.forms import (
    NewUserForm,
    OfficeHolderForm,
    OrganisationForm,
    ResetPasswordForm,
    UserForm,
)
from housing.web.formtools import show_field_errors

T = TypeVar("T")

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


def _scoped_or_404(model: type[T], ident: int) -> T:
    found = current_scope().get(db.session, model, ident)
    if found is None:
        abort(404)
    return found


# --- users ---------------------------------------------------------------------------
@bp.route("/users")
@role_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    page = db.paginate(
        current_scope().select(User).order_by(User.full_name, User.id),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    return render_template("admin/users.html", page=page)


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_user() -> ResponseReturnValue:
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = AccountService(db.session).create_user(
                organisation=current_user.organisation,
                email=form.email.data,
                full_name=form.full_name.data,
                password=form.password.data,
                roles={Role(r) for r in form.roles.data},
                language=Language(form.language.data),
                channel=Channel(form.channel.data),
            )
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(form, exc)
        else:
            db.session.commit()
            flash(_("User %(name)s has been added.", name=user.full_name), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_user(user_id: int) -> ResponseReturnValue:
    user = _scoped_or_404(User, user_id)
    form = UserForm(
        obj=user,
        data=None
        if request.method == "POST"
        else {
            "roles": sorted(r.value for r in user.roles),
            "language": user.language.value,
            "channel": user.channel_preference.value,
        },
    )
    if form.validate_on_submit():
        try:
            AccountService(db.session).update_user(
                current_user,
                user,
                full_name=form.full_name.data,
                roles={Role(r) for r in form.roles.data},
                active=form.active.data,
                language=Language(form.language.data),
                channel=Channel(form.channel.data),
            )
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The changes have been saved."), "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, user=user, reset_form=ResetPasswordForm()
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required(Role.ADMIN)
def reset_password(user_id: int) -> ResponseReturnValue:
    user = _scoped_or_404(User, user_id)
    reset_form = ResetPasswordForm()
    if reset_form.validate_on_submit():
        try:
            AccountService(db.session).reset_password(user, reset_form.password.data)
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(reset_form, exc)
        else:
            db.session.commit()
            flash(_("The password has been reset; the user's sessions have ended."), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    form = UserForm(obj=user)
    return render_template("admin/user_form.html", form=form, user=user, reset_form=reset_form)


# --- organisations -----------------------------------------------------------------
@bp.route("/organisations")
@role_required(Role.ADMIN)
def organisations() -> ResponseReturnValue:
    rows = db.session.scalars(current_scope().select(Organisation).order_by(Organisation.name))
    return render_template("admin/organisations.html", organisations=rows.all())


@bp.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_organisation(organisation_id: int) -> ResponseReturnValue:
    organisation = _scoped_or_404(Organisation, organisation_id)
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            OrganisationService(db.session).update_organisation(
                current_scope(),
                organisation.id,
                name=form.name.data,
                iban=form.iban.data,
                bic=form.bic.data,
            )
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The changes have been saved."), "success")
            return redirect(url_for("admin.organisations"))
    return render_template("admin/organisation_form.html", form=form, organisation=organisation)


# --- office holders ------------------------------------------------------------------
def _holder_form(holder: OfficeHolder | None) -> OfficeHolderForm:
    form = OfficeHolderForm(obj=holder)
    users = db.session.scalars(current_scope().select(User).order_by(User.full_name)).all()
    form.user_id.choices = [(0, _("(none)"))] + [
        (u.id, f"{u.full_name} <{u.email}>") for u in users
    ]
    if request.method == "GET":
        form.user_id.data = holder.user_id or 0 if holder else 0
        if holder:
            form.office_type.data = holder.office_type.value
    return form


def _holder_data(form: OfficeHolderForm) -> OfficeHolderData:
    return OfficeHolderData(
        full_name=form.full_name.data,
        office_type=OfficeType(form.office_type.data),
        term_start=form.term_start.data,
        term_end=form.term_end.data,
        appointment_certain_on=form.appointment_certain_on.data,
        user_id=form.user_id.data or None,
    )


@bp.route("/office-holders")
@role_required(Role.ADMIN)
def office_holders() -> ResponseReturnValue:
    page = db.paginate(
        current_scope().select(OfficeHolder).order_by(OfficeHolder.full_name, OfficeHolder.id),
        per_page=PER_PAGE,
        max_per_page=PER_PAGE,
    )
    return render_template("admin/office_holders.html", page=page)


@bp.route("/office-holders/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_office_holder() -> ResponseReturnValue:
    form = _holder_form(None)
    if form.validate_on_submit():
        try:
            OrganisationService(db.session).create_office_holder(
                current_scope(), _holder_data(form)
            )
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The office holder has been added."), "success")
            return redirect(url_for("admin.office_holders"))
    return render_template("admin/office_holder_form.html", form=form, holder=None)


@bp.route("/office-holders/<int:holder_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_office_holder(holder_id: int) -> ResponseReturnValue:
    holder = _scoped_or_404(OfficeHolder, holder_id)
    form = _holder_form(holder)
    if form.validate_on_submit():
        try:
            OrganisationService(db.session).update_office_holder(
                current_scope(), holder.id, _holder_data(form)
            )
        except DomainError as exc:
            db.session.rollback()
            show_field_errors(form, exc)
        else:
            db.session.commit()
            flash(_("The changes have been saved."), "success")
            return redirect(url_for("admin.office_holders"))
    return render_template("admin/office_holder_form.html", form=form, holder=holder)
