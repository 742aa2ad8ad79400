"""Organisation and office-holder use cases, scoped to the acting user's organisation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from schwifty import BIC, IBAN
from schwifty.exceptions import InvalidChecksumDigits, SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.claims.catalogue import seed_catalogue
from housing.errors import InvalidInput, NotFound
from housing.organisations.models import (
    DEFAULT_ELIGIBLE_OFFICES,
    EligibleOffice,
    OfficeHolder,
    OfficeType,
    Organisation,
    OrganisationKind,
)
from housing.scoping import Scope


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


@dataclass(frozen=True)
class OfficeHolderData:
    full_name: str
    office_type: OfficeType
    term_start: dt.date
    term_end: dt.date | None = None
    appointment_certain_on: dt.date | None = None
    user_id: int | None = None


class OrganisationService:
    def __init__(self, session: Session) -> None:
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
