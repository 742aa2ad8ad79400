"""The deadline watch: warnings, overdue flags, expired information terms and ended
objection terms, each once, on Atw working days only; and its task in a real worker."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, payload_digest
from housing.claims import watch as watch_module
from housing.claims.documents import DocumentStore
from housing.claims.models import Claim, Objection
from housing.claims.objections import ObjectionService
from housing.claims.watch import DeadlineWatch, WatchReport
from housing.claims.workflow import WorkflowService
from housing.config import Settings
from housing.db import db
from housing.outbox.models import OutboxMessage
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.objections import decision_of
from tests.conftest import REDIS_URL, RUN_ID, celery_on_redis
from tests.factories import UserFactory
from workers import beat_schedule, celery_init_app

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(day: dt.date) -> dt.datetime:
    """10:00 or 11:00 in Amsterdam on `day`."""
    return dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)


def run(world: World, day: dt.date, **options) -> WatchReport:
    """The watch on `day`, by the world's clock (as beat would run it that morning)."""
    world.clock.now = at(day)
    days = options.pop("warning_working_days", 5)
    return DeadlineWatch(world.session, clock=world.clock, warning_working_days=days).run(**options)


def keys(session: Session, kind: str) -> set[str]:
    return set(
        session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.like(f"notify:{kind}:%")))
    )


def warning(claim: Claim, deadline: dt.date, user) -> str:
    return f"notify:deadline_warning:{claim.id}:{deadline.isoformat()}:{user.id}"


def overdue(claim: Claim, deadline: dt.date, user) -> str:
    return f"notify:claim_overdue:{claim.id}:{deadline.isoformat()}:{user.id}"


def events(session: Session, claim: Claim, event: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.claim_id == claim.id, AuditEvent.event == event)
            .order_by(AuditEvent.sequence)
        )
    )


def totals(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(OutboxMessage)),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def counts(report: WatchReport) -> dict[str, int]:
    return {
        name: getattr(report, name)
        for name in ("warned", "flagged", "expired", "objection_terms_closed", "failed")
    }


NOTHING = {"warned": 0, "flagged": 0, "expired": 0, "objection_terms_closed": 0, "failed": 0}


@pytest.fixture
def world(session, tmp_path):
    world = World(session)
    world.documents = DocumentStore(tmp_path / "documents")
    world.admin = UserFactory(organisation=world.org, roles={Role.ADMIN})
    return world


def assessed(world: World) -> Claim:
    """Submitted Monday 2 March 2026 and taken by `world.assessor`; due Tue 28 April
    (eight weeks end on King's Day, Monday 27 April, so the Atw moves it a day)."""
    world.clock.now = at(dt.date(2026, 3, 2))
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    assert claim.decision_deadline == dt.date(2026, 4, 28)
    return claim


def refused(world: World, on: dt.date) -> Claim:
    world.clock.now = at(on)
    claim = world.proposed()
    for line in claim.lines:
        line.granted_amount = Decimal("0.00")
    world.session.commit()
    world.fire(world.decider, claim, "refuse", reason="Niet geadviseerd")
    return claim


# --- a. warnings --------------------------------------------------------------------------


def test_the_assessor_is_warned_five_working_days_ahead_counted_past_a_weekend_and_kings_day(
    world, session
):
    claim = assessed(world)
    # Friday 17 April: 20-24 April are five working days; 28 April is the sixth.
    assert counts(run(world, dt.date(2026, 4, 17))) == NOTHING
    assert keys(session, "deadline_warning") == set()
    # Monday 20 April: 21, 22, 23, 24 and (past the weekend and King's Day) 28 April.
    report = run(world, dt.date(2026, 4, 20))
    assert counts(report) == {**NOTHING, "warned": 1}
    assert keys(session, "deadline_warning") == {
        warning(claim, dt.date(2026, 4, 28), world.assessor)
    }
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.key.like("notify:deadline_warning:%"))
    ).one()
    assert message.payload == {
        "kind": "deadline_warning",
        "user_id": world.assessor.id,
        "claim_id": claim.id,
        "on_date": "2026-04-28",
    }
    assert message.organisation_id == world.org.id
    # The next days warn no more: once per deadline.
    before = totals(session)
    assert counts(run(world, dt.date(2026, 4, 20))) == NOTHING
    assert counts(run(world, dt.date(2026, 4, 21))) == NOTHING
    assert totals(session) == before


