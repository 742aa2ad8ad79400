"""The rules a claim must obey (DOMAIN.md §1–2, issue 3), as pure functions that raise.

Each rule is a plain function that returns nothing when the rule holds and raises
`RuleViolation(rule, message)` when it does not. `workflows.claim` wires them into the
machine as guards; the domain service and the UI may also call them directly (for
example to grey out a button). Nothing here reads a database or a clock: the caller
passes the claim (anything satisfying `ClaimFacts`), the acting user (`Actor`) and the
facts only the database knows (`ClaimContext`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, TypeVar

__all__ = [
    "AUTHORISATION_RULES",
    "DEFAULT_ELIGIBLE_OFFICE_TYPES",
    "REGIME_A_CAP",
    "REGIME_A_START",
    "REGIME_B_START",
    "Actor",
    "ClaimContext",
    "ClaimFacts",
    "Fact",
    "MeasureLineFacts",
    "MissingEventData",
    "OfficeHolderFacts",
    "OrganisationSettings",
    "Regime",
    "Role",
    "Rule",
    "RuleViolation",
    "WorkflowError",
    "check_application_date",
    "check_budget",
    "check_decision_lines",
    "check_eligibility",
    "check_four_eyes",
    "check_full_grant",
    "check_info_term_expired",
    "check_not_own_claim",
    "check_own_claim",
    "check_partial_grant",
    "check_refusal",
    "check_regime_for_decision",
    "check_requested_lines",
    "check_retention_expired",
    "check_role",
    "granted_total",
    "regime_for",
    "require_regime",
]


# --- Errors -------------------------------------------------------------------------------


class WorkflowError(Exception):
    """Base of every error the workflows raise on purpose."""


class RuleViolation(WorkflowError):
    """A business rule forbids the event; `rule` is a stable code, `message` explains it."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class MissingEventData(WorkflowError, TypeError):
    """The caller did not pass a fact a rule needs: a programming error, never a user's."""


class Rule(StrEnum):
    """The codes a `RuleViolation` carries; the web layer maps each to a translated message.

    One family for the three machines. ROLE, NOT_OWN_CLAIM, SELF_DECISION, FOUR_EYES and the
    payments' dual-control rules (REQUESTER_APPROVES, SECOND_APPROVER, RELEASER_APPROVED) are
    about *who* acts (HTTP 403); the others are about the claim, payout or batch (HTTP 422).
    """

    ROLE = "role"
    NOT_OWN_CLAIM = "not_own_claim"
    SELF_DECISION = "self_decision"
    FOUR_EYES = "four_eyes"
    OFFICE_NOT_ELIGIBLE = "office_not_eligible"
    OUTSIDE_TERM = "outside_term"
    HOME_NOT_IN_TERRITORY = "home_not_in_territory"
    APPLICATION_DATE_IN_FUTURE = "application_date_in_future"
    REGIME_NONE = "regime_none"
    REGIME_A_MEASURE = "regime_a_measure"
    REGIME_A_CAP = "regime_a_cap"
    REGIME_B_NOT_ADVISED = "regime_b_not_advised"
    NO_MEASURES = "no_measures"
    INVALID_AMOUNT = "invalid_amount"
    GRANTED_EXCEEDS_REQUESTED = "granted_exceeds_requested"
    GRANT_NOT_FULL = "grant_not_full"
    GRANT_NOT_PARTIAL = "grant_not_partial"
    REFUSAL_GRANTS_AMOUNT = "refusal_grants_amount"
    BUDGET = "budget"
    INFO_TERM_RUNNING = "info_term_running"
    RETENTION_RUNNING = "retention_running"
    # Payouts and payment batches (DESIGN.md §3):
    SECOND_APPROVER = "second_approver"  # the second approval by the first approver
    REQUESTER_APPROVES = "requester_approves"  # who recorded the invoice checks it too
    RELEASER_APPROVED = "releaser_approved"  # the batch's approver releases it
    REASON_MISSING = "reason_missing"
    EMPTY_BATCH = "empty_batch"


AUTHORISATION_RULES = frozenset(
    {
        Rule.ROLE,
        Rule.NOT_OWN_CLAIM,
        Rule.SELF_DECISION,
        Rule.FOUR_EYES,
        Rule.REQUESTER_APPROVES,
        Rule.SECOND_APPROVER,
        Rule.RELEASER_APPROVED,
    }
)


