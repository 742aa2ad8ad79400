"""Jobs with real progress (issue 14 item 4): a real Celery worker builds a payment batch
while the test reads the job's figures as the job page does, and sees them move before
the job's own transaction commits, on PostgreSQL and on the embedded SQLite default."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from housing import create_app
from housing.accounts.models import User
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.demo import approved_payouts
from housing.demo import seed as demo_seed
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobService
from housing.organisations.models import Organisation
from housing.payments.batches import BUILD_CHUNK
from housing.payments.jobs import PAYMENT_BATCH_BUILD
from housing.payments.models import PaymentBatch
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.jobs import outbox_message
from tests.conftest import celery_on_redis, factories_on
from tests.factories import UserFactory

pytestmark = pytest.mark.celery

# Enough payouts for several reports (one per BUILD_CHUNK) and a run of a few seconds.
PAYOUTS = 8 * BUILD_CHUNK


class Backend:
    """An app on one database, with a finance user whose organisation has PAYOUTS approved."""

    def __init__(self, app: Flask, engine: Engine, finance_id: int, organisation_id: int):
        self.app = app
        self.engine = engine
        self.finance_id = finance_id
        self.organisation_id = organisation_id

    def start_build(self) -> tuple[int, int]:
        with self.app.app_context(), Session(self.engine) as s:
            user = s.get(User, self.finance_id)
            job = JobService(s).start(
                Scope.for_user(user),
                user,
                PAYMENT_BATCH_BUILD,
                {"execution_date": (amsterdam_today() + dt.timedelta(days=7)).isoformat()},
            )
            s.commit()
            message = outbox_message(s, job.id)
            assert message is not None
            return job.id, message.id

    def read(self, job_id: int) -> tuple[JobStatus, int, int, Any]:
        """What the job page shows now: a request of its own, as the page's is."""
        with self.app.test_request_context(), Session(self.engine) as s:
            service = JobService(s)
            job = s.get(Job, job_id)
            assert job is not None
            progress = service.progress(job)
            return job.status, progress.done, progress.total, progress


@pytest.fixture(params=["postgresql", "sqlite"])
def backend(request, app, committed_worlds, tmp_path, monkeypatch) -> Iterator[Backend]:
    if request.param == "postgresql":
        extra = {}

        def finance(world):
            extra["finance"] = UserFactory(organisation=world.org, roles={Role.FINANCE})

        world = committed_worlds("Gemeente Voortgang", finance)
        with app.app_context():
            engine = db.engine
        with Session(engine) as s, factories_on(s):
            approved_payouts(s, s.get(Organisation, world.org.id), PAYOUTS)
            s.commit()
        yield Backend(app, engine, extra["finance"].id, world.org.id)
        return
    # The embedded default: SQLite in the instance folder, nothing else configured.
    monkeypatch.setenv("HOUSING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    embedded = create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"})
    assert embedded.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    with embedded.app_context():
        upgrade()
        demo_seed(db.session)
        organisation = db.session.scalars(
            select(Organisation).where(Organisation.name == "Provincie Noordland")
        ).one()
        approved_payouts(db.session, organisation, PAYOUTS)
        db.session.commit()
        finance = db.session.scalars(
            select(User).where(User.email == "financien@noordland.example")
        ).one()
        engine = db.engine
        yield Backend(embedded, engine, finance.id, organisation.id)
        db.session.remove()
        engine.dispose()


@pytest.fixture
def celery_app(backend, monkeypatch):  # overrides celery.contrib.pytest's own app with ours
    return celery_on_redis(backend.app, monkeypatch, "progress")


@pytest.fixture
def celery_includes():
    return ["celery.contrib.testing.tasks", "workers.tasks"]


