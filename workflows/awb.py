"""The Awb clock: decision, objection and penalty terms of Dutch administrative law.

Pure functions on `datetime.date` (DOMAIN.md §4). Nothing here reads the clock, the
database or the settings: the caller passes today, the organisation's `AwbTerms` and its
`AtwCalendar`, so every rule can be read and tested on its own.

Where the law leaves room for two readings, we take the one that gives the *earlier*
deadline: a body that keeps the earlier date is late under neither reading.

Counting a term of weeks
    A term "within N weeks after" an event starts on the day after the event: art. 6:8 Awb
    says so for the objection term, and the decision term of art. 4:13 is read the same way
    (the day of the event itself is never counted). N weeks starting on day S cover the days
    S .. S + 7N - 1, so the last day is event + 7N days: the same weekday as the event, N
    weeks later. An application received on Tuesday 9 January 2024 is to be decided on by
    the end of Tuesday 5 March 2024.

Algemene termijnenwet (Atw)
    A term set in a law (the decision term, the objection term, the two weeks after a notice
    of default) whose last day is a Saturday, Sunday or recognised holiday runs to the end
    of the next day that is none of these (Atw art. 1; the holidays of art. 3, Good Friday
    and the days equated by royal decree). A term the body sets itself (the information term
    of art. 4:5, the date in an extension notice under art. 4:14) is not set in a law, so it
    is never stretched. The Atw moves only the *end* of a term, so it is applied once, to the
    final last day, after suspensions have moved that day: stretching the 8-week end first
    and then adding the suspended days would count the weekend twice. (Atw art. 2, at least
    two working days in a term of three days or more, never bites on terms of weeks.)

Suspension (art. 4:15)
    An information request sent on day R with a term of T days suspends the decision term
    from R + 1 up to and including E, where E is the day the information arrives or, when it
    does not, R + T, the last day of the body's own (unstretched) term. A request therefore
    holds the clock for E - R days: T days when its term runs out unused, none when it is
    answered the same day. The clock counts running days: a suspended day moves the end
    only while the term still runs, so a request sent on or after the term's last day
    suspends nothing (and the days the Atw adds after that last day are not running days a
    request can hold). Overlapping requests suspend the union of their days, never a day
    twice. A request still unanswered counts to the end of its term, the latest moment the
    clock can resume: that deadline is provisional and moves earlier once the answer is
    recorded.

Extension notice (art. 4:14)
    Given no later than the current last day, it replaces the deadline with the date the
    body names, which the Atw does not stretch. Only requests sent after the notice suspend
    the new term: the body chose its date knowing what it had already asked for.

Notice of default and penalty (art. 4:17)
    A notice of default counts only once the deadline has passed. The body may still decide
    within two weeks after the day it received the notice (a term set in a law, so
    Atw-stretched; art. 4:17(1) excludes only the 42 days from the Atw). It is in default
    from the day after those two weeks, and forfeits a penalty for each calendar day in
    default before the day it decides, for at most 42 days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

# The calendar has a module of its own (workflows/atw.py); callers pass it to the clock, so
# the clock's API names it too.
from workflows.atw import FIRST_YEAR, KNOWN_EQUATED_DAYS, AtwCalendar, AwbError

__all__ = [
    "DEFAULT_TERMS",
    "FIRST_YEAR",
    "KNOWN_EQUATED_DAYS",
    "STATUTORY_PENALTY_TIERS",
    "AtwCalendar",
    "AwbError",
    "AwbTerms",
    "ClockState",
    "ClockStatus",
    "DateSpan",
    "DecisionDeadline",
    "ExtensionNotice",
    "InformationRequest",
    "LateExtensionError",
    "Penalty",
    "PenaltyTier",
    "PrematureNoticeError",
    "clock_status",
    "decision_deadline",
    "not_considered_deadline",
    "objection_deadline",
    "objection_in_time",
    "penalty",
    "penalty_amount",
    "penalty_starts_on",
]

ONE_DAY = timedelta(days=1)
CENT = Decimal("0.01")


class LateExtensionError(AwbError):
    """An extension notice given after the deadline it was meant to extend had passed."""


class PrematureNoticeError(AwbError):
    """A notice of default received before the decision deadline had passed."""


@dataclass(frozen=True)
class PenaltyTier:
    """A run of penalty days at one daily amount (art. 4:17(2))."""

    days: int
    per_day: Decimal


STATUTORY_PENALTY_TIERS: tuple[PenaltyTier, ...] = (
    PenaltyTier(14, Decimal("23.00")),
    PenaltyTier(14, Decimal("35.00")),
    PenaltyTier(14, Decimal("45.00")),
)


@dataclass(frozen=True)
class AwbTerms:
    """An organisation's terms; the defaults are those of the Awb."""

    decision_weeks: int = 8
    information_term_days: int = 14
    objection_weeks: int = 6
    not_considered_weeks: int = 4
    penalty_grace_weeks: int = 2
    penalty_tiers: tuple[PenaltyTier, ...] = STATUTORY_PENALTY_TIERS

    def __post_init__(self) -> None:
        for name in (
            "decision_weeks",
            "information_term_days",
            "objection_weeks",
            "not_considered_weeks",
            "penalty_grace_weeks",
        ):
            if getattr(self, name) < 1:
                raise AwbError(f"{name} must be at least 1, not {getattr(self, name)}.")
        if not self.penalty_tiers:
            raise AwbError("At least one penalty tier is needed.")
        for tier in self.penalty_tiers:
            if tier.days < 1 or tier.per_day < 0:
                raise AwbError(f"Invalid penalty tier {tier}.")

    @property
    def max_penalty_days(self) -> int:
        """Return the number of days a penalty can run (42 under the Awb)."""
        return sum(tier.days for tier in self.penalty_tiers)

    @property
    def max_penalty(self) -> Decimal:
        """Return the highest penalty that can accrue (EUR 1,442 under the Awb)."""
        return penalty_amount(self.max_penalty_days, self)