# --- Regimes ------------------------------------------------------------------------------


class Regime(StrEnum):
    A = "A"  # basic package: five measures, capped per home
    B = "B"  # tailored: whatever the security advice names


REGIME_A_START = dt.date(2021, 1, 1)
REGIME_B_START = dt.date(2024, 1, 1)
# Legal default, including VAT, per home; the organisation's catalogue may carry its own.
REGIME_A_CAP = Decimal("2400.00")


def regime_for(on: dt.date) -> Regime | None:
    """Return the regime in force on the application date, or None before 2021."""
    _require_date(on, "application date")
    if on >= REGIME_B_START:
        return Regime.B
    if on >= REGIME_A_START:
        return Regime.A
    return None


# --- Who acts -----------------------------------------------------------------------------


class Role(StrEnum):
    """The roles the machines check; the values equal `housing.roles.Role`'s.

    `SYSTEM` is not a user role: it marks the actor of scheduled tasks and of events
    another workflow causes (a payout released, a term run out).
    """

    APPLICANT = "applicant"
    ASSESSOR = "assessor"
    DECIDER = "decider"
    FINANCE = "finance"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who fires an event, as the domain service established it from the session or token.

    `user_id` is the user's id, or None for the system. `roles` holds role values (plain
    strings or `housing.roles.Role` members: they compare equal). `office_holder_ids` are
    the office holders this user may act for as an applicant: the one they are themselves,
    plus those a clerk files for by a recorded authorisation. The service computes it;
    the machine trusts it.
    """

    user_id: int | None
    roles: frozenset[str]
    office_holder_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        # Frozen sets keep the actor hashable and immune to the caller changing a set later.
        object.__setattr__(self, "roles", frozenset(self.roles))
        object.__setattr__(self, "office_holder_ids", frozenset(self.office_holder_ids))
        if self.is_system and self.user_id is not None:
            # A person holding the system role could expire terms or destroy records at will.
            raise ValueError("the system actor has no user id; no user may hold the system role")
        if not self.is_system and self.user_id is None:
            raise ValueError("a human actor needs a user id")

    @property
    def is_system(self) -> bool:
        return Role.SYSTEM in self.roles

    @classmethod
    def system(cls) -> Actor:
        """Return the actor of scheduled tasks and cross-workflow events."""
        return cls(user_id=None, roles=frozenset({Role.SYSTEM}))


# --- What the rules read ------------------------------------------------------------------


# DOMAIN.md §2; the same values as housing.organisations.models.DEFAULT_ELIGIBLE_OFFICES,
# repeated because workflows/ imports nothing of ours.
DEFAULT_ELIGIBLE_OFFICE_TYPES: frozenset[str] = frozenset(
    {
        "burgemeester",
        "wethouder",
        "gedeputeerde",
        "commissaris_van_de_koning",
        "dijkgraaf",
        "lid_dagelijks_bestuur",
    }
)


@dataclass(frozen=True, slots=True)
class OrganisationSettings:
    """The organisation's configuration the rules use; defaults are the legal ones."""

    eligible_office_types: frozenset[str] = DEFAULT_ELIGIBLE_OFFICE_TYPES
    regime_a_cap: Decimal = REGIME_A_CAP

    def __post_init__(self) -> None:
        object.__setattr__(self, "eligible_office_types", frozenset(self.eligible_office_types))
        _require_money(self.regime_a_cap, "regime A cap")


class Fact(StrEnum):
    """What a claim rule reads beyond the claim's own columns, declared on the rule
    (`workflows.machine.reads`), so the service loads for an event only those. OFFICE_HOLDER,
    HOME and LINES are rows `ClaimFacts` reads through; the others name a `ClaimContext` field.
    """

    OFFICE_HOLDER = "office_holder"
    HOME = "home"
    LINES = "lines"
    SETTINGS = "settings"
    GRANTED_FOR_HOME = "regime_a_granted_for_home"
    ADVISED_MEASURES = "advised_measure_codes"
    BUDGET = "budget_remaining"
    INFO_TERM = "info_term_ends_on"
    RETENTION = "retention_ends_on"