def test_a_claim_nobody_took_warns_every_active_assessor_but_not_one_awaiting_information(
    world, session
):
    UserFactory(organisation=world.org, roles={Role.ASSESSOR}, active=False)  # not told
    waiting = assessed(world)
    world.clock.now = at(dt.date(2026, 3, 2))
    untaken = world.draft()
    world.fire(world.applicant, untaken, "submit")
    # Monday 20 April: three days to send information; the clock stops 21-23 April, so
    # the eight weeks (ending on King's Day before the Atw) end on Thursday 30 April.
    world.clock.now = at(dt.date(2026, 4, 20))
    world.fire(
        world.assessor, waiting, "request_info", details={"question": "Offerte?", "term_days": 3}
    )
    assert waiting.decision_deadline == dt.date(2026, 4, 30)

    # Thursday 23 April: 30 April is within five working days, but the clock is suspended.
    assert counts(run(world, dt.date(2026, 4, 23))) == {**NOTHING, "warned": 1}
    everyone = {world.assessor, world.assessor2, world.both}  # `both` assesses and decides
    assert keys(session, "deadline_warning") == {
        warning(untaken, dt.date(2026, 4, 28), user) for user in everyone
    }
    assert waiting.state == "awaiting_info"

    # Friday 24 April the term has ended: the claim becomes a proposal, and on the facts
    # of that same morning its assessor is warned of 30 April.
    report = run(world, dt.date(2026, 4, 24))
    assert counts(report) == {**NOTHING, "expired": 1, "warned": 1}
    session.refresh(waiting)
    assert waiting.state == "decision_proposed"
    assert warning(waiting, dt.date(2026, 4, 30), world.assessor) in keys(
        session, "deadline_warning"
    )


def test_an_extension_is_a_new_deadline_and_warns_again(world, session):
    claim = assessed(world)
    run(world, dt.date(2026, 4, 20))
    world.clock.now = at(dt.date(2026, 4, 21))
    world.workflow.notify_extension(
        world.scope(world.assessor),
        world.assessor,
        claim.id,
        new_deadline=dt.date(2026, 4, 29),
        reason="Het advies van BZK volgt later.",
    )
    session.commit()
    # From Tuesday 21 April, the fifth working day is Wednesday 29 April.
    assert counts(run(world, dt.date(2026, 4, 21))) == {**NOTHING, "warned": 1}
    assert keys(session, "deadline_warning") == {
        warning(claim, dt.date(2026, 4, 28), world.assessor),
        warning(claim, dt.date(2026, 4, 29), world.assessor),
    }


# --- b. overdue ---------------------------------------------------------------------------


def test_an_overdue_claim_is_flagged_once_to_its_own_organisations_active_admins(world, session):
    claim = assessed(world)
    world.clock.now = at(dt.date(2026, 3, 2))
    closed = world.draft()
    world.fire(world.applicant, closed, "submit")
    world.fire(world.applicant, closed, "withdraw")
    UserFactory(organisation=world.org, roles={Role.ADMIN}, active=False)
    other = World(session, name="Gemeente Elders")
    other.admin = UserFactory(organisation=other.org, roles={Role.ADMIN})
    elsewhere = assessed(other)

    # Wednesday 29 April: both claims' 28 April has passed.
    report = run(world, dt.date(2026, 4, 29))
    assert counts(report) == {**NOTHING, "flagged": 2}
    assert keys(session, "claim_overdue") == {
        overdue(claim, dt.date(2026, 4, 28), world.admin),
        overdue(elsewhere, dt.date(2026, 4, 28), other.admin),
    }
    assert keys(session, "deadline_warning") == set()  # past, not near
    # Once per deadline: the next days flag nothing new.
    before = totals(session)
    assert counts(run(world, dt.date(2026, 4, 29))) == NOTHING
    assert counts(run(world, dt.date(2026, 4, 30))) == NOTHING
    assert totals(session) == before


def lodge_objection(world: World, claim: Claim, on: dt.date) -> Objection:
    world.clock.now = at(on)
    objection = ObjectionService(world.session, clock=world.clock).lodge(
        Scope.for_user(world.applicant),
        world.applicant,
        claim.id,
        decision_id=decision_of(world.session, claim).id,
        grounds="Oneens",
    )
    world.session.commit()
    return objection