DEFAULT_TERMS = AwbTerms()


@dataclass(frozen=True)
class DateSpan:
    """The days from `first` up to and including `last`."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise AwbError(f"A span cannot end ({self.last}) before it starts ({self.first}).")

    @property
    def days(self) -> int:
        """Return the number of days in the span."""
        return (self.last - self.first).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


@dataclass(frozen=True)
class InformationRequest:
    """A request to complete the application (art. 4:5), which suspends the clock (4:15).

    `term_days` is the term the body set; None means the organisation's information term.
    `answered_on` is the day the information arrived, None while it has not.
    """

    requested_on: date
    answered_on: date | None = None
    term_days: int | None = None

    def __post_init__(self) -> None:
        if self.answered_on is not None and self.answered_on < self.requested_on:
            raise AwbError(
                f"Information cannot arrive ({self.answered_on}) before it was requested "
                f"({self.requested_on})."
            )
        if self.term_days is not None and self.term_days < 1:
            raise AwbError(f"An information term must be at least 1 day, not {self.term_days}.")

    def term_ends_on(self, terms: AwbTerms) -> date:
        """Return the last day to answer; the body's own term, so never Atw-stretched."""
        days = terms.information_term_days if self.term_days is None else self.term_days
        return self.requested_on + timedelta(days=days)

    def suspension(self, terms: AwbTerms) -> DateSpan | None:
        """Return the days this request holds the clock, or None if it holds none."""
        term_end = self.term_ends_on(terms)
        resumes_after = term_end if self.answered_on is None else min(self.answered_on, term_end)
        if resumes_after <= self.requested_on:
            return None
        return DateSpan(self.requested_on + ONE_DAY, resumes_after)


@dataclass(frozen=True)
class ExtensionNotice:
    """A notice (art. 4:14) that the decision will follow by `new_deadline`."""

    given_on: date
    new_deadline: date

    def __post_init__(self) -> None:
        if self.new_deadline <= self.given_on:
            raise AwbError(
                f"The new deadline {self.new_deadline} must lie after the notice ({self.given_on})."
            )


class ClockState(StrEnum):
    """Where a decision term stands, for the inbox."""

    RUNNING = "running"
    SUSPENDED = "suspended"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ClockStatus:
    """Calendar days left to the deadline (negative when overdue) and the clock's state."""

    state: ClockState
    days_left: int


def clock_status(today: date, deadline: date, *, suspended: bool = False) -> ClockStatus:
    """Return the inbox status of a decision term on `today`."""
    days_left = (deadline - today).days
    if suspended:
        state = ClockState.SUSPENDED
    elif days_left < 0:
        state = ClockState.OVERDUE
    else:
        state = ClockState.RUNNING
    return ClockStatus(state, days_left)


