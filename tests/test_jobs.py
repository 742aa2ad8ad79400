"""Jobs: asked for with the outbox, run once, progress visible while they run, pages scoped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.audit.jobs import AUDIT_VERIFY, verify_chain
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.clock import utcnow
from housing.db import db
from housing.errors import Forbidden, InvalidInput
from housing.jobs.kinds import default_kinds, job_kind
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import (
    MAX_STARTS,
    TOPIC,
    JobContext,
    JobFailed,
    JobKind,
    JobRunner,
    JobService,
    kinds_by_name,
)
from housing.organisations.models import Organisation
from housing.outbox.handlers import default_handlers, outbox_handler
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import OutboxConsumer, Outcome
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import remove_organisation
from tests.builders.jobs import outbox_message
from tests.conftest import login
from tests.factories import OrganisationFactory, UserFactory

WAIT = 20  # seconds; a hung thread fails the test instead of the run


def fresh(session: Session, job_id: int) -> Job:
    return session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).one()


# --- starting: one transaction -------------------------------------------------------
def test_start_writes_the_job_and_its_outbox_message_in_one_transaction(session):
    auditor = UserFactory(auditor=True)
    job = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    job_id = job.id
    message = outbox_message(session, job_id)
    assert job.status is JobStatus.QUEUED and job.created_by_id == auditor.id
    assert job.organisation_id == auditor.organisation_id
    assert message is not None
    assert (message.topic, message.payload, message.status) == (
        TOPIC,
        {"job_id": job_id},
        OutboxStatus.PENDING,
    )
    assert message.organisation_id == auditor.organisation_id

    session.rollback()
    assert session.scalar(select(func.count()).where(Job.id == job_id)) == 0
    assert outbox_message(session, job_id) is None


def test_only_the_roles_of_a_kind_start_it(session):
    finance = UserFactory(finance=True)
    with pytest.raises(Forbidden):
        JobService(session).start(Scope.for_user(finance), finance, AUDIT_VERIFY)
    auditor = UserFactory(auditor=True)
    with pytest.raises(InvalidInput):
        JobService(session).start(Scope.for_user(auditor), auditor, "no_such_kind")
    inactive = UserFactory(auditor=True, inactive=True)
    with pytest.raises(Forbidden):
        JobService(session).start(Scope.for_user(inactive), inactive, AUDIT_VERIFY)
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_the_outbox_hands_job_messages_to_the_job_runner():
    from housing.jobs.services import run_job

    assert default_handlers()[TOPIC] is run_job


def test_kinds_are_registered_once():
    audit_verify = default_kinds()[AUDIT_VERIFY]
    assert audit_verify.runner is verify_chain
    assert kinds_by_name(audit_verify) == {AUDIT_VERIFY: audit_verify}
    with pytest.raises(RuntimeError):
        kinds_by_name(audit_verify, audit_verify)
    with pytest.raises(RuntimeError):
        job_kind(AUDIT_VERIFY, roles=audit_verify.roles, title=audit_verify.title)(verify_chain)


def test_a_topic_has_one_handler():
    from housing.jobs.services import run_job

    with pytest.raises(RuntimeError):
        outbox_handler(TOPIC)(run_job)


def test_verify_reports_progress_per_n_links_without_changing_its_report(session):
    org = OrganisationFactory()
    trail = AuditTrail(session)
    for i in range(5):
        trail.append(org.id, event=f"event_{i}", actor_id=None)
    session.commit()
    seen: list[int] = []
    with_progress = trail.verify(org.id, on_progress=seen.append, every=2)
    assert seen == [2, 4]
    assert with_progress == trail.verify(org.id)
    assert with_progress.intact and with_progress.checked == 5


# --- running: with data committed for real, as a worker sees it ----------------------
@dataclass
class Committed:
    app: Flask
    engine: Engine
    organisation_id: int
    auditor_id: int

    def start(self, kinds=None, kind: str = AUDIT_VERIFY) -> tuple[int, int]:
        """Start a job in a unit of work of its own, committed; returns job and message ids."""
        with Session(self.engine) as s:
            user = s.get(User, self.auditor_id)
            job = JobService(s, kinds=kinds).start(Scope.for_user(user), user, kind, {"x": 1})
            s.commit()
            message = outbox_message(s, job.id)
            assert message is not None
            return job.id, message.id

    def deliver(self, message_id: int, handler=None) -> Outcome:
        """What the Celery task does: one consumer, its own session, in an app context."""
        handlers = {TOPIC: handler} if handler is not None else default_handlers()
        with self.app.app_context(), Session(self.engine) as s:
            return OutboxConsumer(s, handlers).deliver(message_id)

    def job(self, job_id: int) -> Job:
        with Session(self.engine) as s:
            job = s.get(Job, job_id)
            assert job is not None
            s.expunge(job)
            return job

    def message(self, message_id: int) -> OutboxMessage:
        with Session(self.engine) as s:
            message = s.get(OutboxMessage, message_id)
            assert message is not None
            s.expunge(message)
            return message


@pytest.fixture
def committed(app: Flask) -> Iterator[Committed]:
    with app.app_context():
        engine = db.engine
    with Session(engine) as setup:
        original, db.session = db.session, setup  # factories write through db.session
        try:
            org = OrganisationFactory(name="Gemeente Taak")
            auditor = UserFactory(organisation=org, auditor=True)
            setup.commit()
            world = Committed(app, engine, org.id, auditor.id)
        finally:
            db.session = original
    try:
        yield world
    finally:
        with Session(engine) as s:
            s.execute(delete(Job).where(Job.organisation_id == world.organisation_id))
            s.commit()
        remove_organisation(engine, world.organisation_id)


def kind(runner, name: str = "test_job") -> dict[str, JobKind]:
    return dict(
        kinds_by_name(JobKind(name=name, runner=runner, roles=frozenset({Role.AUDITOR}), title=""))
    )


def test_progress_is_committed_while_the_job_runs_and_the_result_at_the_end(committed):
    reported, release = threading.Event(), threading.Event()

    def runner(context: JobContext):
        context.progress(3, 10, "Halfway")
        reported.set()
        assert release.wait(WAIT)
        return {"counted": 10}

    kinds = kind(runner)
    job_id, message_id = committed.start(kinds, "test_job")
    outcomes: list[Outcome] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(committed.deliver(message_id, JobRunner(kinds)))
    )
    worker.start()
    try:
        assert reported.wait(WAIT), "the runner never reported progress"
        # Another connection, as the page's request: the job is still running, and its
        # progress is there already, although the worker's transaction is still open.
        running = committed.job(job_id)
        assert running.status is JobStatus.RUNNING
        assert (running.progress_done, running.progress_total) == (3, 10)
        assert running.message == "Halfway" and running.attempts == 1
        assert running.started_at is not None and running.finished_at is None
        assert committed.message(message_id).status is OutboxStatus.PENDING
    finally:
        release.set()
        worker.join(WAIT)
    assert outcomes == [Outcome.DONE]
    done = committed.job(job_id)
    assert done.status is JobStatus.SUCCEEDED
    assert done.result == {"counted": 10}
    assert (done.progress_done, done.progress_total) == (10, 10)
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert committed.message(message_id).status is OutboxStatus.DONE


def test_a_second_delivery_of_a_finished_job_changes_nothing(committed):
    runs: list[int] = []

    def runner(context: JobContext):
        runs.append(context.job_id)
        return {"run": len(runs)}

    kinds = kind(runner)
    job_id, message_id = committed.start(kinds, "test_job")
    assert committed.deliver(message_id, JobRunner(kinds)) is Outcome.DONE
    before = committed.job(job_id)
    assert committed.deliver(message_id, JobRunner(kinds)) is Outcome.ALREADY_DONE
    # Even a handler called again for the same job (a message retried by hand) stands down.
    with committed.app.app_context(), Session(committed.engine) as s:
        JobRunner(kinds)(s, s.get(OutboxMessage, message_id))
        s.commit()
    after = committed.job(job_id)
    assert runs == [job_id]
    assert (after.status, after.result, after.finished_at, after.attempts) == (
        before.status,
        before.result,
        before.finished_at,
        before.attempts,
    )


def test_a_failing_runner_fails_the_job_safely_leaves_nothing_and_is_not_retried(committed):
    def runner(context: JobContext):
        context.session.execute(
            update(Organisation)
            .where(Organisation.id == context.organisation_id)
            .values(name="Half way through")
        )
        context.progress(1, 4)
        raise ValueError("Kerkstraat 1, 1234 AB: the runner's error may quote case data")

    kinds = kind(runner)
    job_id, message_id = committed.start(kinds, "test_job")
    assert committed.deliver(message_id, JobRunner(kinds)) is Outcome.DONE
    job = committed.job(job_id)
    assert job.status is JobStatus.FAILED and job.finished_at is not None
    assert job.message is None and job.result is None  # the page says it generically
    assert (job.progress_done, job.progress_total) == (1, 4)  # where it stopped
    message = committed.message(message_id)
    assert message.status is OutboxStatus.DONE and message.last_error is None
    with Session(committed.engine) as s:
        # The runner's own write was rolled back with its SAVEPOINT.
        assert s.get(Organisation, committed.organisation_id).name == "Gemeente Taak"


def test_a_runner_may_fail_its_job_with_a_message_for_the_user(committed):
    def runner(context: JobContext):
        raise JobFailed("The statement file is not a camt.053 file.")

    kinds = kind(runner)
    job_id, message_id = committed.start(kinds, "test_job")
    committed.deliver(message_id, JobRunner(kinds))
    job = committed.job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.message == "The statement file is not a camt.053 file."


def test_an_interrupted_run_starts_again_and_not_forever(committed):
    kinds = kind(lambda context: {"ok": True})
    job_id, message_id = committed.start(kinds, "test_job")
    # A worker marked it running and died: the message is delivered again later.
    with Session(committed.engine) as s:
        s.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=JobStatus.RUNNING, attempts=1, progress_total=9, progress_done=5)
        )
        s.commit()
    assert committed.deliver(message_id, JobRunner(kinds)) is Outcome.DONE
    job = committed.job(job_id)
    assert (job.status, job.attempts, job.result) == (JobStatus.SUCCEEDED, 2, {"ok": True})

    other_id, other_message = committed.start(kinds, "test_job")
    with Session(committed.engine) as s:
        s.execute(
            update(Job)
            .where(Job.id == other_id)
            .values(status=JobStatus.RUNNING, attempts=MAX_STARTS)
        )
        s.commit()
    assert committed.deliver(other_message, JobRunner(kinds)) is Outcome.DONE
    stuck = committed.job(other_id)
    assert stuck.status is JobStatus.FAILED and stuck.attempts == MAX_STARTS
    assert stuck.message == "De taak is te vaak onderbroken. Start haar opnieuw."  # hers: nl


def test_a_run_that_was_started_again_elsewhere_stops_and_writes_nothing(committed):
    reported, release = threading.Event(), threading.Event()

    def runner(context: JobContext):
        context.progress(1, 2)
        reported.set()
        assert release.wait(WAIT)
        context.progress(2, 2)  # no longer ours: stops the run here
        raise AssertionError("a superseded run went on")

    kinds = kind(runner)
    job_id, message_id = committed.start(kinds, "test_job")
    worker = threading.Thread(target=committed.deliver, args=(message_id, JobRunner(kinds)))
    worker.start()
    try:
        assert reported.wait(WAIT)
        with Session(committed.engine) as s:  # as a later delivery does when it starts
            s.execute(update(Job).where(Job.id == job_id).values(attempts=Job.attempts + 1))
            s.commit()
    finally:
        release.set()
        worker.join(WAIT)
    job = committed.job(job_id)
    assert job.status is JobStatus.RUNNING and job.attempts == 2
    assert job.progress_done == 1 and job.finished_at is None


def test_the_auditor_verifies_the_chain_intact_and_then_broken(committed, monkeypatch):
    monkeypatch.setattr("housing.audit.jobs.PROGRESS_EVERY", 2)
    with Session(committed.engine) as s:
        trail = AuditTrail(s)
        for i in range(5):
            trail.append(committed.organisation_id, event=f"event_{i}", actor_id=None)
        s.commit()
    job_id, message_id = committed.start()
    assert committed.deliver(message_id) is Outcome.DONE  # the default handlers
    job = committed.job(job_id)
    assert job.status is JobStatus.SUCCEEDED
    assert _verdict(job.result) == {"intact": True, "checked": 5, "first_broken_sequence": None}
    # What the verification report states: the head, the range's times, when it was checked.
    assert job.result["head_hash"] == _hash_at(committed, 5)
    assert job.result["first_at"] <= job.result["last_at"] <= job.result["verified_at"]
    assert (job.progress_done, job.progress_total) == (5, 5)

    with Session(committed.engine) as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.organisation_id == committed.organisation_id)
            .where(AuditEvent.sequence == 4)
            .values(reason="rewritten afterwards")
        )
        s.commit()
    job_id, message_id = committed.start()
    committed.deliver(message_id)
    broken = committed.job(job_id).result
    assert _verdict(broken) == {
        "intact": False,
        "checked": 3,
        "first_broken_sequence": 4,
    }
    # The report names the last link found intact.
    assert broken["head_hash"] == _hash_at(committed, 3)


def _verdict(result: dict) -> dict:
    return {key: result[key] for key in ("intact", "checked", "first_broken_sequence")}


def _hash_at(committed, sequence: int) -> str:
    with Session(committed.engine) as s:
        return s.scalars(
            select(AuditEvent.hash).where(
                AuditEvent.organisation_id == committed.organisation_id,
                AuditEvent.sequence == sequence,
            )
        ).one()


def test_links_added_while_the_chain_is_checked_are_no_false_alarm(committed, monkeypatch):
    """The chain grows during the walk; the job reads one snapshot, so it stays intact."""
    monkeypatch.setattr("housing.audit.jobs.PROGRESS_EVERY", 1)
    org_id = committed.organisation_id
    with Session(committed.engine) as s:
        for i in range(3):
            AuditTrail(s).append(org_id, event=f"event_{i}", actor_id=None)
        s.commit()
    appended: list[int] = []

    def progress(done: int, total: int, message: str | None = None) -> None:
        if done == 1 and not appended:  # a claim moves on while the auditor's job runs
            with Session(committed.engine) as other:
                appended.append(AuditTrail(other).append(org_id, event="late", actor_id=None).id)
                other.commit()

    with Session(committed.engine) as worker:
        context = JobContext(
            job_id=0, organisation_id=org_id, created_by_id=0, params={}, session=worker,
            progress=progress,
        )  # fmt: skip
        result = verify_chain(context)
    assert appended
    assert _verdict(result) == {"intact": True, "checked": 3, "first_broken_sequence": None}
    # The head of the snapshot, not of the link added meanwhile.
    assert result["head_hash"] == _hash_at(committed, 3)
    with Session(committed.engine) as s:
        assert AuditTrail(s).verify(org_id).checked == 4


# --- the pages -------------------------------------------------------------------------
def finish(session: Session, job: Job, **values) -> None:
    session.execute(update(Job).where(Job.id == job.id).values(finished_at=utcnow(), **values))
    session.commit()


@pytest.fixture
def auditor(session):
    return UserFactory(auditor=True)


def test_the_auditor_starts_a_verification_and_lands_on_its_page(client, session, auditor):
    token = login(client, auditor.email)
    start = client.get("/auditor").text
    assert 'action="/jobs/audit-verify"' in start and "De auditketen controleren" in start
    response = client.post("/jobs/audit-verify", data={"csrf_token": token})
    assert response.status_code == 303
    job = session.scalars(select(Job).where(Job.created_by_id == auditor.id)).one()
    assert response.headers["Location"] == f"/jobs/{job.id}"
    assert job.kind == AUDIT_VERIFY and outbox_message(session, job.id) is not None
    page = client.get(f"/jobs/{job.id}").text
    assert "<h1" in page and "Controle van de auditketen" in page
    # Waiting: polled every second, an indeterminate bar with a label, a link without JS.
    assert f'hx-get="/jobs/{job.id}/status"' in page and 'hx-trigger="every 1s"' in page
    assert '<label class="utrecht-form-label" for="job-progress">' in page
    assert '<progress id="job-progress"' in page
    assert f'href="/jobs/{job.id}"' in page
    assert "<script>" not in page  # the CSP allows no inline script
    assert f'href="/jobs/{job.id}"' in client.get("/auditor").text  # recent verifications


def test_the_fragment_shows_progress_and_stops_polling_when_finished(client, session, auditor):
    login(client, auditor.email)
    job = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(status=JobStatus.RUNNING, progress_done=1500, progress_total=4000)
    )
    session.commit()
    running = client.get(f"/jobs/{job.id}/status").text
    assert running.lstrip().startswith("<div") and "<html" not in running
    assert 'hx-trigger="every 1s"' in running and 'aria-busy="true"' in running
    assert 'max="4000" value="1500"' in running and "1.500 van 4.000" in running

    finish(
        session,
        job,
        status=JobStatus.SUCCEEDED,
        progress_done=4000,
        result={"intact": True, "checked": 4000, "first_broken_sequence": None},
    )
    done = client.get(f"/jobs/{job.id}/status").text
    assert "hx-trigger" not in done and "hx-get" not in done and "aria-busy" not in done
    assert 'max="4000" value="4000"' in done
    assert "De auditketen is intact." in done
    assert "Vernieuwen" not in done  # nothing left to refresh for


def test_a_broken_chain_and_a_failed_job_are_shown_plainly(client, session, auditor):
    login(client, auditor.email)
    broken = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    finish(
        session,
        broken,
        status=JobStatus.SUCCEEDED,
        result={"intact": False, "checked": 41, "first_broken_sequence": 42},
    )
    page = client.get(f"/jobs/{broken.id}").text
    assert "De auditketen is verbroken." in page and "volgnummer 42" in page
    failed = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    finish(session, failed, status=JobStatus.FAILED)
    page = client.get(f"/jobs/{failed.id}").text
    assert "De taak is niet afgerond." in page and "hx-trigger" not in page


def test_others_cannot_see_or_start_a_verification(app, client, session, auditor):
    job = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    session.commit()
    org = auditor.organisation_id
    for role in [r for r in Role if r is not Role.AUDITOR]:
        browser = app.test_client()
        token = login(browser, UserFactory(organisation_id=org, roles={role}).email)
        started = browser.post("/jobs/audit-verify", data={"csrf_token": token})
        assert started.status_code == 403, role
    # Another user's job: a colleague whose role may not run it does not find it; nor
    # does an auditor elsewhere. An auditor colleague shares the organisation's check.
    for user, status in (
        (UserFactory(organisation_id=org, assessor=True), 404),
        (UserFactory(organisation_id=org, roles={Role.ADMIN, Role.FINANCE}), 404),
        (UserFactory(auditor=True), 404),  # another organisation
        (UserFactory(organisation_id=org, auditor=True), 200),
    ):
        browser = app.test_client()
        login(browser, user.email)
        for path in (f"/jobs/{job.id}", f"/jobs/{job.id}/status"):
            assert browser.get(path).status_code == status, (user.roles, path)
    assert session.scalar(select(func.count()).select_from(Job)) == 1
    assert client.get(f"/jobs/{job.id}").status_code == 302  # anonymous: to the login page


# --- the API ---------------------------------------------------------------------------
def test_the_api_shows_a_job_within_its_scope(client, session, auditor):
    job = JobService(session).start(Scope.for_user(auditor), auditor, AUDIT_VERIFY)
    finish(
        session,
        job,
        status=JobStatus.SUCCEEDED,
        progress_total=7,
        progress_done=7,
        result={"intact": True, "checked": 7, "first_broken_sequence": None},
    )
    response = client.get(f"/api/v1/jobs/{job.id}", headers=bearer(session, auditor))
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["id"] == job.id and body["kind"] == AUDIT_VERIFY
    assert body["status"] == "succeeded"
    assert (body["progress_done"], body["progress_total"]) == (7, 7)
    assert body["result"] == {"intact": True, "checked": 7, "first_broken_sequence": None}
    assert body["finished_at"] and body["started_at"] is None

    stranger = bearer(session, UserFactory(auditor=True))
    assert_problem(client.get(f"/api/v1/jobs/{job.id}", headers=stranger), 404)
    finance = bearer(session, UserFactory(organisation_id=auditor.organisation_id, finance=True))
    assert_problem(client.get(f"/api/v1/jobs/{job.id}", headers=finance), 404)
    assert_problem(client.get(f"/api/v1/jobs/{job.id}"), 401)
    assert_problem(client.get("/api/v1/jobs/999999999", headers=stranger), 404)
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/jobs/{job_id}" in spec["paths"]
    assert "Job" in spec["components"]["schemas"]