def test_a_batch_build_shows_its_progress_moving_while_it_runs(backend, celery_app, celery_worker):
    from workers.tasks import deliver_outbox_message

    job_id, message_id = backend.start_build()
    deliver_outbox_message.delay(message_id)
    seen: list[tuple[int, int]] = []
    estimates = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status, done, total, progress = backend.read(job_id)
        if status is JobStatus.RUNNING and total and (not seen or seen[-1] != (done, total)):
            seen.append((done, total))
            if progress.remaining is not None:
                estimates.append(progress)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            break
        time.sleep(0.02)
    assert status is JobStatus.SUCCEEDED, progress
    # Read at least twice while it ran, and the count moved: before the commit, from
    # outside the job's own transaction.
    running = [done for done, _total in seen]
    assert len(running) >= 2 and running == sorted(running), seen
    assert running[0] < running[-1] <= PAYOUTS, seen
    assert len([done for done in running if 0 < done < PAYOUTS]) >= 2, seen
    assert all(total == PAYOUTS for _done, total in seen)
    # While it ran: a percentage, the time taken and an estimate of the time left.
    assert estimates, seen
    middle = estimates[-1]
    assert 0 < middle.percent < 100
    assert middle.elapsed > dt.timedelta(0) and middle.remaining > dt.timedelta(0)
    # Finished: the full count in the job's own row, and the batch there whole.
    status, done, total, progress = backend.read(job_id)
    assert (done, total) == (PAYOUTS, PAYOUTS) and progress.remaining is None
    with Session(backend.engine) as s:
        job = s.get(Job, job_id)
        assert job is not None and (job.progress_done, job.progress_total) == (PAYOUTS, PAYOUTS)
        batch = s.get(PaymentBatch, job.result["batch_id"])
        assert batch is not None and batch.item_count == PAYOUTS


# --- the page's figures ------------------------------------------------------------------------
def test_the_page_shows_percentage_time_taken_and_time_left_and_a_reload_shows_them(
    client, session
):
    from sqlalchemy import update

    from housing.clock import utcnow
    from housing.jobs.models import Job
    from tests.conftest import login

    finance = UserFactory(roles={Role.FINANCE})
    login(client, finance.email)
    job = JobService(session).start(
        Scope.for_user(finance), finance, PAYMENT_BATCH_BUILD, {"execution_date": "2026-12-31"}
    )
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            status=JobStatus.RUNNING,
            attempts=1,
            started_at=utcnow() - dt.timedelta(seconds=20),
            progress_done=2500,
            progress_total=10000,
        )
    )
    session.commit()
    # The whole page (no JavaScript: a reload) and the fragment htmx polls say the same.
    for path in (f"/jobs/{job.id}", f"/jobs/{job.id}/status"):
        page = client.get(path).text
        assert "2.500 van 10.000 uitbetalingen (25%)" in page
        assert re.search(r'id="job-elapsed">2[0-9] seconden<', page), page
        # 20 seconds for a quarter: about a minute for the rest.
        assert re.search(r'id="job-remaining">ongeveer (1 minuut|6[0-9] seconden)<', page), page


def test_a_failed_job_says_what_failed_where_it_stopped_and_that_nothing_was_kept(client, session):
    from sqlalchemy import update

    from housing.clock import utcnow
    from housing.jobs.models import Job
    from tests.conftest import login

    finance = UserFactory(roles={Role.FINANCE})
    login(client, finance.email)
    job = JobService(session).start(
        Scope.for_user(finance), finance, PAYMENT_BATCH_BUILD, {"execution_date": "2026-12-31"}
    )
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            status=JobStatus.FAILED,
            attempts=1,
            started_at=utcnow() - dt.timedelta(seconds=90),
            finished_at=utcnow(),
            progress_done=1500,
            progress_total=4000,
            message="Er zijn geen goedgekeurde uitbetalingen om te betalen.",
        )
    )
    session.commit()
    page = client.get(f"/jobs/{job.id}").text
    assert "De taak is niet afgerond." in page
    assert "Er zijn geen goedgekeurde uitbetalingen om te betalen." in page
    assert "De taak stopte na 1.500 van 4.000." in page
    assert "Van deze poging is niets bewaard" in page
    assert re.search(r'id="job-elapsed">(2 minuten|9[0-9] seconden)<', page), page
    assert "job-remaining" not in page and "hx-trigger" not in page