@dataclass(frozen=True, slots=True)
class ClaimContext:
    """Facts from outside the claim that the domain service computes before firing.

    A fact left None was not computed; a rule that needs it raises `MissingEventData`
    rather than guessing (a missing budget must never read as "unlimited" or "zero").
    Which event needs which fact, its rules declare (`Fact`, `WORKFLOW.facts(event)`).

    `today` is the date in Europe/Amsterdam. `budget_remaining` is what is left of the
    organisation's budget for the year the grant is charged to. `regime_a_granted_for_home`
    is what other claims already had granted for the same home under regime A (a new home
    after moving starts again at zero). `advised_measure_codes` are the catalogue codes in
    the recorded security advice (empty when none is recorded). `info_term_ends_on` and
    `retention_ends_on` are the last day of the term to complete the application and of
    the retention period.
    """

    today: dt.date
    settings: OrganisationSettings | None = None
    budget_remaining: Decimal | None = None
    regime_a_granted_for_home: Decimal | None = None
    advised_measure_codes: frozenset[str] | None = None
    info_term_ends_on: dt.date | None = None
    retention_ends_on: dt.date | None = None

    def __post_init__(self) -> None:
        _require_date(self.today, "today")
        if self.budget_remaining is not None:
            _require_money(self.budget_remaining, "budget remaining")
        if self.regime_a_granted_for_home is not None:
            _require_money(self.regime_a_granted_for_home, "regime A granted for the home")
        if self.advised_measure_codes is not None:
            object.__setattr__(self, "advised_measure_codes", frozenset(self.advised_measure_codes))


class MeasureLineFacts(Protocol):
    """One requested measure; amounts include VAT."""

    @property
    def catalogue_code(self) -> str: ...

    @property
    def is_basic_measure(self) -> bool:
        """Whether the catalogue lists it as one of regime A's five basic measures."""
        ...

    @property
    def requested_amount(self) -> Decimal: ...

    @property
    def granted_amount(self) -> Decimal | None:
        """None until an assessor proposes an amount; zero means "not granted"."""
        ...


class OfficeHolderFacts(Protocol):
    """Whose case it is: what the who-may rules read (a claim, an objection against one)."""

    @property
    def office_holder_id(self) -> int: ...

    @property
    def office_holder_user_id(self) -> int | None:
        """The office holder's own user account; None if a clerk files for them."""
        ...


class ClaimFacts(OfficeHolderFacts, Protocol):
    """What the rules read from a claim (the SQLAlchemy `Claim` model satisfies it).

    Read-only properties may be columns, association proxies or Python properties on the
    model (for example `office_type` read through the office holder). The five plain
    attributes at the end are also written by the claim machine (see `workflows.claim`).
    """

    @property
    def office_type(self) -> str: ...

    @property
    def term_start(self) -> dt.date: ...

    @property
    def term_end(self) -> dt.date | None: ...

    @property
    def appointment_certain_on(self) -> dt.date | None: ...

    @property
    def home_registered_address(self) -> bool:
        """The home is the BRP address in the organisation's territory."""
        ...

    @property
    def home_exemption_reference(self) -> str | None:
        """The recorded exemption (ontheffing) from the residence requirement, if any."""
        ...

    @property
    def lines(self) -> Sequence[MeasureLineFacts]: ...

    regime: Regime | None
    application_date: dt.date | None
    assessor_id: int | None
    proposed_by_id: int | None
    decided_by_id: int | None


# --- Authorisation rules ------------------------------------------------------------------


def check_role(actor: Actor, role: Role, event: str) -> None:
    """The actor holds the role the event needs; only the system fires system events."""
    if role is Role.SYSTEM:
        if not actor.is_system:
            raise RuleViolation(Rule.ROLE, f"{event} is fired by the system, not by a user")
        return
    if actor.is_system:
        # The system never acts in a person's name: a decision needs an accountable human.
        raise RuleViolation(Rule.ROLE, f"{event} needs a user with the {role} role")
    if role not in actor.roles:
        raise RuleViolation(Rule.ROLE, f"{event} needs the {role} role")


def check_own_claim(claim: OfficeHolderFacts, actor: Actor) -> None:
    """Only the office holder, or a clerk authorised for them, acts as the applicant."""
    if actor.user_id is not None and actor.user_id == claim.office_holder_user_id:
        return
    if claim.office_holder_id in actor.office_holder_ids:
        return
    raise RuleViolation(Rule.NOT_OWN_CLAIM, "only the office holder or their clerk may do this")


