"""The deadline watch: what the Awb clock asks of the organisations each working day.

Run once a working day by Celery beat (workers.tasks.watch_deadlines), for every
organisation at once:

- warn a claim's assessor that its decision deadline is near;
- flag a claim whose deadline has passed to the organisation's administrators;
- turn a claim whose information term ran out unanswered into a not-considered proposal
  for the decider (art. 4:5 Awb);
- record that the objection term of a decided claim has ended (art. 6:7 Awb);
- warn the deciders that the decision on a lodged objection is near (art. 7:10 Awb), and
  flag one that is overdue to the administrators, as a claim's own deadline.

Exactly once, however often it runs: every effect is keyed (a notification per claim,
deadline and recipient) or guarded by state (a claim moves out of awaiting_info once; a
term is closed once), so a second run the same day, or a second beat running beside the
first, changes nothing. Each claim is its own transaction: a failing claim is rolled
back and logged and the watch goes on with the next, and no claim row or audit chain
stays locked longer than its own few statements, so people keep working while it runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Exists, Select, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.base import record_act
from housing.claims.models import Claim, Decision, Objection
from housing.claims.notices import NotificationKind, Notifier, staff_of
from housing.claims.objections import decision_due_on
from housing.claims.states import APPLICATION_DECISION_KINDS
from housing.claims.terms import objection_deadline, open_information_request
from housing.claims.workflow import WorkflowService
from housing.clock import AMSTERDAM, today, utcnow
from housing.db import DbSession
from housing.deadlines.services import atw_calendar
from housing.logging import get_logger
from housing.roles import Role
from housing.scoping import Scope
from workflows.awb import AtwCalendar
from workflows.claim import ClaimEvent, ClaimState
from workflows.objection import OPEN_STATES as OPEN_OBJECTION_STATES
from workflows.objection import ObjectionState

log = get_logger(__name__)

DEFAULT_WARNING_WORKING_DAYS = 5
OBJECTION_TERM_ENDED = "objection_term_ended"

# Open claims whose decision clock runs. Not awaiting_info: its clock is suspended, and
# its deadline is provisional (it counts the whole information term).
WARNING_STATES = (
    ClaimState.SUBMITTED,
    ClaimState.IN_ASSESSMENT,
    ClaimState.AWAITING_ADVICE,
    ClaimState.DECISION_PROPOSED,
)
# A claim awaiting information can still be late: a request sent after the deadline
# suspends nothing.
OVERDUE_STATES = (*WARNING_STATES, ClaimState.AWAITING_INFO)
# Decided: an objection term runs from the decision.
DECIDED_STATES = (
    ClaimState.REFUSED,
    ClaimState.GRANTED,
    ClaimState.IN_PAYMENT,
    ClaimState.SETTLED,
    ClaimState.NOT_CONSIDERED,
)


@dataclass
class WatchReport:
    """What one run did; each count is of claims acted on for the first time."""

    day: dt.date
    skipped: bool = False  # not an Atw working day, and not forced
    warned: int = 0  # claims (objections) whose assessors (deciders) were warned
    flagged: int = 0  # overdue claims and objections flagged to the administrators
    expired: int = 0  # information terms ended: now a not-considered proposal
    objection_terms_closed: int = 0
    failed: int = 0  # claims rolled back and logged; the next run tries them again

    def as_dict(self) -> dict[str, object]:
        """JSON-safe, for a Celery result."""
        return {**asdict(self), "day": self.day.isoformat()}


class DeadlineWatch:
    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime] = utcnow,
        warning_working_days: int = DEFAULT_WARNING_WORKING_DAYS,
    ) -> None:
        if warning_working_days < 0:
            raise ValueError(f"warning_working_days cannot be negative ({warning_working_days})")
        self.session = session
        self.clock = clock
        self.warning_working_days = warning_working_days

    def today(self) -> dt.date:
        return today(self.clock)

    def run(self, today: dt.date | None = None, *, force: bool = False) -> WatchReport:
        """Act for `today` (default: the clock's day in Amsterdam) in every organisation.

        Skips a day that is no Atw working day (weekends, holidays, equated days) unless
        `force`: nobody works then, and whatever fell due is caught on the next working
        day, because every check asks "has it passed", never "is it today".
        """
        day = today or self.today()
        calendar = atw_calendar(self.session)
        report = WatchReport(day=day)
        if not force and not calendar.is_working_day(day):
            report.skipped = True
            self.session.commit()  # ends the read transaction; nothing was written
            log.info("deadline_watch.skipped", **report.as_dict())
            return report
        run = _Run(self.session, self._clock_for(day), day, calendar, report)
        # Expire first: a claim that becomes a proposal today is warned on today's facts.
        run.expire_information_terms()
        run.close_objection_terms()
        run.warn_and_flag(self.warning_working_days)
        run.warn_and_flag_objections(self.warning_working_days)
        log.info("deadline_watch.done", **report.as_dict())
        return report

    def _clock_for(self, day: dt.date) -> Callable[[], dt.datetime]:
        """The clock the claim rules judge by: the real one, or one set on `day`.

        The workflow's guards read "today" from the service's clock; a run for another day
        (a test, a replay by hand) must not be judged by a different one, so its effects
        are then dated at noon on that day. Beat never passes a day.
        """
        if self.today() == day:
            return self.clock
        pinned = dt.datetime.combine(day, dt.time(12), tzinfo=AMSTERDAM).astimezone(dt.UTC)
        return lambda: pinned


class _Run:
    """One run: the day, the calendar and the report it fills in."""

    def __init__(
        self,
        session: DbSession,
        clock: Callable[[], dt.datetime],
        day: dt.date,
        calendar: AtwCalendar,
        report: WatchReport,
    ) -> None:
        self.session = session
        self.day = day
        self.calendar = calendar
        self.report = report
        self.workflow = WorkflowService(session, clock=clock)
        self.notifier = Notifier(session, clock)
        self.audit = AuditTrail(session, clock)

    # --- one claim, one transaction ------------------------------------------------
    def _each(
        self, action: str, claim_ids: Iterable[int], work: Callable[[int], str | None]
    ) -> None:
        """Do `work` for each claim in a transaction of its own. `work` names the count
        in the report it added to, or None when there was nothing (more) to do."""
        for claim_id in claim_ids:
            try:
                counted = work(claim_id)
                self.session.commit()
            except Exception:  # any failure of one claim: roll it back, go on with the rest
                self.session.rollback()
                self.report.failed += 1
                log.exception("deadline_watch.claim_failed", action=action, claim_id=claim_id)
                continue
            if counted is not None:
                setattr(self.report, counted, getattr(self.report, counted) + 1)

    def _ids(self, statement: Select[int]) -> list[int]:
        # Ids, not objects: each claim is read again, locked, in its own transaction.
        ids = list(self.session.scalars(statement))
        self.session.commit()
        return ids

    def _locked(self, claim_id: int) -> Claim | None:
        """The claim, row-locked until this claim's commit: a second watch waits here and
        then finds the work done."""
        return Scope.system_scope().find_for_update(self.session, Claim, claim_id)

    # --- c. information terms that ran out ------------------------------------------
    def expire_information_terms(self) -> None:
        ids = self._ids(
            select(Claim.id)
            .where(Claim.state == ClaimState.AWAITING_INFO)
            .order_by(Claim.organisation_id, Claim.id)
        )
        self._each(ClaimEvent.INFO_TERM_EXPIRED.value, ids, self._expire)

    def _expire(self, claim_id: int) -> str | None:
        claim = self._locked(claim_id)
        if claim is None or claim.state != ClaimState.AWAITING_INFO:
            return None  # answered, withdrawn, or another run got there first
        request = open_information_request(self.session, claim)
        if request is None:
            return None
        # The body's own term (art. 4:5): its last day is requested_on + term_days, not
        # stretched by the Atw; it has ended once that day is past.
        ended_on = request.requested_on + dt.timedelta(days=request.term_days)
        if not ended_on < self.day:
            return None
        self.workflow.fire(
            Scope.system_scope(),
            None,
            claim.id,
            ClaimEvent.INFO_TERM_EXPIRED.value,
            details={"information_request_id": request.id, "term_ended_on": ended_on},
        )
        return "expired"

    # --- d. objection terms that ended ------------------------------------------------
    def close_objection_terms(self) -> None:
        ids = self._ids(
            select(Claim.id)
            .where(
                Claim.state.in_([s.value for s in DECIDED_STATES]),
                ~_term_closed(Claim.id),
                ~_objection_open(Claim.id),
            )
            .order_by(Claim.organisation_id, Claim.id)
        )
        self._each(OBJECTION_TERM_ENDED, ids, self._close)

    def _close(self, claim_id: int) -> str | None:
        claim = self._locked(claim_id)
        if claim is None or claim.state not in {s.value for s in DECIDED_STATES}:
            return None
        # Asked again under the lock: a second watch that waited finds the event now (and
        # an objection lodged meanwhile, which locks the claim too, is seen).
        if self.session.scalar(select(_term_closed(claim.id) | _objection_open(claim.id))):
            return None
        last_day = objection_deadline(self.session, claim)
        if last_day is None or not last_day < self.day:
            return None  # no decision sent, or the term still runs
        record_act(
            self.audit,
            claim,
            OBJECTION_TERM_ENDED,
            actor_id=None,
            payload={"ended_on": last_day},
        )
        return "objection_terms_closed"

    # --- a. and b. near and passed deadlines ---------------------------------------------
    def warn_and_flag(self, warning_working_days: int) -> None:
        horizon = self.calendar.add_working_days(self.day, warning_working_days)
        ids = self._ids(
            select(Claim.id)
            .where(
                Claim.state.in_([s.value for s in OVERDUE_STATES]),
                Claim.decision_deadline.is_not(None),
                # The application's deadline is near or past, or the claim is open again
                # after an objection and the objection's deadline applies (see below).
                or_(Claim.decision_deadline <= horizon, _application_decided(Claim.id)),
            )
            .order_by(Claim.organisation_id, Claim.id)
        )
        self._each("deadline", ids, lambda claim_id: self._warn_or_flag(claim_id, horizon))

    def current_deadline(self, claim: Claim) -> dt.date | None:
        """The deadline the body is working to now.

        Before the application is decided, the decision deadline (suspensions, extension
        and Atw included). After it, the claim is open again only because an objection
        against its decision was upheld: the application's deadline was met, and the new
        decision belongs to the decision on the objection, due six weeks after the
        objection term ended (art. 7:10 Awb, Atw-stretched: a term set in a law).
        """
        if not self.session.scalar(select(_application_decided(claim.id))):
            return claim.decision_deadline
        upheld = self.session.scalars(
            select(Objection)
            .where(Objection.claim_id == claim.id, Objection.state == ObjectionState.UPHELD)
            .order_by(Objection.id.desc())
            .limit(1)
        ).one_or_none()
        if upheld is None:
            return claim.decision_deadline
        return decision_due_on(upheld, self.calendar)

    def _warn_or_flag(self, claim_id: int, horizon: dt.date) -> str | None:
        claim = self.session.get(Claim, claim_id, populate_existing=True)
        if claim is None or claim.state not in {s.value for s in OVERDUE_STATES}:
            return None
        deadline = self.current_deadline(claim)
        if deadline is None:
            return None
        if deadline < self.day:
            kind, recipients, counted = (
                NotificationKind.CLAIM_OVERDUE,
                self._staff(claim, Role.ADMIN),
                "flagged",
            )
        elif deadline <= horizon and claim.state != ClaimState.AWAITING_INFO:
            kind, recipients, counted = (
                NotificationKind.DEADLINE_WARNING,
                self._assessors(claim),
                "warned",
            )
        else:
            return None
        # Keyed by claim and deadline: once per deadline, and again after an extension
        # (or once the objection's deadline applies), as that is a new deadline.
        return self._tell(
            kind, recipients, claim, deadline, counted, key=f"{claim.id}:{deadline.isoformat()}"
        )

    # --- e. decisions on objections near or past their deadline ---------------------------
    def warn_and_flag_objections(self, warning_working_days: int) -> None:
        horizon = self.calendar.add_working_days(self.day, warning_working_days)
        ids = self._ids(
            select(Objection.id)
            .where(Objection.state.in_([s.value for s in OPEN_OBJECTION_STATES]))
            .order_by(Objection.organisation_id, Objection.id)
        )
        self._each("objection_deadline", ids, lambda ident: self._objection_due(ident, horizon))

    def _objection_due(self, objection_id: int, horizon: dt.date) -> str | None:
        objection = self.session.get(Objection, objection_id, populate_existing=True)
        if objection is None or objection.state not in {s.value for s in OPEN_OBJECTION_STATES}:
            return None
        deadline = decision_due_on(objection, self.calendar)
        claim = objection.claim
        if deadline < self.day:
            kind, role, counted = NotificationKind.CLAIM_OVERDUE, Role.ADMIN, "flagged"
        elif deadline <= horizon:
            kind, role, counted = NotificationKind.DEADLINE_WARNING, Role.DECIDER, "warned"
        else:
            return None
        return self._tell(
            kind,
            self._staff(claim, role),
            claim,
            deadline,
            counted,
            key=f"objection:{objection.id}:{deadline.isoformat()}",
        )

    def _tell(
        self,
        kind: NotificationKind,
        recipients: list[User],
        claim: Claim,
        deadline: dt.date,
        counted: str,
        *,
        key: str,
    ) -> str | None:
        """Notify `recipients` once per `key`; `counted` when queued, None when not."""
        if not recipients:
            log.warning(
                "deadline_watch.nobody_to_tell",
                kind=kind.value,
                event_key=key,
                organisation_id=claim.organisation_id,
            )
            return None
        queued = self.notifier.notify(
            kind,
            recipients=recipients,
            organisation_id=claim.organisation_id,
            event_key=key,
            claim=claim,
            on_date=deadline,
        )
        return counted if queued else None

    # --- who is told -----------------------------------------------------------------
    def _assessors(self, claim: Claim) -> list[User]:
        """The claim's own assessor; before anyone took it (or once they left), all of
        the organisation's assessors."""
        if claim.assessor_id is not None:
            assessor = self.session.get(User, claim.assessor_id)
            if assessor is not None and assessor.active:
                return [assessor]
        return self._staff(claim, Role.ASSESSOR)

    def _staff(self, claim: Claim, role: Role) -> list[User]:
        return staff_of(self.session, claim, role)


def _term_closed(claim_id: InstrumentedAttribute[int] | int) -> Exists:
    return exists().where(AuditEvent.claim_id == claim_id, AuditEvent.event == OBJECTION_TERM_ENDED)


def _objection_open(claim_id: InstrumentedAttribute[int] | int) -> Exists:
    """An objection is being heard: the decision it is against is not final yet."""
    return exists().where(
        Objection.claim_id == claim_id,
        Objection.state.in_([s.value for s in OPEN_OBJECTION_STATES]),
    )


def _application_decided(claim_id: InstrumentedAttribute[int] | int) -> Exists:
    return exists().where(
        Decision.claim_id == claim_id, Decision.kind.in_(APPLICATION_DECISION_KINDS)
    )