def test_a_lodged_objection_is_watched_against_its_decision_term(world, session):
    """Art. 7:10 Awb: six weeks after the objection term ended; the deciders are warned,
    the administrators told once it has passed, once per deadline."""
    claim = refused(world, dt.date(2026, 3, 2))
    objection = lodge_objection(world, claim, dt.date(2026, 4, 13))
    assert claim.state == "refused"

    assert counts(run(world, dt.date(2026, 4, 29))) == NOTHING
    # The objection term ended Monday 13 April; six weeks later is Whit Monday 25 May,
    # so the decision on the objection is due Tuesday 26 May.
    assert counts(run(world, dt.date(2026, 5, 18))) == {**NOTHING, "warned": 1}
    due = "2026-05-26"
    deciders = (world.decider, world.both)
    assert keys(session, "deadline_warning") == {
        f"notify:deadline_warning:objection:{objection.id}:{due}:{user.id}" for user in deciders
    }
    assert counts(run(world, dt.date(2026, 5, 19))) == NOTHING  # once per deadline
    assert counts(run(world, dt.date(2026, 5, 27))) == {**NOTHING, "flagged": 1}
    assert keys(session, "claim_overdue") == {
        f"notify:claim_overdue:objection:{objection.id}:{due}:{world.admin.id}"
    }
    assert counts(run(world, dt.date(2026, 5, 28))) == NOTHING


def test_a_decided_objection_is_no_longer_watched(world, session):
    claim = refused(world, dt.date(2026, 3, 2))
    objection = lodge_objection(world, claim, dt.date(2026, 4, 13))
    ObjectionService(session, clock=world.clock).decide(
        Scope.for_user(world.decider),
        world.decider,
        claim.id,
        objection.id,
        outcome="rejected",
        reasons="Ongegrond.",
    )
    session.commit()
    report = counts(run(world, dt.date(2026, 5, 27)))
    assert report["warned"] == 0 and report["flagged"] == 0
    assert keys(session, "claim_overdue") == set()


def test_a_claim_reopened_by_an_upheld_objection_works_to_the_objections_deadline(world, session):
    """The application's deadline was met; the new decision belongs to the decision on
    the objection (art. 7:10 and 7:11 Awb)."""
    claim = refused(world, dt.date(2026, 3, 2))
    objection = lodge_objection(world, claim, dt.date(2026, 4, 13))
    world.clock.now = at(dt.date(2026, 5, 4))
    ObjectionService(session, clock=world.clock).decide(
        Scope.for_user(world.decider),
        world.decider,
        claim.id,
        objection.id,
        outcome="upheld",
        reasons="Gegrond.",
    )
    session.commit()
    session.refresh(claim)
    assert claim.state == "in_assessment" and claim.decision_deadline < dt.date(2026, 5, 4)
    assert counts(run(world, dt.date(2026, 5, 5))) == NOTHING  # not overdue
    assert counts(run(world, dt.date(2026, 5, 18))) == {**NOTHING, "warned": 1}
    assert keys(session, "deadline_warning") == {
        warning(claim, dt.date(2026, 5, 26), world.assessor)
    }


# --- c. information terms -----------------------------------------------------------------


def test_an_information_term_that_ran_out_becomes_a_not_considered_proposal_once(world, session):
    claim = assessed(world)
    world.fire(world.assessor, claim, "request_info", details={"question": "Offerte?"})
    answered = assessed(world)
    world.fire(world.assessor, answered, "request_info", details={"question": "Foto's?"})
    world.clock.now = at(dt.date(2026, 3, 10))
    world.fire(world.applicant, answered, "provide_info", details={"answer": "Bijgevoegd"})

    # Asked Monday 2 March with 14 days: the term runs to Monday 16 March inclusive.
    assert counts(run(world, dt.date(2026, 3, 16))) == NOTHING
    session.refresh(claim)
    assert claim.state == "awaiting_info"

    report = run(world, dt.date(2026, 3, 17))
    assert counts(report) == {**NOTHING, "expired": 1}
    session.refresh(claim)
    assert claim.state == "decision_proposed"
    assert claim.proposed_by_id is None  # the system's proposal: any decider may take it
    (expired,) = events(session, claim, "info_term_expired")
    assert expired.actor_id is None
    assert (expired.from_state, expired.to_state) == ("awaiting_info", "decision_proposed")
    session.refresh(answered)
    assert answered.state == "in_assessment"

    assert counts(run(world, dt.date(2026, 3, 17))) == NOTHING
    assert counts(run(world, dt.date(2026, 3, 18))) == NOTHING
    assert len(events(session, claim, "info_term_expired")) == 1
    assert AuditTrail(session).verify(world.org.id).intact