def check_not_own_claim(claim: OfficeHolderFacts, actor: Actor) -> None:
    """Nobody assesses or decides a claim they are the office holder (or clerk) of."""
    own_user = actor.user_id is not None and actor.user_id == claim.office_holder_user_id
    if own_user or claim.office_holder_id in actor.office_holder_ids:
        raise RuleViolation(
            Rule.SELF_DECISION, "nobody assesses or decides a claim of their own office holder"
        )


def check_four_eyes(claim: ClaimFacts, actor: Actor) -> None:
    """The decider is not the one who proposed the decision."""
    if claim.proposed_by_id is not None and actor.user_id == claim.proposed_by_id:
        raise RuleViolation(Rule.FOUR_EYES, "the decider must not be the one who proposed it")


# --- Eligibility (on submit) --------------------------------------------------------------


def check_application_date(on: dt.date, today: dt.date) -> None:
    """An application cannot be dated after the day it is submitted."""
    if on > today:
        raise RuleViolation(
            Rule.APPLICATION_DATE_IN_FUTURE, f"the application date {on} lies after today"
        )


def check_eligibility(
    claim: ClaimFacts, on: dt.date, settings: OrganisationSettings | None
) -> None:
    """Eligible office, within the term (or after appointment was certain), home in scope."""
    settings = _fact(settings, "settings")
    if claim.office_type not in settings.eligible_office_types:
        raise RuleViolation(
            Rule.OFFICE_NOT_ELIGIBLE, f"the office {claim.office_type} is not eligible"
        )
    in_term = claim.term_start <= on and (claim.term_end is None or on <= claim.term_end)
    certain = claim.appointment_certain_on
    appointed = certain is not None and certain <= on < claim.term_start
    if not (in_term or appointed):
        raise RuleViolation(
            Rule.OUTSIDE_TERM,
            f"{on} is outside the term and before the appointment was certain",
        )
    exempt = bool((claim.home_exemption_reference or "").strip())
    if not (claim.home_registered_address or exempt):
        raise RuleViolation(
            Rule.HOME_NOT_IN_TERRITORY,
            "the home is not the registered address in the territory and has no exemption",
        )


def require_regime(on: dt.date) -> Regime:
    """Return the regime for the application date, or refuse a claim dated before 2021."""
    regime = regime_for(on)
    if regime is None:
        raise RuleViolation(
            Rule.REGIME_NONE, f"no regime applies to an application dated {on} (before 2021)"
        )
    return regime


def check_requested_lines(claim: ClaimFacts, regime: Regime) -> None:
    """At least one measure, each with a positive amount; under A only basic measures."""
    if not claim.lines:
        raise RuleViolation(Rule.NO_MEASURES, "the claim requests no measures")
    for line in claim.lines:
        _require_money(line.requested_amount, f"requested amount of {line.catalogue_code}")
        if line.requested_amount <= 0:
            raise RuleViolation(
                Rule.INVALID_AMOUNT, f"{line.catalogue_code}: the requested amount must be positive"
            )
        if regime is Regime.A and not line.is_basic_measure:
            raise RuleViolation(
                Rule.REGIME_A_MEASURE,
                f"{line.catalogue_code} is not one of regime A's five basic measures",
            )


# --- Decisions (on propose_decision and the decider's events) -----------------------------


def granted_total(lines: Iterable[MeasureLineFacts]) -> Decimal:
    """Return the sum granted; a line with no amount counts as nothing granted."""
    return sum((line.granted_amount or Decimal(0) for line in lines), Decimal(0))


def check_decision_lines(claim: ClaimFacts) -> None:
    """Every granted amount is money, not negative, and at most what was requested."""
    for line in claim.lines:
        granted = line.granted_amount
        if granted is None:
            continue
        _require_money(granted, f"granted amount of {line.catalogue_code}")
        if granted < 0:
            raise RuleViolation(
                Rule.INVALID_AMOUNT, f"{line.catalogue_code}: a granted amount is never negative"
            )
        if granted > line.requested_amount:
            raise RuleViolation(
                Rule.GRANTED_EXCEEDS_REQUESTED,
                f"{line.catalogue_code}: granted {granted} exceeds requested "
                f"{line.requested_amount}",
            )


