"""Organisation, OfficeHolder and Home; the rules an administrator sets: catalogue, budgets."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from housing.db import Base, created_at, encrypted, intpk, money, str200, str_enum
from housing.organisations.kinds import OrganisationKind as OrganisationKind  # re-exported
from workflows.rules import DEFAULT_ELIGIBLE_OFFICE_TYPES, Regime

if TYPE_CHECKING:
    from housing.accounts.models import User


class OfficeType(enum.StrEnum):
    BURGEMEESTER = "burgemeester"
    WETHOUDER = "wethouder"
    GEDEPUTEERDE = "gedeputeerde"
    COMMISSARIS_VAN_DE_KONING = "commissaris_van_de_koning"
    DIJKGRAAF = "dijkgraaf"
    LID_DAGELIJKS_BESTUUR = "lid_dagelijks_bestuur"
    RAADSLID = "raadslid"
    STATENLID = "statenlid"


# DOMAIN.md §2: eligible by default; each organisation keeps its own list.
DEFAULT_ELIGIBLE_OFFICES = frozenset(OfficeType(o) for o in DEFAULT_ELIGIBLE_OFFICE_TYPES)


def new_rules_version() -> str:
    """A fresh stamp for `Organisation.rules_version`: random, not a counter, so a change
    that was rolled back never leaves a number that a later change takes again (a cache
    filled inside the rolled-back transaction would then pass for current)."""
    return uuid.uuid4().hex


class Organisation(Base):
    __tablename__ = "organisation"
    __table_args__ = (
        # The Awb caps the decision term at 8 weeks; shorter is allowed, longer is not.
        CheckConstraint("decision_weeks BETWEEN 1 AND 8", name="decision_weeks_range"),
        CheckConstraint("information_term_days >= 1", name="information_term_positive"),
        CheckConstraint("objection_weeks = 6", name="objection_weeks_statutory"),
        CheckConstraint("not_considered_weeks BETWEEN 1 AND 4", name="not_considered_range"),
        CheckConstraint(
            "pain_version IN ('pain.001.001.09', 'pain.001.001.03')", name="pain_version_known"
        ),
    )

    id: Mapped[intpk]
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind, "organisation_kind"))
    name: Mapped[str200] = mapped_column(unique=True)
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    # Regime A: at most this much incl. VAT per home (DOMAIN.md §1); data, not code.
    regime_a_cap: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), default=Decimal("2400.00"), server_default="2400.00"
    )
    # Awb terms (DOMAIN.md §4): the legal defaults, configurable per organisation.
    decision_weeks: Mapped[int] = mapped_column(default=8, server_default="8")
    information_term_days: Mapped[int] = mapped_column(default=14, server_default="14")
    objection_weeks: Mapped[int] = mapped_column(default=6, server_default="6")
    not_considered_weeks: Mapped[int] = mapped_column(default=4, server_default="4")
    # The pain.001 version its bank takes: .09 by default, .03 for banks still on it.
    pain_version: Mapped[str] = mapped_column(
        String(20), default="pain.001.001.09", server_default="pain.001.001.09"
    )
    # Stamped afresh whenever what the per-process cache of its rules holds changes (its
    # terms, cap and eligible offices, the Atw calendar): housing/deadlines/rules.py.
    rules_version: Mapped[str] = mapped_column(
        String(32), default=new_rules_version, server_default="0"
    )
    created_at: Mapped[created_at]

    users: Mapped[list[User]] = relationship(back_populates="organisation")
    eligible_offices: Mapped[list[EligibleOffice]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    office_holders: Mapped[list[OfficeHolder]] = relationship(back_populates="organisation")
    letterhead: Mapped[Letterhead | None] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.name!r}>"


class EligibleOffice(Base):
    """An office whose holders may claim at this organisation (configurable, DOMAIN.md §2)."""

    __tablename__ = "eligible_office"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    office_type: Mapped[OfficeType] = mapped_column(
        str_enum(OfficeType, "office_type"), primary_key=True
    )


# A logo is printed about 4 cm wide: a few hundred kilobytes is plenty, and it is read with
# every letter. The pixel bound keeps a small file from unpacking into a huge image.
LOGO_MAX_BYTES = 256 * 1024
LOGO_MAX_PIXELS = 2000


class Letterhead(Base):
    """What the organisation's letters say of it: logo, sender, contact and who signs.

    The logo is kept here, in the row, not in the document store: it is small and bounded,
    public (printed on every letter), belongs to no claim, and a worker laying out a letter
    then needs nothing but the database. Its type was sniffed and the image decoded before
    it was stored (`housing.organisations.letterhead`).
    """

    __tablename__ = "letterhead"
    __table_args__ = (
        CheckConstraint(f"logo IS NULL OR length(logo) <= {LOGO_MAX_BYTES}", name="logo_bounded"),
        CheckConstraint(
            "(logo IS NULL) = (logo_content_type IS NULL)"
            " AND (logo_content_type IS NULL OR logo_content_type IN ('image/png', 'image/jpeg'))",
            name="logo_typed",
        ),
    )

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    # The postal address letters come from and objections go to (street or Postbus).
    address_line: Mapped[str200] = mapped_column(default="", server_default="")
    postcode: Mapped[str] = mapped_column(String(7), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(30), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    website: Mapped[str200] = mapped_column(default="", server_default="")
    signatory_name: Mapped[str200] = mapped_column(default="", server_default="")
    signatory_function: Mapped[str200] = mapped_column(default="", server_default="")
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_content_type: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[created_at]

    organisation: Mapped[Organisation] = relationship(back_populates="letterhead")

    @property
    def has_address(self) -> bool:
        return bool(self.address_line and self.postcode and self.city)


class OfficeHolder(Base):
    __tablename__ = "office_holder"
    __table_args__ = (
        CheckConstraint("term_end IS NULL OR term_end >= term_start", name="term_order"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    full_name: Mapped[str200]
    office_type: Mapped[OfficeType] = mapped_column(str_enum(OfficeType, "office_type"))
    term_start: Mapped[dt.date] = mapped_column(Date)
    term_end: Mapped[dt.date | None] = mapped_column(Date)
    # The day the appointment became certain: claims may start from then (DOMAIN.md §2).
    appointment_certain_on: Mapped[dt.date | None] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    created_at: Mapped[created_at]

    organisation: Mapped[Organisation] = relationship(back_populates="office_holders")
    user: Mapped[User | None] = relationship()
    homes: Mapped[list[Home]] = relationship(back_populates="office_holder")

    @property
    def eligible_by_default(self) -> bool:
        return self.office_type in DEFAULT_ELIGIBLE_OFFICES


class Home(Base):
    """A home to protect; every part of the address is encrypted at rest."""

    __tablename__ = "home"
    __table_args__ = (
        CheckConstraint(
            "is_registered_address OR exemption_reference IS NOT NULL",
            name="registered_or_exempt",
        ),
        CheckConstraint("moved_out_on IS NULL OR moved_out_on >= moved_in_on", name="move_order"),
    )

    id: Mapped[intpk]
    office_holder_id: Mapped[int] = mapped_column(ForeignKey("office_holder.id"), index=True)
    street: Mapped[encrypted]
    house_number: Mapped[encrypted]
    postcode: Mapped[encrypted]
    city: Mapped[encrypted]
    # The BRP address in the body's territory, or else an exemption (ontheffing) on record.
    is_registered_address: Mapped[bool] = mapped_column(default=True, server_default=true())
    exemption_reference: Mapped[str | None] = mapped_column(String(100))
    moved_in_on: Mapped[dt.date | None] = mapped_column(Date)
    moved_out_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[created_at]

    office_holder: Mapped[OfficeHolder] = relationship(back_populates="homes")


class MeasureCatalogue(Base):
    """A measure an organisation funds under a regime (Regime A's five are seeded)."""

    __tablename__ = "measure_catalogue"
    __table_args__ = (UniqueConstraint("organisation_id", "regime", "code"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    regime: Mapped[Regime] = mapped_column(str_enum(Regime, "regime"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str200]
    is_basic_measure: Mapped[bool] = mapped_column(default=False, server_default=false())
    recurring_allowed: Mapped[bool] = mapped_column(default=False, server_default=false())
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class Budget(Base):
    """What an organisation may commit to security measures in one year."""

    __tablename__ = "budget"
    __table_args__ = (
        UniqueConstraint("organisation_id", "year"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("committed >= 0 AND committed <= amount", name="committed_within_amount"),
    )

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    year: Mapped[int]
    amount: Mapped[money]
    committed: Mapped[money] = mapped_column(default=Decimal("0.00"), server_default="0")

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.committed


class ProviderAudience(enum.StrEnum):
    """Whom a sign-in provider serves: staff, applicants, or both."""

    STAFF = "staff"
    APPLICANTS = "applicants"
    BOTH = "both"


class SignInProvider(Base):
    """An OpenID Provider an organisation's administrator set up for signing in.

    Everyone who signs in through it belongs to its organisation: an account is created
    there at the first login (roles only from `role_mapping`), and a person of another
    organisation is never let in by it. The client secret is encrypted at rest with the
    field keys (rotated by `housing keys rotate`).
    """

    __tablename__ = "sign_in_provider"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[intpk]
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    # The issuer, or its discovery document's URL (…/.well-known/openid-configuration).
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(200))
    client_secret: Mapped[encrypted]
    scopes: Mapped[str] = mapped_column(String(500), default="openid email profile")
    audience: Mapped[ProviderAudience] = mapped_column(
        str_enum(ProviderAudience, "provider_audience"), default=ProviderAudience.BOTH
    )
    # The ID token's claim with the person's groups or roles ("groups", "roles", …).
    groups_claim: Mapped[str] = mapped_column(String(100), default="groups")
    # One line per rule: "glob pattern = role" (e.g. "vw-beoordelaar* = assessor").
    role_mapping: Mapped[str] = mapped_column(String(4000), default="")
    # Whether the mapped roles replace the account's at each login (else only at the first).
    sync_roles: Mapped[bool] = mapped_column(default=True)
    # Whether the provider's `amr` saying "mfa" (or two factors) counts as our second factor.
    trust_provider_mfa: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[created_at]

    organisation: Mapped[Organisation] = relationship()


class ExternalIdentity(Base):
    """A person at a sign-in provider (its `sub`) and their account here."""

    __tablename__ = "external_identity"
    __table_args__ = (UniqueConstraint("provider_id", "subject"),)

    id: Mapped[intpk]
    provider_id: Mapped[int] = mapped_column(ForeignKey("sign_in_provider.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
