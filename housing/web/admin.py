"""Administrators manage their organisation's users, details, office holders and rules."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from housing.accounts.models import Channel, Language, User
from housing.clock import today
from housing.db import db
from housing.deadlines.models import EquatedDay
from housing.deadlines.services import calendar_year, equate_day
from housing.inputs import accepts_upload
from housing.organisations.accounts import AccountAdministration
from housing.organisations.letterhead import (
    TEXT_FIELDS,
    LetterheadData,
    LetterheadService,
    logo_data_uri,
)
from housing.organisations.models import (
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    ProviderAudience,
    SignInProvider,
)
from housing.organisations.services import (
    OfficeHolderData,
    OrganisationService,
    RulesService,
    TermsData,
)
from housing.organisations.sign_in_providers import ProviderAdministration, ProviderData
from housing.roles import Role
from housing.web.access import current_scope, role_required
from housing.web.forms import (
    HOLIDAY_LABELS,
    REGIME_LABELS,
    BudgetForm,
    CalendarYearForm,
    EquatedDayForm,
    LetterheadForm,
    MeasureForm,
    NewUserForm,
    OfficeHolderForm,
    OrganisationForm,
    ResetPasswordForm,
    SignInProviderForm,
    TermsForm,
    UserForm,
)
from housing.web.formtools import done, refusal_back_to, refusal_on_form
from housing.web.step_up import step_up_required

T = TypeVar("T")

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50


def _this_year() -> int:
    return today().year


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
@step_up_required("POST")
def new_user() -> ResponseReturnValue:
    form = NewUserForm()

    def page() -> ResponseReturnValue:
        return render_template("admin/user_form.html", form=form, user=None)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        user = AccountAdministration(db.session).create_user(
            organisation=current_user.organisation,
            email=form.email.data,
            full_name=form.full_name.data,
            password=form.password.data,
            roles={Role(r) for r in form.roles.data},
            language=Language(form.language.data),
            channel=Channel(form.channel.data),
            actor_id=current_user.id,
        )
        flash(_("User %(name)s has been added.", name=user.full_name), "success")
        return redirect(url_for("admin.users"))
    return page()


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@step_up_required("POST")
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

    def page() -> ResponseReturnValue:
        return render_template(
            "admin/user_form.html", form=form, user=user, reset_form=ResetPasswordForm()
        )

    if form.validate_on_submit():
        refusal_on_form(form, page)
        AccountAdministration(db.session).update_user(
            current_user,
            user,
            full_name=form.full_name.data,
            roles={Role(r) for r in form.roles.data},
            active=form.active.data,
            language=Language(form.language.data),
            channel=Channel(form.channel.data),
        )
        flash(_("The changes have been saved."), "success")
        return redirect(url_for("admin.users"))
    return page()


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@role_required(Role.ADMIN)
@step_up_required()
def reset_password(user_id: int) -> ResponseReturnValue:
    user = _scoped_or_404(User, user_id)
    reset_form = ResetPasswordForm()

    def page() -> ResponseReturnValue:
        return render_template(
            "admin/user_form.html", form=UserForm(obj=user), user=user, reset_form=reset_form
        )

    if reset_form.validate_on_submit():
        refusal_on_form(reset_form, page)
        AccountAdministration(db.session).reset_password(
            user, reset_form.password.data, actor_id=current_user.id
        )
        flash(_("The password has been reset; the user's sessions have ended."), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    return page()


@bp.route("/users/<int:user_id>/second-factor/reset", methods=["POST"])
@role_required(Role.ADMIN)
@step_up_required()
def reset_second_factor(user_id: int) -> ResponseReturnValue:
    """The user lost their phone and recovery codes: remove the factor (audited); their
    sessions end and a staff user sets up a new one at the next login."""
    user = _scoped_or_404(User, user_id)
    back = url_for("admin.edit_user", user_id=user.id)
    refusal_back_to(back)
    AccountAdministration(db.session).reset_second_factor(current_user, user)
    return done(_("The second factor has been reset; the user's sessions have ended."), back)


# --- organisations -----------------------------------------------------------------
# --- sign-in providers (OpenID Connect) ------------------------------------------------
@bp.route("/sign-in-providers")
@role_required(Role.ADMIN)
def sign_in_providers() -> ResponseReturnValue:
    providers = db.session.scalars(
        current_scope().select(SignInProvider).order_by(SignInProvider.name, SignInProvider.id)
    ).all()
    return render_template("admin/sign_in_providers.html", providers=providers)


def _provider_data(form: SignInProviderForm) -> ProviderData:
    return ProviderData(
        name=form.name.data or "",
        issuer=form.issuer.data or "",
        client_id=form.client_id.data or "",
        client_secret=form.client_secret.data or None,
        scopes=form.scopes.data or "",
        audience=ProviderAudience(form.audience.data),
        groups_claim=form.groups_claim.data or "",
        role_mapping=form.role_mapping.data or "",
        sync_roles=bool(form.sync_roles.data),
        trust_provider_mfa=bool(form.trust_provider_mfa.data),
        active=bool(form.active.data),
    )


@bp.route("/sign-in-providers/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@step_up_required("POST")
def new_sign_in_provider() -> ResponseReturnValue:
    form = SignInProviderForm()

    def page() -> ResponseReturnValue:
        status = 422 if form.errors or form.form_errors else 200
        return render_template("admin/sign_in_provider_form.html", form=form, provider=None), status

    if form.validate_on_submit():
        refusal_on_form(form, page)
        provider = ProviderAdministration(db.session).create(current_user, _provider_data(form))
        flash(_("Sign-in provider %(name)s has been added.", name=provider.name), "success")
        return redirect(url_for("admin.sign_in_providers"))
    return page()


@bp.route("/sign-in-providers/<int:provider_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
@step_up_required("POST")
def edit_sign_in_provider(provider_id: int) -> ResponseReturnValue:
    provider = _scoped_or_404(SignInProvider, provider_id)
    form = SignInProviderForm(
        obj=None if request.method == "POST" else provider,
        data=None if request.method == "POST" else {"audience": provider.audience.value},
    )
    if request.method != "POST":
        form.client_secret.data = ""

    def page() -> ResponseReturnValue:
        status = 422 if form.errors or form.form_errors else 200
        return render_template(
            "admin/sign_in_provider_form.html", form=form, provider=provider
        ), status

    if form.validate_on_submit():
        refusal_on_form(form, page)
        ProviderAdministration(db.session).update(current_user, provider, _provider_data(form))
        flash(_("The changes have been saved."), "success")
        return redirect(url_for("admin.sign_in_providers"))
    return page()


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

    def page() -> ResponseReturnValue:
        return render_template("admin/organisation_form.html", form=form, organisation=organisation)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        OrganisationService(db.session).update_organisation(
            current_scope(),
            organisation.id,
            name=form.name.data,
            iban=form.iban.data,
            bic=form.bic.data,
        )
        flash(_("The changes have been saved."), "success")
        return redirect(url_for("admin.organisations"))
    return page()


@bp.route("/organisations/<int:organisation_id>/letterhead", methods=["GET", "POST"])
# The form carries a logo: the body may be a file's size; the service bounds the logo.
@accepts_upload("DOCUMENT_MAX_BYTES")
@role_required(Role.ADMIN)
def edit_letterhead(organisation_id: int) -> ResponseReturnValue:
    organisation = _scoped_or_404(Organisation, organisation_id)
    form = LetterheadForm(obj=organisation.letterhead)

    def page() -> ResponseReturnValue:
        return render_template(
            "admin/letterhead_form.html",
            form=form,
            organisation=organisation,
            logo=logo_data_uri(organisation.letterhead),
        )

    if form.validate_on_submit():
        refusal_on_form(form, page)
        sent = form.logo.data
        LetterheadService(db.session).update(
            current_scope(),
            organisation.id,
            LetterheadData(**{name: getattr(form, name).data or "" for name in TEXT_FIELDS}),
            logo=sent.read() if sent else None,
            remove_logo=bool(form.remove_logo.data),
        )
        flash(_("The letterhead has been saved."), "success")
        return redirect(url_for("admin.edit_letterhead", organisation_id=organisation.id))
    return page()


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
    # Only called on a validated form, and the start of term is InputRequired.
    assert form.term_start.data is not None
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

    def page() -> ResponseReturnValue:
        return render_template("admin/office_holder_form.html", form=form, holder=None)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        OrganisationService(db.session).create_office_holder(current_scope(), _holder_data(form))
        flash(_("The office holder has been added."), "success")
        return redirect(url_for("admin.office_holders"))
    return page()


@bp.route("/office-holders/<int:holder_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_office_holder(holder_id: int) -> ResponseReturnValue:
    holder = _scoped_or_404(OfficeHolder, holder_id)
    form = _holder_form(holder)

    def page() -> ResponseReturnValue:
        return render_template("admin/office_holder_form.html", form=form, holder=holder)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        OrganisationService(db.session).update_office_holder(
            current_scope(), holder.id, _holder_data(form)
        )
        flash(_("The changes have been saved."), "success")
        return redirect(url_for("admin.office_holders"))
    return page()


# --- Awb terms and eligibility -------------------------------------------------------
@bp.route("/organisations/<int:organisation_id>/terms", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_terms(organisation_id: int) -> ResponseReturnValue:
    organisation = _scoped_or_404(Organisation, organisation_id)
    form = TermsForm(
        data={
            "decision_weeks": organisation.decision_weeks,
            "information_term_days": organisation.information_term_days,
            "not_considered_weeks": organisation.not_considered_weeks,
            "regime_a_cap": organisation.regime_a_cap,
            "eligible_offices": sorted(e.office_type.value for e in organisation.eligible_offices),
        }
    )

    def page() -> ResponseReturnValue:
        return render_template("admin/terms_form.html", form=form, organisation=organisation)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        RulesService(db.session).update_terms(
            current_scope(),
            organisation.id,
            TermsData(
                decision_weeks=form.decision_weeks.data,
                information_term_days=form.information_term_days.data,
                not_considered_weeks=form.not_considered_weeks.data,
                regime_a_cap=form.regime_a_cap.data,
                eligible_offices=frozenset(OfficeType(o) for o in form.eligible_offices.data),
            ),
        )
        flash(_("The terms have been saved."), "success")
        return redirect(url_for("admin.edit_terms", organisation_id=organisation.id))
    return page()


# --- the Atw calendar: recognised holidays and equated days ---------------------------
def _holiday_label(name: str) -> str:
    return "; ".join(str(HOLIDAY_LABELS.get(part, part)) for part in name.split("; "))


@bp.route("/holidays", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def holidays() -> ResponseReturnValue:
    form = EquatedDayForm()

    def page() -> ResponseReturnValue:
        return _holidays_page(form)

    if form.validate_on_submit():
        refusal_on_form(form, page)
        assert form.day.data is not None  # InputRequired: a validated form has the day
        equated = equate_day(db.session, current_scope(), form.day.data, form.description.data)
        flash(
            _("%(day)s is now equated with a holiday.", day=format_date(equated.day, "long")),
            "success",
        )
        return redirect(url_for("admin.holidays", year=equated.day.year))

    return page()


def _holidays_page(form: EquatedDayForm) -> ResponseReturnValue:
    # The year to show comes from a GET form; a bad one is explained, this year shown.
    year_form = CalendarYearForm(request.args)
    year = _this_year()
    if "year" in request.args and year_form.validate() and year_form.year.data is not None:
        year = year_form.year.data
    if "year" not in request.args:
        year_form.year.data = year
    calendar = calendar_year(db.session, year)
    equated_days = db.session.scalars(select(EquatedDay).order_by(EquatedDay.day)).all()
    return render_template(
        "admin/holidays.html",
        form=form,
        year_form=year_form,
        year=year,
        calendar=[(day, _holiday_label(name)) for day, name in calendar.items()],
        equated_days=equated_days,
    )


# --- budgets -------------------------------------------------------------------------
@bp.route("/budgets", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def budgets() -> ResponseReturnValue:
    form = BudgetForm(data=None if request.method == "POST" else {"year": _this_year()})
    service = RulesService(db.session)

    def page() -> ResponseReturnValue:
        return render_template(
            "admin/budgets.html", form=form, budgets=service.budgets(current_scope())
        )

    if form.validate_on_submit():
        refusal_on_form(form, page)
        budget = service.set_budget(current_scope(), form.year.data, form.amount.data)
        flash(_("The budget for %(year)d has been saved.", year=budget.year), "success")
        return redirect(url_for("admin.budgets"))
    return page()


# --- measure catalogue ---------------------------------------------------------------
@bp.route("/catalogue", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def catalogue() -> ResponseReturnValue:
    form = MeasureForm()
    service = RulesService(db.session)

    def page() -> ResponseReturnValue:
        return render_template(
            "admin/catalogue.html",
            form=form,
            catalogue=service.catalogue(current_scope()),
            REGIME_LABELS=REGIME_LABELS,
        )

    if form.validate_on_submit():
        refusal_on_form(form, page)
        measure = service.add_measure(
            current_scope(),
            code=form.code.data,
            name=form.name.data,
            recurring_allowed=form.recurring_allowed.data,
        )
        flash(_("%(name)s has been added to Regime B.", name=measure.name), "success")
        return redirect(url_for("admin.catalogue"))
    return page()


def _set_measure_active(measure_id: int, active: bool) -> ResponseReturnValue:
    # CSRFProtect has checked the token of this POST before the view runs.
    measure = _scoped_or_404(MeasureCatalogue, measure_id)
    back = url_for("admin.catalogue")
    refusal_back_to(back, code=302)
    RulesService(db.session).set_measure_active(current_scope(), measure.id, active)
    message = (
        _("%(name)s can be chosen again.", name=measure.name)
        if active
        else _("%(name)s can no longer be chosen in new claims.", name=measure.name)
    )
    return done(message, back, code=302)


@bp.route("/catalogue/<int:measure_id>/activate", methods=["POST"])
@role_required(Role.ADMIN)
def activate_measure(measure_id: int) -> ResponseReturnValue:
    return _set_measure_active(measure_id, True)


@bp.route("/catalogue/<int:measure_id>/deactivate", methods=["POST"])
@role_required(Role.ADMIN)
def deactivate_measure(measure_id: int) -> ResponseReturnValue:
    return _set_measure_active(measure_id, False)