def check_regime_for_decision(claim: ClaimFacts, context: ClaimContext) -> None:
    """What is granted fits the regime: A's measures and cap per home, or B's advice."""
    if claim.regime is None:
        raise RuleViolation(Rule.REGIME_NONE, "the claim has no regime")
    granted = [line for line in claim.lines if (line.granted_amount or 0) > 0]
    if claim.regime is Regime.A:
        for line in granted:
            if not line.is_basic_measure:
                raise RuleViolation(
                    Rule.REGIME_A_MEASURE,
                    f"{line.catalogue_code} is not one of regime A's five basic measures",
                )
        before = _fact(context.regime_a_granted_for_home, "regime_a_granted_for_home")
        total = before + granted_total(granted)
        cap = _fact(context.settings, "settings").regime_a_cap
        if total > cap:
            raise RuleViolation(
                Rule.REGIME_A_CAP,
                f"{total} granted for this home (of which {before} before) exceeds the "
                f"regime A cap of {cap} incl. VAT",
            )
    else:
        advised = _fact(context.advised_measure_codes, "advised_measure_codes")
        for line in granted:
            if line.catalogue_code not in advised:
                raise RuleViolation(
                    Rule.REGIME_B_NOT_ADVISED,
                    f"{line.catalogue_code} is not named in the security advice",
                )


def check_full_grant(claim: ClaimFacts) -> None:
    """A grant gives every line in full."""
    for line in claim.lines:
        if line.granted_amount != line.requested_amount:
            raise RuleViolation(
                Rule.GRANT_NOT_FULL,
                f"{line.catalogue_code} is not granted in full: use a partial grant",
            )
    if granted_total(claim.lines) <= 0:
        raise RuleViolation(Rule.GRANT_NOT_FULL, "nothing is granted: refuse instead")


def check_partial_grant(claim: ClaimFacts) -> None:
    """A partial grant gives something, and at least one line less than requested."""
    if granted_total(claim.lines) <= 0:
        raise RuleViolation(Rule.GRANT_NOT_PARTIAL, "nothing is granted: refuse instead")
    if all(line.granted_amount == line.requested_amount for line in claim.lines):
        raise RuleViolation(Rule.GRANT_NOT_PARTIAL, "every line is granted in full: grant instead")


def check_refusal(claim: ClaimFacts) -> None:
    """A refusal grants nothing."""
    if granted_total(claim.lines) != 0:
        raise RuleViolation(
            Rule.REFUSAL_GRANTS_AMOUNT, "a refusal grants nothing: clear the granted amounts"
        )


def check_budget(claim: ClaimFacts, context: ClaimContext) -> None:
    """The grant fits in what is left of the organisation's budget for the year."""
    remaining = _fact(context.budget_remaining, "budget_remaining")
    total = granted_total(claim.lines)
    if total > remaining:
        raise RuleViolation(
            Rule.BUDGET, f"the grant of {total} exceeds the {remaining} left in this year's budget"
        )


# --- Terms (system events) ----------------------------------------------------------------


def check_info_term_expired(context: ClaimContext) -> None:
    """Not-considered may only be proposed once the term to complete has run out."""
    ends_on = _fact(context.info_term_ends_on, "info_term_ends_on")
    if context.today <= ends_on:
        raise RuleViolation(
            Rule.INFO_TERM_RUNNING, f"the term to provide information runs until {ends_on}"
        )


def check_retention_expired(context: ClaimContext) -> None:
    """A file is archived only after its retention period."""
    ends_on = _fact(context.retention_ends_on, "retention_ends_on")
    if context.today <= ends_on:
        raise RuleViolation(
            Rule.RETENTION_RUNNING, f"the file must be kept until {ends_on} inclusive"
        )


# --- Helpers ------------------------------------------------------------------------------

_T = TypeVar("_T")


def _fact(value: _T | None, name: str) -> _T:
    if value is None:
        raise MissingEventData(f"the claim context lacks {name}, which this rule needs")
    return value


def _require_money(value: object, what: str) -> None:
    # A float here would round silently; money is Decimal from the column to the letter.
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, not {type(value).__name__}")


def _require_date(value: object, what: str) -> None:
    # A datetime is a date subclass; a UTC timestamp taken for the Dutch date shifts a day
    # around midnight, so insist on a plain date.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a date, not {type(value).__name__}")
