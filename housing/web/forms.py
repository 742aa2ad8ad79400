"""Flask-WTF forms: format checks here, business rules in the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)
from wtforms.widgets import CheckboxInput, ListWidget

from housing.accounts.models import ApiToken, Channel, Language, User
from housing.dates import DATE_FORMAT, EARLIEST, LATEST, DayRange, read_day
from housing.deadlines.models import EquatedDay
from housing.deadlines.services import LAST_YEAR
from housing.inputs import fits
from housing.money import AmountField
from housing.organisations.models import (
    Letterhead,
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.roles import Role
from workflows.awb import FIRST_YEAR
from workflows.rules import Regime

ROLE_LABELS = {
    Role.APPLICANT: _l("Applicant"),
    Role.ASSESSOR: _l("Assessor"),
    Role.DECIDER: _l("Decider"),
    Role.FINANCE: _l("Finance"),
    Role.ADMIN: _l("Administrator"),
    Role.AUDITOR: _l("Auditor"),
}
OFFICE_LABELS = {
    OfficeType.BURGEMEESTER: _l("Mayor"),
    OfficeType.WETHOUDER: _l("Alderman"),
    OfficeType.GEDEPUTEERDE: _l("Provincial executive (gedeputeerde)"),
    OfficeType.COMMISSARIS_VAN_DE_KONING: _l("King's commissioner"),
    OfficeType.DIJKGRAAF: _l("Chair of a water board (dijkgraaf)"),
    OfficeType.LID_DAGELIJKS_BESTUUR: _l("Member of a water board's executive"),
    OfficeType.RAADSLID: _l("Municipal councillor"),
    OfficeType.STATENLID: _l("Provincial councillor"),
}
KIND_LABELS = {
    OrganisationKind.GEMEENTE: _l("Municipality"),
    OrganisationKind.PROVINCIE: _l("Province"),
    OrganisationKind.WATERSCHAP: _l("Water board"),
}
STATE_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "in_assessment": _l("In assessment"),
    "awaiting_info": _l("Awaiting information"),
    "awaiting_advice": _l("Awaiting advice"),
    "decision_proposed": _l("Decision proposed"),
    "granted": _l("Granted"),
    "refused": _l("Refused"),
    "not_considered": _l("Not considered"),
    "in_payment": _l("In payment"),
    "settled": _l("Settled"),
    # No claim state any more (objections are cases of their own), but older audit
    # links still lead to it.
    "objection": _l("Objection"),
    "withdrawn": _l("Withdrawn"),
    "archived": _l("Archived"),
}
EVENT_LABELS = {
    "submit": _l("Submit the claim"),
    "start_assessment": _l("Start the assessment"),
    "request_info": _l("Ask for information"),
    "provide_info": _l("Send the information"),
    "request_advice": _l("Ask for the security advice"),
    "record_advice": _l("Record the security advice"),
    "propose_decision": _l("Propose a decision"),
    "grant": _l("Grant in full"),
    "grant_partially": _l("Grant partially"),
    "refuse": _l("Refuse"),
    "declare_not_considered": _l("Declare not considered"),
    "send_back": _l("Send back to the assessor"),
    "withdraw": _l("Withdraw the claim"),
}
# The claim's timeline: what happened, for the events that are no step of the claim's own
# workflow (those are named by the state they led to).
TIMELINE_LABELS = {
    "create": _l("Claim started"),
    "add_document": _l("Document added"),
    "record_scan": _l("Woningscan recorded"),
    "extension_notice": _l("Decision term extended"),
    "default_notice": _l("Notice of default received"),
    "penalty_decision": _l("Penalty for a late decision decided"),
    "payout_requested": _l("Receipt or invoice recorded"),
    "payout_approve": _l("Payout approved by finance"),
    "payout_reject": _l("Payout rejected by finance"),
    "payout_cancel": _l("Payout cancelled by finance"),
    "payout_correct": _l("New account recorded after a return"),
    "payout_book": _l("Payout booked: on the bank statement"),
    "payout_return": _l("Payout returned by the bank"),
    "statement_entry_duplicate": _l("A second debit for a booked payout was flagged"),
    "remainder_closed": _l("Finance closed what was left of the grant"),
    "reopen_payment": _l("In payment again: a payout is paid again"),
    # Internal acts: only the case handlers' timeline shows them (housing.claims.handling).
    "assessor_assigned": _l("Assessor assigned"),
    "assessor_unassigned": _l("Assessor no longer assigned"),
    "internal_note_added": _l("Internal note added"),
    "objection_lodge": _l("Objection lodged"),
    "objection_register": _l("Objection on paper registered"),
    "objection_start_review": _l("Objection taken into review"),
    "objection_uphold": _l("Objection declared well-founded"),
    "objection_reject": _l("Objection declared unfounded"),
    "objection_declare_inadmissible": _l("Objection declared inadmissible"),
    "objection_withdraw": _l("Objection withdrawn"),
}
DOCUMENT_LABELS = {
    "scan_report": _l("Woningscan report"),
    "security_advice": _l("Security advice"),
    "quote": _l("Quote"),
    "invoice": _l("Invoice"),
    "photo": _l("Photo"),
    "decision_letter": _l("Decision letter"),
    "supplement": _l("Supplement to an answer"),
    "other": _l("Other"),
}
CLOCK_LABELS = {
    "running": _l("running"),
    "suspended": _l("suspended"),
    "overdue": _l("overdue"),
}
CHANNEL_LABELS = {
    Channel.ELECTRONIC: _l("Electronically (e-mail and this site)"),
    Channel.POST: _l("By letter"),
}
LANGUAGE_LABELS = {Language.NL: "Nederlands", Language.EN: "English"}
REGIME_LABELS = {
    Regime.A: _l("Regime A (basic measures)"),
    Regime.B: _l("Regime B (tailored measures)"),
}
# The names workflows.awb gives the Atw holidays (it imports nothing of ours, so its names
# are English); shown in the reader's language.
HOLIDAY_LABELS = {
    "New Year's Day": _l("New Year's Day"),
    "Good Friday": _l("Good Friday"),
    "Easter Monday": _l("Easter Monday"),
    "King's Day": _l("King's Day"),
    "Liberation Day": _l("Liberation Day"),
    "Ascension Day": _l("Ascension Day"),
    "Whit Monday": _l("Whit Monday"),
    "Christmas Day": _l("Christmas Day"),
    "Boxing Day": _l("Boxing Day"),
    "Equated day (royal decree)": _l("Equated day (royal decree)"),
}

REQUIRED = _l("This field is required.")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class IsoDateField(DateField):
    """A date as yyyy-mm-dd (what <input type=date> sends; typed as dd-mm-yyyy where the
    browser shows a text box: `housing.dates.read_day`), with a message that says so,
    within `earliest` and `latest` (housing.dates: 1900 to 2100 unless narrower)."""

    data: dt.date | None

    def __init__(
        self,
        label: Any = None,
        validators: Any = None,
        *,
        earliest: dt.date = EARLIEST,
        latest: dt.date = LATEST,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, [*(validators or []), DayRange(earliest, latest)], **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        try:
            self.data = read_day(" ".join(valuelist))
        except ValueError:
            self.data = None
            raise ValueError(str(DATE_FORMAT)) from None


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(REQUIRED), fits(User.email)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(REQUIRED), EqualTo("new_password", _l("The passwords differ."))],
    )


class LanguageForm(FlaskForm):
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice(lang.value, LANGUAGE_LABELS[lang]) for lang in Language],
    )


class PreferencesForm(FlaskForm):
    language = RadioField(
        _l("Language"),
        choices=[SelectChoice(lang.value, LANGUAGE_LABELS[lang]) for lang in Language],
        validators=[InputRequired(REQUIRED)],
    )
    channel = RadioField(
        _l("How may we send you messages?"),
        choices=[SelectChoice(c.value, CHANNEL_LABELS[c]) for c in Channel],
        validators=[InputRequired(REQUIRED)],
    )


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name of the token"),
        description=_l("For example the system that will use it."),
        validators=[DataRequired(REQUIRED), fits(ApiToken.name)],
    )


# WTForms orders fields by creation: made here, it comes first in NewUserForm.
NEW_USER_EMAIL = EmailField(
    _l("E-mail address"),
    validators=[
        DataRequired(REQUIRED),
        Email(_l("Enter a valid e-mail address."), check_deliverability=False),
        fits(User.email),
    ],
)


class UserForm(FlaskForm):
    full_name = StringField(
        _l("Full name"), validators=[DataRequired(REQUIRED), fits(User.full_name)]
    )
    roles = MultiCheckboxField(
        _l("Roles"),
        choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role],
        validators=[DataRequired(_l("Choose at least one role."))],
    )
    language = RadioField(
        _l("Language"),
        choices=[SelectChoice(lang.value, LANGUAGE_LABELS[lang]) for lang in Language],
        default=Language.NL.value,
        validators=[InputRequired(REQUIRED)],
    )
    channel = RadioField(
        _l("Channel for messages"),
        choices=[SelectChoice(c.value, CHANNEL_LABELS[c]) for c in Channel],
        default=Channel.POST.value,
        validators=[InputRequired(REQUIRED)],
    )
    active = BooleanField(_l("Active"), default=True)


class NewUserForm(UserForm):
    # Declared before UserForm's fields (see NEW_USER_EMAIL) so errors list in page order.
    email = NEW_USER_EMAIL
    password = PasswordField(
        _l("Initial password"),
        description=_l("At least 12 characters. Ask the user to change it after logging in."),
        validators=[DataRequired(REQUIRED)],
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED)])


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), fits(Organisation.name)])
    # As typed, with spaces: longer than the column, which holds it without them.
    iban = StringField(_l("IBAN"), validators=[DataRequired(REQUIRED), Length(max=42)])
    bic = StringField(
        _l("BIC"),
        description=_l("Left empty, it is derived from a Dutch IBAN."),
        validators=[Optional(), fits(Organisation.bic)],
    )


class LetterheadForm(FlaskForm):
    """What the letters say of the organisation; the service checks the formats."""

    address_line = StringField(
        _l("Street and number, or PO box"), validators=[fits(Letterhead.address_line)]
    )
    postcode = StringField(_l("Postcode"), validators=[Length(max=20)])
    city = StringField(_l("City"), validators=[fits(Letterhead.city)])
    phone = StringField(_l("Telephone"), validators=[fits(Letterhead.phone)])
    email = StringField(_l("E-mail address"), validators=[fits(Letterhead.email)])
    website = StringField(_l("Website"), validators=[fits(Letterhead.website)])
    signatory_name = StringField(
        _l("Name of who signs"), validators=[fits(Letterhead.signatory_name)]
    )
    signatory_function = StringField(
        _l("Function of who signs"),
        description=_l("For example: burgemeester, or teamleider Veiligheid."),
        validators=[fits(Letterhead.signatory_function)],
    )
    logo = FileField(
        _l("Logo"),
        description=_l("A PNG or JPEG image of at most 256 kB and 2000 pixels wide and high."),
    )
    remove_logo = BooleanField(_l("Remove the logo"))


class OfficeHolderForm(FlaskForm):
    full_name = StringField(
        _l("Full name"), validators=[DataRequired(REQUIRED), fits(OfficeHolder.full_name)]
    )
    office_type = SelectField(
        _l("Office"), choices=[SelectChoice(o.value, OFFICE_LABELS[o]) for o in OfficeType]
    )
    term_start = IsoDateField(_l("Start of term"), validators=[InputRequired(DATE_FORMAT)])
    term_end = IsoDateField(_l("End of term"), validators=[Optional()])
    appointment_certain_on = IsoDateField(
        _l("Appointment certain on"),
        description=_l("Claims may be made from this day, before the term starts."),
        validators=[Optional()],
    )
    user_id = SelectField(_l("Linked user account"), coerce=int, choices=[])


class TermsForm(FlaskForm):
    decision_weeks = IntegerField(
        _l("Decision term in weeks"),
        description=_l("At most 8 weeks after receipt of the application (art. 4:13 Awb)."),
        validators=[InputRequired(REQUIRED)],
    )
    information_term_days = IntegerField(
        _l("Term to complete an application, in days"),
        description=_l(
            "The term an applicant gets to send what is missing (art. 4:5 Awb); 14 days is common."
        ),
        validators=[InputRequired(REQUIRED)],
    )
    not_considered_weeks = IntegerField(
        _l("Term for the decision not to consider an application, in weeks"),
        description=_l("After the term to complete it has passed: at most 4 weeks."),
        validators=[InputRequired(REQUIRED)],
    )
    regime_a_cap = AmountField(
        _l("Regime A cap per home, including VAT"),
        description=_l("In euros, such as 2,400.00."),
        validators=[InputRequired(REQUIRED)],
    )
    eligible_offices = MultiCheckboxField(
        _l("Offices whose holders may claim"),
        choices=[SelectChoice(o.value, OFFICE_LABELS[o]) for o in OfficeType],
    )


class EquatedDayForm(FlaskForm):
    day = IsoDateField(_l("Day"), validators=[InputRequired(DATE_FORMAT)])
    description = StringField(
        _l("Description"),
        description=_l("The royal decree that equates the day, e.g. Besluit van 1 juli 2028."),
        validators=[DataRequired(REQUIRED), fits(EquatedDay.description)],
    )


class CalendarYearForm(FlaskForm):
    """Which year of the Atw calendar to show (a GET form: nothing changes)."""

    class Meta:
        csrf = False

    year = IntegerField(
        _l("Year"),
        validators=[
            Optional(),
            NumberRange(
                min=FIRST_YEAR,
                max=LAST_YEAR,
                message=_l(
                    "Choose a year from %(low)d to %(high)d.", low=FIRST_YEAR, high=LAST_YEAR
                ),
            ),
        ],
    )


class BudgetForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[InputRequired(REQUIRED)])
    amount = AmountField(
        _l("Amount"),
        description=_l("In euros, such as 250,000.00. An existing budget of the year is replaced."),
        validators=[InputRequired(REQUIRED)],
    )


class MeasureForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), fits(MeasureCatalogue.name)])
    code = StringField(
        _l("Code"),
        description=_l("Lower-case letters, digits and underscores, e.g. panic_room."),
        validators=[DataRequired(REQUIRED), fits(MeasureCatalogue.code)],
    )
    recurring_allowed = BooleanField(_l("May be recurring (e.g. a monitoring subscription)"))


AUDIENCE_LABELS = {
    "staff": _l("Staff"),
    "applicants": _l("Applicants"),
    "both": _l("Staff and applicants"),
}


class SignInProviderForm(FlaskForm):
    """An OpenID Provider of the organisation (`housing.organisations.sso.checked` has the
    rules; the lengths are here so a too long value is a message, not a refusal later)."""

    name = StringField(
        _l("Name on the login page"), validators=[DataRequired(REQUIRED), Length(max=80)]
    )
    issuer = StringField(
        _l("Issuer or discovery URL"),
        description=_l(
            "For example https://login.example.nl or its …/.well-known/openid-configuration."
        ),
        validators=[DataRequired(REQUIRED), Length(max=500)],
    )
    client_id = StringField(_l("Client id"), validators=[DataRequired(REQUIRED), Length(max=200)])
    client_secret = PasswordField(
        _l("Client secret"),
        description=_l("Stored encrypted; never shown again. Leave empty to keep the current one."),
        validators=[Optional(), Length(max=500)],
    )
    scopes = StringField(
        _l("Scopes"),
        default="openid email profile",
        validators=[DataRequired(REQUIRED), Length(max=500)],
    )
    audience = RadioField(
        _l("Serves"),
        choices=[SelectChoice(k, v) for k, v in AUDIENCE_LABELS.items()],
        default="both",
        validators=[InputRequired(REQUIRED)],
    )
    groups_claim = StringField(
        _l("Claim with the groups or roles"),
        default="groups",
        validators=[DataRequired(REQUIRED), Length(max=100)],
    )
    role_mapping = TextAreaField(
        _l("Groups to roles"),
        description=_l(
            'One rule per line: "group = role"; * and ? match any characters. '
            "Roles: applicant, assessor, decider, finance, admin, auditor. A person "
            "whose groups match no rule gets no role."
        ),
        validators=[Length(max=4000)],
    )
    sync_roles = BooleanField(_l("Set the roles again at every login"), default=True)
    trust_provider_mfa = BooleanField(
        _l("A login with more than one factor at the provider counts as our second factor")
    )
    active = BooleanField(_l("Active (shown on the login page)"), default=True)