@dataclass(frozen=True)
class DecisionDeadline:
    """The last day to decide on an application, and how it came about."""

    received_on: date
    # receipt + the decision weeks: the term before any suspension, extension or Atw.
    statutory_end: date
    # After suspensions and extensions, before the Atw.
    unstretched_end: date
    deadline: date
    # Merged runs of the days that actually held the clock.
    suspensions: tuple[DateSpan, ...]
    extension: ExtensionNotice | None

    @property
    def suspended_days(self) -> int:
        """Return the number of days the clock was held."""
        return sum(span.days for span in self.suspensions)

    @property
    def stretched(self) -> bool:
        """Tell whether the Atw moved the deadline."""
        return self.deadline != self.unstretched_end

    def is_suspended_on(self, day: date) -> bool:
        """Tell whether the clock is held on `day`."""
        return any(day in span for span in self.suspensions)

    def status(self, today: date) -> ClockStatus:
        """Return the inbox status on `today`."""
        return clock_status(today, self.deadline, suspended=self.is_suspended_on(today))


def _run(start: date, running_days: int, held: frozenset[date]) -> tuple[date, list[date]]:
    """Return the day `running_days` unheld days after `start`, and the held days passed."""
    day = start
    passed: list[date] = []
    while running_days:
        day += ONE_DAY
        if day in held:
            passed.append(day)
        else:
            running_days -= 1
    return day, passed


def _held_days(requests: Iterable[InformationRequest], terms: AwbTerms) -> frozenset[date]:
    days: set[date] = set()
    for request in requests:
        span = request.suspension(terms)
        if span is not None:
            days.update(span.first + timedelta(days=n) for n in range(span.days))
    return frozenset(days)


def _spans(days: Iterable[date]) -> tuple[DateSpan, ...]:
    spans: list[DateSpan] = []
    for day in sorted(days):
        if spans and spans[-1].last + ONE_DAY == day:
            spans[-1] = DateSpan(spans[-1].first, day)
        else:
            spans.append(DateSpan(day, day))
    return tuple(spans)


@dataclass(frozen=True)
class _Term:
    """One stretch of the decision term: from `start`, `running_days` unheld days."""

    start: date
    running_days: int
    set_in_law: bool
    notice: ExtensionNotice | None


def _run_term(
    term: _Term,
    requests: Iterable[InformationRequest],
    terms: AwbTerms,
    *,
    before: date | None,
) -> tuple[date, list[date]]:
    """Return the unstretched end of `term` and the held days it passed."""
    # The statutory term is held by requests from the day of receipt; a term set in an
    # extension notice only by requests sent after the notice.
    own = [
        r
        for r in requests
        if (term.notice is None or r.requested_on > term.start)
        and (before is None or r.requested_on < before)
    ]
    return _run(term.start, term.running_days, _held_days(own, terms))


def decision_deadline(
    received_on: date,
    *,
    calendar: AtwCalendar,
    terms: AwbTerms = DEFAULT_TERMS,
    information_requests: Sequence[InformationRequest] = (),
    extensions: Sequence[ExtensionNotice] = (),
) -> DecisionDeadline:
    """Return the decision deadline of an application received on `received_on`.

    The statutory term ends `decision_weeks` after the day of receipt (same weekday), moved
    on by the days information requests held the clock, then stretched by the Atw. An
    extension notice replaces it with the body's date, not stretched. Raises
    `LateExtensionError` for a notice given after the deadline had passed and `AwbError` for
    a notice that does not move the deadline later or facts dated before the receipt.
    """
    for request in information_requests:
        if request.requested_on < received_on:
            raise AwbError(
                f"Information was requested ({request.requested_on}) before the application "
                f"was received ({received_on})."
            )
    for notice in extensions:
        if notice.given_on < received_on:
            raise AwbError(
                f"An extension notice ({notice.given_on}) cannot precede the receipt "
                f"({received_on})."
            )

    term = _Term(received_on, 7 * terms.decision_weeks, set_in_law=True, notice=None)
    held: set[date] = set()
    for notice in sorted(extensions, key=lambda n: n.given_on):
        # The deadline as it stood when the notice came: requests sent later do not count.
        end, passed = _run_term(term, information_requests, terms, before=notice.given_on)
        deadline = calendar.stretch(end) if term.set_in_law else end
        if notice.given_on > deadline:
            raise LateExtensionError(
                f"An extension notice must be given by the deadline (art. 4:14 Awb): given on "
                f"{notice.given_on}, but the deadline was {deadline}."
            )
        if notice.new_deadline <= deadline:
            raise AwbError(
                f"The new deadline {notice.new_deadline} does not extend the current deadline "
                f"{deadline}."
            )
        held.update(day for day in passed if day <= notice.given_on)
        term = _Term(
            notice.given_on,
            (notice.new_deadline - notice.given_on).days,
            set_in_law=False,
            notice=notice,
        )
    end, passed = _run_term(term, information_requests, terms, before=None)
    held.update(passed)
    return DecisionDeadline(
        received_on=received_on,
        statutory_end=received_on + timedelta(weeks=terms.decision_weeks),
        unstretched_end=end,
        deadline=calendar.stretch(end) if term.set_in_law else end,
        suspensions=_spans(held),
        extension=term.notice,
    )


