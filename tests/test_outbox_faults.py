"""Fault tests with the real parts: PostgreSQL, Redis, Celery workers and an SMTP server.

These commit for real (a worker in another thread or process must see the rows), so each
test builds its own organisation and removes it afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from housing.claims.workflow import WorkflowService
from housing.clock import utcnow
from housing.config import Settings
from housing.db import db
from housing.notifications.services import TOPIC, deliver_notification
from housing.ops.models import WorkerHeartbeat
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import OutboxConsumer, OutboxSweep, Outcome
from housing.scoping import Scope
from tests.broker import RedisServer
from tests.conftest import REDIS_URL, RUN_ID, login
from tests.smtp import SmtpServer
from workers import celery_init_app, publish

pytestmark = pytest.mark.celery

QUEUE = f"test-faults-{RUN_ID}"
BROKER = f"{REDIS_URL}/14"
CLOSED_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def use_broker(app, monkeypatch, broker: str):
    settings = Settings.from_env({"CELERY_BROKER_URL": broker})
    config = {**settings.flask_config()["CELERY"], "task_default_queue": QUEUE}
    monkeypatch.setitem(app.config, "CELERY", config)
    return celery_init_app(app)


@pytest.fixture
def smtp(app, monkeypatch):
    with SmtpServer() as server:
        for key, value in (
            ("MAIL_BACKEND", "smtp"),
            ("MAIL_SERVER", "127.0.0.1"),
            ("MAIL_PORT", server.port),
        ):
            monkeypatch.setitem(app.config, key, value)
        yield server


def pending(engine_session: Session) -> list[OutboxMessage]:
    engine_session.expire_all()
    return engine_session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
    ).all()


def test_a_broker_outage_delays_the_acknowledgement_but_never_loses_or_doubles_it(
    app, committed_worlds, smtp, monkeypatch
):
    world = committed_worlds("Gemeente Storing")
    claim = world.draft()
    monkeypatch.setitem(app.config, "OUTBOX_RELAY_ON_COMMIT", True)
    use_broker(app, monkeypatch, CLOSED_BROKER)

    browser = app.test_client()
    csrf = login(browser, world.applicant.email)
    started = time.monotonic()
    submitted = browser.post(
        f"/claims/{claim.id}/events", data={"event": "submit", "csrf_token": csrf}
    )
    assert submitted.status_code == 303  # the broker being down is not the applicant's problem
    # Nor is waiting for it: the relay gives up at the first refusal (kombu would otherwise
    # try to connect again for 4 s and more before the answer could leave).
    assert time.monotonic() - started < 3
    world.session.expire_all()
    assert world.session.get(type(claim), claim.id).state == "submitted"
    (message,) = pending(world.session)
    assert message.dispatched_at is None and message.attempts == 0
    assert smtp.messages == []

    # The broker is back; beat's sweep hands over what the relay could not.
    celery_app = use_broker(app, monkeypatch, BROKER)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        later = utcnow() + dt.timedelta(minutes=1)
        handed = OutboxSweep(world.session, clock=lambda: later).dispatch_due(
            lambda message_id: publish(app, message_id)
        )
        assert handed == 1
        received = smtp.handler.wait_for(1)
        world.session.expire_all()
        assert len(received) == 1, world.session.get(OutboxMessage, message.id).last_error
        (mail,) = received
        # A second sweep and a redelivery change nothing.
        OutboxSweep(world.session, clock=lambda: later).dispatch_due(
            lambda message_id: publish(app, message_id)
        )
        publish(app, message.id)
        time.sleep(2)
    assert len(smtp.messages) == 1
    assert mail["To"] == world.applicant.email
    world.session.expire_all()
    assert world.session.get(OutboxMessage, message.id).status is OutboxStatus.DONE


def _worker_process(database_url: str, smtp_port: int, instance: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_RESULT_BACKEND": BROKER,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "HOUSING_INSTANCE_PATH": str(instance),
        # Short, so the test need not wait five minutes for the killed worker's lease.
        "OUTBOX_LEASE_SECONDS": "3",
    }
    celery = Path(sys.executable).with_name("celery")
    command = [str(celery), "-A", "workers.app", "worker", "--pool", "solo", "-Q", QUEUE]
    command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    command += ["--loglevel", "WARNING", "-n", f"faults-{RUN_ID}-{time.monotonic_ns()}@%h"]
    return subprocess.Popen(  # noqa: S603 (our own celery with fixed arguments)
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_while_sending_delivers_the_mail_exactly_once_after_restart(
    app, committed_worlds, smtp, monkeypatch, database_url, tmp_path
):
    world = committed_worlds("Gemeente Kill")
    claim = world.draft()
    monkeypatch.setitem(app.config, "OUTBOX_RELAY_ON_COMMIT", True)
    use_broker(app, monkeypatch, BROKER)
    smtp.handler.stall = threading.Event()  # the server hangs before accepting a recipient
    with app.app_context():
        world.fire(world.applicant, claim, "submit")  # the relay hands it to Redis
    (message,) = pending(world.session)

    first = _worker_process(database_url, smtp.port, tmp_path)
    try:
        assert smtp.handler.stalled.wait(90), "the worker never started sending"
        first.send_signal(signal.SIGKILL)  # mid-conversation with the SMTP server
        first.wait(timeout=20)
    finally:
        _stop(first)
    smtp.handler.stall.set()
    smtp.handler.stall = None
    time.sleep(0.5)
    assert smtp.messages == []
    (held,) = pending(world.session)
    assert held.attempts == 1 and held.leased_until is not None

    second = _worker_process(database_url, smtp.port, tmp_path)
    try:
        time.sleep(3.5)  # the dead worker's lease runs out
        # Beat's sweep: the broker still holds the killed worker's unacknowledged copy (for
        # the visibility timeout), so it is the sweep that hands the message over again.
        later = utcnow() + dt.timedelta(minutes=3)
        handed = OutboxSweep(world.session, clock=lambda: later).dispatch_due(
            lambda message_id: publish(app, message_id)
        )
        assert handed == 1
        (mail,) = smtp.handler.wait_for(1, timeout=90)
        time.sleep(2)
    finally:
        _stop(second)
    assert len(smtp.messages) == 1 and mail["To"] == world.applicant.email
    world.session.expire_all()
    done = world.session.get(OutboxMessage, message.id)
    assert done.status is OutboxStatus.DONE and done.attempts == 2
    # When Redis finally redelivers the killed worker's copy, it finds the work done.
    with app.app_context():
        consumer = OutboxConsumer(world.session, {TOPIC: deliver_notification})
        assert consumer.deliver(message.id) is Outcome.ALREADY_DONE
    assert len(smtp.messages) == 1


def test_the_same_message_delivered_twice_at_once_sends_one_mail(app, committed_worlds, smtp):
    world = committed_worlds("Gemeente Dubbel")
    claim = world.draft()
    with app.app_context():
        WorkflowService(world.session, clock=world.clock).fire(
            Scope.for_user(world.applicant), world.applicant, claim.id, "submit"
        )
        world.session.commit()
        engine = db.engine
    (message,) = pending(world.session)
    barrier = threading.Barrier(2)
    outcomes: list[Outcome] = []

    def deliver() -> None:
        with app.app_context(), Session(engine) as own:
            consumer = OutboxConsumer(own, {TOPIC: deliver_notification})
            barrier.wait(timeout=10)
            outcomes.append(consumer.deliver(message.id))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Outcome.DONE in outcomes and len(outcomes) == 2
    assert set(outcomes) <= {Outcome.DONE, Outcome.BUSY, Outcome.ALREADY_DONE}
    smtp.handler.wait_for(1)
    time.sleep(0.5)
    assert len(smtp.messages) == 1


def test_a_duplicate_delivery_during_the_smtp_conversation_stands_down_at_once(
    app, committed_worlds, smtp
):
    world = committed_worlds("Gemeente Wacht")
    claim = world.draft()
    with app.app_context():
        WorkflowService(world.session, clock=world.clock).fire(
            Scope.for_user(world.applicant), world.applicant, claim.id, "submit"
        )
        world.session.commit()
        engine = db.engine
    (message,) = pending(world.session)
    smtp.handler.stall = threading.Event()  # the first delivery hangs inside SMTP
    first: list[Outcome] = []

    def deliver_first() -> None:
        with app.app_context(), Session(engine) as own:
            first.append(OutboxConsumer(own, {TOPIC: deliver_notification}).deliver(message.id))

    thread = threading.Thread(target=deliver_first)
    thread.start()
    try:
        assert smtp.handler.stalled.wait(20), "the first delivery never started sending"
        # A second connection on which any wait for a lock fails within 200 ms.
        impatient = create_engine(engine.url, connect_args={"options": "-c lock_timeout=200"})
        try:
            with app.app_context(), Session(impatient) as own:
                duplicate = OutboxConsumer(own, {TOPIC: deliver_notification})
                outcome = duplicate.deliver(message.id)
        finally:
            impatient.dispose()
    finally:
        smtp.handler.stall.set()
        thread.join(timeout=30)
    assert outcome is Outcome.BUSY
    assert first == [Outcome.DONE]
    smtp.handler.wait_for(1)
    time.sleep(0.5)
    assert len(smtp.messages) == 1
    world.session.expire_all()
    done = world.session.get(OutboxMessage, message.id)
    assert done.status is OutboxStatus.DONE and done.attempts == 1


LOCK_KEY = "veilig-wonen:redbeat::lock"


def _celery_process(role: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    celery = Path(sys.executable).with_name("celery")
    command = [str(celery), "-A", "workers.app", role, "--loglevel", "INFO"]
    if role == "worker":
        command += ["--pool", "solo", "--without-mingle", "--without-gossip"]
        command += ["--without-heartbeat", "-n", f"outage-{RUN_ID}@%h"]
    else:
        command += ["--schedule", str(log.with_suffix(".schedule"))]
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 (our own celery with fixed arguments)
            command, env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.mark.parametrize("keep_data", [True, False], ids=["data-kept", "came-back-empty"])
def test_after_a_broker_outage_beat_sweeps_again_and_the_acknowledgement_arrives_once(
    app, committed_worlds, smtp, monkeypatch, database_url, tmp_path, keep_data
):
    world = committed_worlds(f"Gemeente Stroomuitval {keep_data}")
    claim = world.draft()
    broker = RedisServer(tmp_path / "redis")
    broker.start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker.url,
        "CELERY_RESULT_BACKEND": broker.url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "HOUSING_INSTANCE_PATH": str(tmp_path),
        # Beat ticks each second, sweeps every 2 s, and holds its lock for 3 s.
        "BEAT_MAX_LOOP_INTERVAL": "1",
        "BEAT_LOCK_TIMEOUT": "3",
        "OUTBOX_SWEEP_SECONDS": "2",
    }
    worker = _celery_process("worker", env, tmp_path / "worker.log")
    beat = _celery_process("beat", env, tmp_path / "beat.log")
    try:
        client = broker.client()
        deadline = time.monotonic() + 40
        # Beat holds its lock, and the worker listens on its queue.
        while not (client.exists(LOCK_KEY) and client.exists("_kombu.binding.celery")):
            assert time.monotonic() < deadline, (tmp_path / "beat.log").read_text()[-3000:]
            time.sleep(0.2)

        broker.stop(keep_data=keep_data)
        monkeypatch.setitem(app.config, "OUTBOX_RELAY_ON_COMMIT", True)
        use_broker(app, monkeypatch, broker.url)
        browser = app.test_client()
        csrf = login(browser, world.applicant.email)
        submitted = browser.post(
            f"/claims/{claim.id}/events", data={"event": "submit", "csrf_token": csrf}
        )
        assert submitted.status_code == 303
        (message,) = pending(world.session)
        assert message.attempts == 0 and message.dispatched_at is None
        time.sleep(4)  # beat ticks, and finds its broker away, four times
        assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]

        broker.start()  # the same port; with its data, or none
        acknowledgements = [
            mail
            for mail in smtp.handler.wait_for(1, timeout=60)
            if mail["To"] == world.applicant.email
        ]
        assert len(acknowledgements) == 1, (tmp_path / "beat.log").read_text()[-3000:]
        time.sleep(3)  # more sweeps: none sends it again
        assert [m for m in smtp.messages if m["To"] == world.applicant.email] == acknowledgements
        assert acknowledgements[0]["Subject"] == "Nieuws over uw aanvraag"
        world.session.expire_all()
        done = world.session.get(OutboxMessage, message.id)
        assert done.status is OutboxStatus.DONE and done.attempts == 1
        assert beat.poll() is None and worker.poll() is None
    finally:
        _stop(beat)
        _stop(worker)
        broker.stop(keep_data=False)
        with app.app_context():
            db.session.execute(
                delete(WorkerHeartbeat).where(WorkerHeartbeat.worker.like(f"outage-{RUN_ID}@%"))
            )
            db.session.commit()
