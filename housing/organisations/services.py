"""Organisation and office-holder use cases, scoped to the acting user's organisation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import LazyString, format_currency
from flask_babel import lazy_gettext as _l
from schwifty import BIC, IBAN
from schwifty.exceptions import InvalidChecksumDigits, SchwiftyException
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.db import DbSession
from housing.errors import Conflict, Forbidden, InvalidInput, NotFound
from housing.money import parse_money
from housing.organisations.catalogue import seed_catalogue
from housing.organisations.models import (
    DEFAULT_ELIGIBLE_OFFICES,
    Budget,
    EligibleOffice,
    MeasureCatalogue,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.roles import Role
from housing.scoping import Scope
from workflows.rules import Regime


def parse_iban(value: str, field: str = "iban") -> str:
    """Compact, validated IBAN; bad check digits are refused with a clear message."""
    try:
        return IBAN(value).compact
    except InvalidChecksumDigits:
        message = _l("This IBAN has wrong check digits; check it for a typing error.")
    except SchwiftyException:
        message = _l("This is not a valid IBAN.")
    raise InvalidInput(message, field_errors={field: [message]})


def parse_bic(value: str | None, iban: str, field: str = "bic") -> str | None:
    """Validated BIC; for a Dutch IBAN it is derived when left empty."""
    if value and value.strip():
        try:
            return BIC(value).compact
        except SchwiftyException:
            message = _l("This is not a valid BIC.")
            raise InvalidInput(message, field_errors={field: [message]}) from None
    derived = IBAN(iban).bic
    return derived.compact if derived is not None else None


def locked_budget(session: DbSession, organisation_id: int, year: int) -> Budget | None:
    """The organisation's budget for `year`, locked until commit and read fresh.

    The one way to lock a budget: a grant committing money, finance giving back what a
    closed grant left and an administrator changing the amount wait for each other.
    """
    return session.scalars(
        select(Budget)
        .where(Budget.organisation_id == organisation_id, Budget.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


@dataclass(frozen=True)
class OfficeHolderData:
    full_name: str
    office_type: OfficeType
    term_start: dt.date
    term_end: dt.date | None = None
    appointment_certain_on: dt.date | None = None
    user_id: int | None = None


class OrganisationService:
    def __init__(self, session: DbSession) -> None:
        self.session = session

    def create_organisation(
        self, *, kind: OrganisationKind, name: str, iban: str, bic: str | None = None
    ) -> Organisation:
        """Operator use (CLI): a new body on this installation."""
        name = self._valid_name(name, None)
        compact = parse_iban(iban)
        organisation = Organisation(
            kind=kind,
            name=name,
            iban=compact,
            bic=parse_bic(bic, compact),
            eligible_offices=[
                EligibleOffice(office_type=o) for o in sorted(DEFAULT_ELIGIBLE_OFFICES)
            ],
        )
        self.session.add(organisation)
        self.session.flush()
        seed_catalogue(self.session, organisation)
        return organisation

    def update_organisation(
        self, scope: Scope, organisation_id: int, *, name: str, iban: str, bic: str | None
    ) -> Organisation:
        organisation = scope.get(self.session, Organisation, organisation_id)
        if organisation is None:
            raise NotFound(_l("No such organisation."))
        organisation.name = self._valid_name(name, organisation.id)
        organisation.iban = parse_iban(iban)
        organisation.bic = parse_bic(bic, organisation.iban)
        self.session.flush()
        return organisation

    def _valid_name(self, name: str, own_id: int | None) -> str:
        name = name.strip()
        if not name or len(name) > 200:
            message = _l("Give a name of 1 to 200 characters.")
            raise InvalidInput(message, field_errors={"name": [message]})
        clash = select(func.count()).where(Organisation.name == name)
        if own_id is not None:
            clash = clash.where(Organisation.id != own_id)
        if self.session.scalar(clash):
            message = _l("Another organisation already has this name.")
            raise InvalidInput(message, field_errors={"name": [message]})
        return name

    # --- office holders -------------------------------------------------------------
    def create_office_holder(self, scope: Scope, data: OfficeHolderData) -> OfficeHolder:
        holder = OfficeHolder(organisation_id=scope.organisation_id)
        self._apply(scope, holder, data)
        self.session.add(holder)
        self.session.flush()
        return holder

    def update_office_holder(
        self, scope: Scope, holder_id: int, data: OfficeHolderData
    ) -> OfficeHolder:
        holder = scope.get(self.session, OfficeHolder, holder_id)
        if holder is None:
            raise NotFound(_l("No such office holder."))
        self._apply(scope, holder, data)
        self.session.flush()
        return holder

    def _apply(self, scope: Scope, holder: OfficeHolder, data: OfficeHolderData) -> None:
        errors: dict[str, list[str]] = {}
        name = data.full_name.strip()
        if not name or len(name) > 200:
            errors["full_name"] = [_l("Give a name of 1 to 200 characters.")]
        if data.term_end is not None and data.term_end < data.term_start:
            errors["term_end"] = [_l("The term cannot end before it starts.")]
        if (
            data.appointment_certain_on is not None
            and data.appointment_certain_on > data.term_start
        ):
            errors["appointment_certain_on"] = [
                _l("The appointment becomes certain on or before the start of the term.")
            ]
        if data.user_id is not None:
            user = scope.get(self.session, User, data.user_id)
            if user is None:
                errors["user_id"] = [_l("Choose a user of your own organisation.")]
            else:
                linked = select(func.count()).where(OfficeHolder.user_id == data.user_id)
                if holder.id is not None:
                    linked = linked.where(OfficeHolder.id != holder.id)
                if self.session.scalar(linked):
                    errors["user_id"] = [_l("This user is already linked to an office holder.")]
        if errors:
            first = next(iter(errors.values()))[0]
            raise InvalidInput(first, field_errors=errors)
        holder.full_name = name
        holder.office_type = data.office_type
        holder.term_start = data.term_start
        holder.term_end = data.term_end
        holder.appointment_certain_on = data.appointment_certain_on
        holder.user_id = data.user_id


# --- the rules an administrator owns ---------------------------------------------------
# The Awb's limits (DOMAIN.md §4); the database checks them too, we check first.
DECISION_WEEKS = (1, 8)
NOT_CONSIDERED_WEEKS = (1, 4)
# The Awb sets no maximum for the term to complete an application; a year keeps a typing
# error (140 for 14) from holding a claim for ever and stays far inside an integer.
INFORMATION_TERM_DAYS = (1, 365)
# Budgets exist from the first regime (2021) on; far-future years are typing errors.
BUDGET_YEARS = (2021, 2100)
MEASURE_CODE = re.compile(r"[a-z0-9_]{1,60}")


def _invalid(field: str, message: Any) -> InvalidInput:
    return InvalidInput(message, field_errors={field: [message]})


def _refuse(errors: Mapping[str, list[Any]]) -> InvalidInput:
    return InvalidInput(next(iter(errors.values()))[0], field_errors=dict(errors))


def _money_text(amount: Decimal) -> LazyString:
    # Formatted when shown, in the reader's language.
    return LazyString(format_currency, amount, "EUR")


@dataclass(frozen=True)
class TermsData:
    """What an administrator sets of the Awb terms and the eligibility."""

    decision_weeks: int
    information_term_days: int
    not_considered_weeks: int
    regime_a_cap: Decimal | str | None
    eligible_offices: frozenset[OfficeType]


class RulesService:
    """The rules an administrator owns: Awb terms, eligibility, budgets, measure catalogue.

    Each change is checked in full before anything is written, and is audited in the
    organisation's hash chain in the same transaction.
    """

    def __init__(self, session: DbSession, audit: AuditTrail | None = None) -> None:
        self.session = session
        self.audit = audit or AuditTrail(session)

    @staticmethod
    def _require_admin(scope: Scope) -> int:
        if Role.ADMIN not in scope.roles or scope.organisation_id is None:
            raise Forbidden(_l("Only an administrator changes the rules of the organisation."))
        return scope.organisation_id

    # --- Awb terms and eligibility ----------------------------------------------------
    def update_terms(self, scope: Scope, organisation_id: int, data: TermsData) -> Organisation:
        self._require_admin(scope)
        organisation = scope.get_for_update(
            self.session, Organisation, organisation_id, missing=_l("No such organisation.")
        )
        errors: dict[str, list[Any]] = {}
        cap = Decimal(0)
        for field, (low, high) in (
            ("decision_weeks", DECISION_WEEKS),
            ("information_term_days", INFORMATION_TERM_DAYS),
            ("not_considered_weeks", NOT_CONSIDERED_WEEKS),
        ):
            value = getattr(data, field)
            if not isinstance(value, int) or not low <= value <= high:
                errors[field] = [
                    _l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
                ]
        try:
            cap = parse_money(data.regime_a_cap, "regime_a_cap")
        except InvalidInput as exc:
            errors.update(exc.field_errors)
        else:
            if cap <= 0:
                errors["regime_a_cap"] = [_l("The cap must be more than zero.")]
        offices = frozenset(data.eligible_offices)
        if not offices:
            errors["eligible_offices"] = [_l("Choose at least one office whose holders may claim.")]
        if errors:
            raise _refuse(errors)

        changes: dict[str, Any] = {}
        for field in ("decision_weeks", "information_term_days", "not_considered_weeks"):
            old, new = getattr(organisation, field), getattr(data, field)
            if old != new:
                changes[field] = {"from": old, "to": new}
                setattr(organisation, field, new)
        if organisation.regime_a_cap != cap:
            changes["regime_a_cap"] = {"from": organisation.regime_a_cap, "to": cap}
            organisation.regime_a_cap = cap
        current = {e.office_type for e in organisation.eligible_offices}
        if current != offices:
            changes["eligible_offices"] = {
                "added": sorted(offices - current),
                "removed": sorted(current - offices),
            }
            # Only the difference: removing and re-adding a row would clash on its key.
            organisation.eligible_offices = [
                e for e in organisation.eligible_offices if e.office_type in offices
            ] + [EligibleOffice(office_type=o) for o in sorted(offices - current)]
        if changes:
            self.session.flush()
            self.audit.append(
                organisation.id,
                event="update_terms",
                actor_id=scope.user_id,
                payload=changes,
            )
        return organisation

    # --- budgets ----------------------------------------------------------------------
    def budgets(self, scope: Scope) -> list[Budget]:
        return list(self.session.scalars(scope.select(Budget).order_by(Budget.year.desc())))

    def set_budget(self, scope: Scope, year: int, amount: Decimal | str | None) -> Budget:
        """Create or change a year's budget; never below what that year has committed."""
        organisation_id = self._require_admin(scope)
        errors: dict[str, list[Any]] = {}
        low, high = BUDGET_YEARS
        if not isinstance(year, int) or not low <= year <= high:
            errors["year"] = [_l("Enter a year from %(low)d to %(high)d.", low=low, high=high)]
        try:
            value = parse_money(amount, "amount")
        except InvalidInput as exc:
            errors.update(exc.field_errors)
        if errors:
            raise _refuse(errors)
        # Locked as a grant locks it: a grant committing money meanwhile waits, or we do.
        budget = locked_budget(self.session, organisation_id, year)
        if budget is not None and value < budget.committed:
            raise _invalid(
                "amount",
                _l(
                    "%(committed)s of the budget for %(year)d has already been committed to "
                    "granted claims; the amount cannot be lower than that.",
                    committed=_money_text(budget.committed),
                    year=year,
                ),
            )
        if budget is None:
            budget = Budget(organisation_id=organisation_id, year=year, amount=value)
            self.session.add(budget)
            previous = None
        else:
            previous = budget.amount
            if previous == value:
                return budget
            budget.amount = value
        self.session.flush()
        self.audit.append(
            organisation_id,
            event="set_budget",
            actor_id=scope.user_id,
            payload={"year": year, "from": previous, "to": value},
        )
        return budget

    # --- measure catalogue ------------------------------------------------------------
    def catalogue(self, scope: Scope) -> dict[Regime, list[MeasureCatalogue]]:
        rows = self.session.scalars(
            scope.select(MeasureCatalogue).order_by(
                MeasureCatalogue.regime, MeasureCatalogue.name, MeasureCatalogue.id
            )
        )
        grouped: dict[Regime, list[MeasureCatalogue]] = {regime: [] for regime in Regime}
        for row in rows:
            grouped[row.regime].append(row)
        return grouped

    def add_measure(
        self, scope: Scope, *, code: str, name: str, recurring_allowed: bool
    ) -> MeasureCatalogue:
        """Add a Regime B measure; Regime A's list is the law's and gets none."""
        organisation_id = self._require_admin(scope)
        code, name = code.strip(), name.strip()
        errors: dict[str, list[Any]] = {}
        if not MEASURE_CODE.fullmatch(code):
            errors["code"] = [
                _l("Use 1 to 60 lower-case letters, digits and underscores (e.g. panic_room).")
            ]
        elif self.session.scalar(
            select(func.count()).where(
                MeasureCatalogue.organisation_id == organisation_id,
                MeasureCatalogue.regime == Regime.B,
                MeasureCatalogue.code == code,
            )
        ):
            errors["code"] = [_l("The catalogue already has a measure with this code.")]
        if not name or len(name) > 200:
            errors["name"] = [_l("Give a name of 1 to 200 characters.")]
        if errors:
            raise _refuse(errors)
        measure = MeasureCatalogue(
            organisation_id=organisation_id,
            regime=Regime.B,
            code=code,
            name=name,
            is_basic_measure=False,
            recurring_allowed=bool(recurring_allowed),
            active=True,
        )
        self.session.add(measure)
        self.session.flush()
        self.audit.append(
            organisation_id,
            event="add_measure",
            actor_id=scope.user_id,
            payload={
                "measure_id": measure.id,
                "regime": measure.regime,
                "code": code,
                "name": name,
                "recurring_allowed": measure.recurring_allowed,
            },
        )
        return measure

    def set_measure_active(self, scope: Scope, measure_id: int, active: bool) -> MeasureCatalogue:
        organisation_id = self._require_admin(scope)
        measure = scope.get_for_update(
            self.session, MeasureCatalogue, measure_id, missing=_l("No such measure.")
        )
        if not active and (measure.regime == Regime.A or measure.is_basic_measure):
            raise Conflict(
                _l("Regime A's basic measures are set by law: they cannot be switched off.")
            )
        if measure.active == active:
            return measure
        measure.active = active
        self.session.flush()
        self.audit.append(
            organisation_id,
            event="activate_measure" if active else "deactivate_measure",
            actor_id=scope.user_id,
            payload={"measure_id": measure.id, "regime": measure.regime, "code": measure.code},
        )
        return measure