def not_considered_deadline(
    request: InformationRequest, *, calendar: AtwCalendar, terms: AwbTerms = DEFAULT_TERMS
) -> date:
    """Return the last day to decide not to consider an incomplete application (art. 4:5(4)).

    Four weeks (Atw-stretched) after the day the information arrived, still incomplete, or
    after the last day of the information term when none arrived.
    """
    term_end = request.term_ends_on(terms)
    anchor = term_end if request.answered_on is None else min(request.answered_on, term_end)
    return calendar.stretch(anchor + timedelta(weeks=terms.not_considered_weeks))


@dataclass(frozen=True)
class Penalty:
    """The penalty for a late decision (art. 4:17) as of a day."""

    starts_on: date
    days: int
    amount: Decimal
    # True once the last possible penalty day has passed.
    capped: bool


def penalty_starts_on(
    notice_received_on: date, *, calendar: AtwCalendar, terms: AwbTerms = DEFAULT_TERMS
) -> date:
    """Return the first day the body is in default after receiving a notice of default."""
    grace_ends = calendar.stretch(notice_received_on + timedelta(weeks=terms.penalty_grace_weeks))
    return grace_ends + ONE_DAY


def penalty_amount(days: int, terms: AwbTerms = DEFAULT_TERMS) -> Decimal:
    """Return the penalty for `days` days in default, tier by tier, capped at the last tier."""
    if days < 0:
        raise AwbError(f"Days in default cannot be negative ({days}).")
    amount = Decimal("0")
    left = days
    for tier in terms.penalty_tiers:
        counted = min(left, tier.days)
        amount += counted * tier.per_day
        left -= counted
    return amount.quantize(CENT)


def penalty(
    *,
    deadline: date,
    notice_received_on: date,
    as_of: date,
    calendar: AtwCalendar,
    decided_on: date | None = None,
    terms: AwbTerms = DEFAULT_TERMS,
) -> Penalty:
    """Return the penalty accrued up to and including `as_of`.

    Each day from the start of default counts until the day of the decision (not itself a
    day in default), at most `terms.max_penalty_days`. Raises `PrematureNoticeError` when
    the notice was received on or before `deadline`, as it then has no effect.
    """
    if notice_received_on <= deadline:
        raise PrematureNoticeError(
            f"A notice of default counts only after the deadline has passed (art. 4:17 Awb): "
            f"received on {notice_received_on}, deadline {deadline}."
        )
    starts_on = penalty_starts_on(notice_received_on, calendar=calendar, terms=terms)
    last_day = as_of if decided_on is None else min(as_of, decided_on - ONE_DAY)
    days = max(0, min((last_day - starts_on).days + 1, terms.max_penalty_days))
    return Penalty(
        starts_on=starts_on,
        days=days,
        amount=penalty_amount(days, terms),
        capped=days == terms.max_penalty_days,
    )


def objection_deadline(
    sent_on: date, *, calendar: AtwCalendar, terms: AwbTerms = DEFAULT_TERMS
) -> date:
    """Return the last day to object to a decision sent on `sent_on` (art. 6:7/6:8 Awb)."""
    return calendar.stretch(sent_on + timedelta(weeks=terms.objection_weeks))


def objection_in_time(
    sent_on: date,
    received_on: date,
    *,
    calendar: AtwCalendar,
    posted_on: date | None = None,
    terms: AwbTerms = DEFAULT_TERMS,
) -> bool:
    """Tell whether an objection received on `received_on` is in time (art. 6:9 Awb).

    In time if received by the last day, or, sent by post (`posted_on`), if posted by the
    last day and received within a week after it (a term set in a law, so Atw-stretched).
    An objection received early is not late: art. 6:10 deals with it, not this function.
    Excusable lateness (art. 6:11) is a judgement for the body, not for the clock.
    """
    last_day = objection_deadline(sent_on, calendar=calendar, terms=terms)
    if received_on <= last_day:
        return True
    return (
        posted_on is not None
        and posted_on <= last_day
        and received_on <= calendar.stretch(last_day + timedelta(weeks=1))
    )