def test_one_claim_failing_does_not_stop_the_others_and_is_rolled_back(world, session, monkeypatch):
    first, second = assessed(world), assessed(world)
    for claim in (first, second):
        world.fire(world.assessor, claim, "request_info", details={"question": "Offerte?"})
    original = WorkflowService.fire

    def fire_then_fail(self, scope, user, claim_id, event, **kwargs):
        fired = original(self, scope, user, claim_id, event, **kwargs)
        if claim_id == first.id:
            raise RuntimeError("the disk is full")  # after the state change and its audit
        return fired

    logged: list[tuple[str, dict]] = []
    monkeypatch.setattr(WorkflowService, "fire", fire_then_fail)
    monkeypatch.setattr(
        watch_module,
        "log",
        SimpleNamespace(
            exception=lambda event, **kw: logged.append((event, kw)),
            info=lambda *a, **kw: None,
            warning=lambda *a, **kw: None,
        ),
    )
    report = run(world, dt.date(2026, 3, 17))
    assert counts(report) == {**NOTHING, "expired": 1, "failed": 1}
    assert logged == [
        ("deadline_watch.claim_failed", {"action": "info_term_expired", "claim_id": first.id})
    ]
    session.refresh(first)
    session.refresh(second)
    assert (first.state, second.state) == ("awaiting_info", "decision_proposed")
    assert events(session, first, "info_term_expired") == []  # rolled back with the state
    assert AuditTrail(session).verify(world.org.id).intact

    monkeypatch.setattr(WorkflowService, "fire", original)
    assert counts(run(world, dt.date(2026, 3, 18))) == {**NOTHING, "expired": 1}
    session.refresh(first)
    assert first.state == "decision_proposed"


# --- d. objection terms -------------------------------------------------------------------


def test_an_ended_objection_term_is_recorded_once_but_not_while_an_objection_runs(world, session):
    claim = refused(world, dt.date(2026, 3, 2))
    objected = refused(world, dt.date(2026, 3, 2))
    lodge_objection(world, objected, dt.date(2026, 4, 13))

    # Sent Monday 2 March: the six weeks end Monday 13 April, the last day to object.
    assert counts(run(world, dt.date(2026, 4, 13))) == NOTHING
    report = run(world, dt.date(2026, 4, 14))
    assert counts(report) == {**NOTHING, "objection_terms_closed": 1}
    (ended,) = events(session, claim, "objection_term_ended")
    assert ended.actor_id is None
    assert (ended.from_state, ended.to_state) == ("refused", "refused")
    assert ended.payload_hash == payload_digest({"ended_on": dt.date(2026, 4, 13)})
    assert events(session, objected, "objection_term_ended") == []

    before = totals(session)
    assert counts(run(world, dt.date(2026, 4, 14))) == NOTHING
    assert counts(run(world, dt.date(2026, 4, 15))) == NOTHING
    assert totals(session) == before
    assert AuditTrail(session).verify(world.org.id).intact


# --- working days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 4, 25),  # Saturday
        dt.date(2026, 4, 26),  # Sunday
        dt.date(2026, 4, 27),  # King's Day
        dt.date(2026, 5, 5),  # Liberation Day, every year under the Atw
        dt.date(2026, 5, 15),  # the Friday after Ascension, equated by royal decree
    ],
)
def test_no_working_day_no_watch_unless_forced(world, session, day):
    claim = assessed(world)
    world.fire(world.assessor, claim, "request_info", details={"question": "Offerte?"})
    before = totals(session)
    report = run(world, day)
    assert report.skipped and counts(report) == NOTHING
    assert totals(session) == before
    session.refresh(claim)
    assert claim.state == "awaiting_info"

    forced = run(world, day, force=True)
    assert not forced.skipped and forced.expired == 1
    session.refresh(claim)
    assert claim.state == "decision_proposed"


def test_the_report_is_plain_json_for_the_task_result():
    report = WatchReport(day=dt.date(2026, 4, 20), warned=2)
    assert report.as_dict() == {
        "day": "2026-04-20",
        "skipped": False,
        "warned": 2,
        "flagged": 0,
        "expired": 0,
        "objection_terms_closed": 0,
        "failed": 0,
    }


# --- for real: committed rows, two watches at once, a worker, two beats -----------------


@pytest.fixture
def committed(committed_worlds, tmp_path):
    """Worlds whose rows are really committed, each with an administrator."""

    def with_admin(world):
        world.documents = DocumentStore(tmp_path / "documents")
        world.admin = UserFactory(organisation=world.org, roles={Role.ADMIN})

    return lambda name: committed_worlds(name, with_admin)


def test_two_watches_at_once_act_once(app, committed):
    """Two beats that both fire at 07:00 (RedBeat's lock aside): each effect happens once."""
    world = committed("Gemeente Dubbel")
    warned = assessed(world)  # due 28 April
    expiring = assessed(world)
    world.fire(world.assessor, expiring, "request_info", details={"question": "Offerte?"})
    closing = refused(world, dt.date(2026, 3, 2))  # its objection term ended 13 April
    world.session.close()
    with app.app_context():
        engine = db.engine
    barrier = threading.Barrier(2)
    reports: list[WatchReport] = []
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            with Session(engine) as own:
                barrier.wait(timeout=10)
                day = dt.date(2026, 4, 21)
                reports.append(DeadlineWatch(own, clock=lambda: at(day)).run())
        except BaseException as exc:  # a thread's failure is asserted below
            errors.append(exc)

    threads = [threading.Thread(target=watch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(reports) == 2
    total = {name: sum(counts(r)[name] for r in reports) for name in NOTHING}
    assert total == {**NOTHING, "warned": 1, "expired": 1, "objection_terms_closed": 1}
    with Session(engine) as check:
        assert keys(check, "deadline_warning") >= {
            warning(warned, dt.date(2026, 4, 28), world.assessor)
        }
        assert check.get(Claim, expiring.id).state == "decision_proposed"
        assert len(events(check, expiring, "info_term_expired")) == 1
        assert len(events(check, closing, "objection_term_ended")) == 1
        assert AuditTrail(check).verify(world.org.id).intact


@pytest.fixture
def celery_app(app, monkeypatch):  # overrides celery.contrib.pytest's own app with ours
    # This run's own RedBeat keys, so nothing else on this Redis meets them.
    return celery_on_redis(app, monkeypatch, "watch", redbeat_key_prefix=f"test-{RUN_ID}:redbeat:")


@pytest.fixture
def celery_includes():
    return ["celery.contrib.testing.tasks", "workers.tasks"]


@pytest.mark.celery
def test_the_task_runs_the_watch_in_a_real_worker_and_twice_changes_nothing(
    app, committed, celery_app, celery_worker
):
    from workers.tasks import watch_deadlines

    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(AMSTERDAM).date()
    world = committed("Gemeente Wacht")

    def on(days_ago: int) -> None:
        world.clock.now = now - dt.timedelta(days=days_ago)

    on(0)
    near = world.draft()
    world.fire(world.applicant, near, "submit")
    world.fire(world.assessor, near, "start_assessment")
    # Today is its last day: within any warning horizon, and not yet overdue.
    world.session.execute(update(Claim).where(Claim.id == near.id).values(decision_deadline=today))
    world.session.commit()
    on(70)
    late = world.draft()
    world.fire(world.applicant, late, "submit")
    on(5)
    expiring = world.draft()
    world.fire(world.applicant, expiring, "submit")
    world.fire(world.assessor, expiring, "start_assessment")
    world.fire(
        world.assessor, expiring, "request_info", details={"question": "Offerte?", "term_days": 2}
    )
    on(60)
    closing = world.proposed()
    for line in closing.lines:
        line.granted_amount = Decimal("0.00")
    world.session.commit()
    world.fire(world.decider, closing, "refuse", reason="Niet geadviseerd")
    world.session.expire_all()
    late_deadline = world.session.get(Claim, late.id).decision_deadline
    assert late_deadline < today

    # force: the test may run on a weekend or holiday; beat runs it on working days.
    result = watch_deadlines.delay(force=True).get(timeout=60)
    assert result["day"] == today.isoformat() and result["failed"] == 0
    assert min(result[n] for n in ("warned", "flagged", "expired", "objection_terms_closed")) >= 1

    world.session.expire_all()
    check = world.session
    assert warning(near, today, world.assessor) in keys(check, "deadline_warning")
    assert overdue(late, late_deadline, world.admin) in keys(check, "claim_overdue")
    assert check.get(Claim, expiring.id).state == "decision_proposed"
    assert len(events(check, closing, "objection_term_ended")) == 1
    before = totals(check)

    again = watch_deadlines.delay(force=True).get(timeout=60)
    assert {name: again[name] for name in NOTHING} == NOTHING
    assert totals(check) == before


def test_beat_watches_deadlines_on_weekday_mornings():
    entry = beat_schedule()["deadline-watch"]
    assert entry["task"] == "workers.tasks.watch_deadlines"
    schedule = entry["schedule"]
    assert schedule.hour == {7} and schedule.minute == {0}
    assert schedule.day_of_week == {1, 2, 3, 4, 5}  # Monday to Friday


def test_of_two_beats_on_redis_only_the_one_holding_the_lock_schedules(app, monkeypatch):
    """RedBeat's lock on the real Redis, with our configuration: a second beat waits."""
    import redis
    from redbeat.schedulers import acquire_distributed_beat_lock, get_redis

    from workers.beat import HealingRedBeatScheduler

    prefix = f"test-{RUN_ID}:redbeat-lock:"
    settings = Settings.from_env({"CELERY_BROKER_URL": f"{REDIS_URL}/14"})
    config = {**settings.flask_config()["CELERY"], "redbeat_key_prefix": prefix}
    monkeypatch.setitem(app.config, "CELERY", config)
    celery_app = celery_init_app(app)
    assert celery_app.conf.beat_scheduler == "workers.beat:HealingRedBeatScheduler"
    client = redis.Redis.from_url(f"{REDIS_URL}/14")
    try:
        # The first beat starts: its schedule (crontab included) is stored, it takes the lock.
        first = HealingRedBeatScheduler(app=celery_app)
        acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=first))
        assert first.lock is not None and first.lock.owned()
        assert client.exists(f"{prefix}deadline-watch")
        assert first.lock_timeout == 60
        # A second beat asks for the same lock and does not get it while the first lives.
        competitor = get_redis(celery_app).lock(first.lock_key, timeout=60)
        assert not competitor.acquire(blocking=False)
        first.close()  # the first stops (or its lock times out): the second takes over
        assert competitor.acquire(blocking=False)
        competitor.release()
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def test_a_beat_that_lost_its_lock_with_the_data_stands_by_or_takes_it_again(app, monkeypatch):
    """Redis emptied under two beats: whichever ticks first takes the lock anew and stores
    the schedule again; the other stands by instead of stopping."""
    import redis

    from workers.beat import HealingRedBeatScheduler

    prefix = f"test-{RUN_ID}:redbeat-heal:"
    settings = Settings.from_env({"CELERY_BROKER_URL": f"{REDIS_URL}/14"})
    config = {**settings.flask_config()["CELERY"], "redbeat_key_prefix": prefix}
    monkeypatch.setitem(app.config, "CELERY", config)
    celery_app = celery_init_app(app)
    client = redis.Redis.from_url(f"{REDIS_URL}/14")
    first = HealingRedBeatScheduler(app=celery_app)
    second = HealingRedBeatScheduler(app=celery_app)
    try:
        first.tick()  # started while no beat held the lock: it takes it
        assert first.lock is not None and first.lock.owned()
        assert second.tick() == second.max_interval and second.lock is None  # standing by
        for key in client.scan_iter(f"{prefix}*"):  # Redis loses its data
            client.delete(key)
        assert not client.exists(f"{prefix}outbox-sweep")
        assert first.tick() == 0 and first.lock is None  # lost: it lets go at once
        second.tick()  # the other beat ticks first: its lock now, and the schedule back
        assert second.lock is not None and second.lock.owned()
        assert client.exists(f"{prefix}outbox-sweep") and client.exists(f"{prefix}deadline-watch")
        assert first.tick() == first.max_interval and first.lock is None
    finally:
        first.close()
        second.close()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
