"""Operations: dead messages for administrators, `housing outbox status`, the health probe
(on the real PostgreSQL and Redis) and task ids in structured logs."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
import structlog
from celery import Celery
from sqlalchemy import delete, func, select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.clock import utcnow
from housing.config import Settings
from housing.ops.models import WorkerHeartbeat
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.roles import Role
from tests.builders.outbox import outbox_row
from tests.conftest import REDIS_URL, RUN_ID, celery_on_redis, login
from tests.factories import OrganisationFactory, UserFactory
from workers.logging import bind_task, unbind_task


# --- dead messages in the admin UI ---------------------------------------------------
class TestOutboxAdmin:
    def test_the_admin_sees_counts_and_the_dead_of_their_own_organisation(self, client, session):
        admin = UserFactory(admin=True)
        org_id = admin.organisation_id
        dead = outbox_row(session, org_id)
        outbox_row(session, org_id, status=OutboxStatus.PENDING)
        outbox_row(session, org_id, status=OutboxStatus.DONE)
        elsewhere = outbox_row(session, OrganisationFactory().id)
        login(client, admin.email)
        page = client.get("/admin/outbox").text
        assert dead.key in page and "SMTPServerDisconnected" in page
        assert f'action="/admin/outbox/{dead.id}/retry"' in page
        assert elsewhere.key not in page
        assert "Mislukt (geparkeerd)</dt><dd>1</dd>" in page
        assert "Wacht op aflevering</dt><dd>1</dd>" in page
        assert '"user_id"' not in page  # the payload is never shown

    def test_retry_resets_the_message_and_is_audited(self, client, session):
        admin = UserFactory(admin=True)
        dead = outbox_row(session, admin.organisation_id, dispatched_at=utcnow())
        csrf = login(client, admin.email)
        response = client.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert "opnieuw afgeleverd" in client.get(response.headers["Location"]).text
        dead = session.get(OutboxMessage, dead.id, populate_existing=True)
        assert (dead.status, dead.attempts, dead.dispatched_at, dead.leased_until) == (
            OutboxStatus.PENDING,
            0,
            None,
            None,
        )
        audited = session.scalars(
            select(AuditEvent).where(
                AuditEvent.organisation_id == admin.organisation_id,
                AuditEvent.event == "retry_outbox_message",
            )
        ).one()
        assert audited.actor_id == admin.id and audited.claim_id is None
        assert AuditTrail(session).verify(admin.organisation_id).intact

        # Retried already (by a colleague, say): nothing to do, and nothing audited again.
        again = client.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf})
        assert "niets om opnieuw te proberen" in client.get(again.headers["Location"]).text
        retries = select(func.count()).where(AuditEvent.event == "retry_outbox_message")
        assert session.scalar(retries) == 1

    def test_another_organisations_message_cannot_be_retried(self, client, session):
        admin = UserFactory(admin=True)
        theirs = outbox_row(session, OrganisationFactory().id)
        csrf = login(client, admin.email)
        response = client.post(f"/admin/outbox/{theirs.id}/retry", data={"csrf_token": csrf})
        assert response.status_code == 404
        theirs = session.get(OutboxMessage, theirs.id, populate_existing=True)
        assert theirs.status is OutboxStatus.DEAD

    @pytest.mark.parametrize(
        "role", [Role.APPLICANT, Role.ASSESSOR, Role.DECIDER, Role.FINANCE, Role.AUDITOR]
    )
    def test_only_administrators(self, client, session, role):
        user = UserFactory(roles={role})
        dead = outbox_row(session, user.organisation_id)
        csrf = login(client, user.email)
        assert client.get("/admin/outbox").status_code == 403
        response = client.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf})
        assert response.status_code == 403


# --- housing outbox status -----------------------------------------------------------
class TestOutboxStatusCommand:
    @pytest.fixture
    def runner(self, app, session):
        return app.test_cli_runner()

    def test_counts_the_oldest_pending_and_the_dead_with_exit_code_1(self, runner, session):
        org = OrganisationFactory()
        outbox_row(session, org.id, status=OutboxStatus.PENDING,
                   created_at=utcnow() - dt.timedelta(minutes=10))  # fmt: skip
        outbox_row(session, org.id, status=OutboxStatus.PENDING)
        dead = outbox_row(session, org.id)
        outbox_row(session, OrganisationFactory().id)  # another organisation's

        result = runner.invoke(args=["outbox", "status", "--organisation", org.name])

        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert lines[:3] == ["pending: 2", "done: 0", "dead: 1"]
        age = int(lines[3].split()[2])
        assert lines[3].startswith("oldest pending: ") and 595 <= age <= 700
        assert lines[5].split()[:4] == [str(dead.id), "notification", dead.key, "8"]
        assert "SMTPServerDisconnected: Connection unexpectedly closed" in lines[5]
        assert len(lines) == 6

    def test_nothing_dead_exits_0(self, runner, session):
        org = OrganisationFactory()
        outbox_row(session, org.id, status=OutboxStatus.DONE)
        result = runner.invoke(args=["outbox", "status", "--organisation", org.name])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == [
            "pending: 0",
            "done: 1",
            "dead: 0",
            "oldest pending: none",
        ]

    def test_without_an_organisation_it_reports_them_all(self, runner, session):
        outbox_row(session, OrganisationFactory().id)
        outbox_row(session, OrganisationFactory().id)
        result = runner.invoke(args=["outbox", "status"])
        assert result.exit_code == 1
        assert int(result.output.splitlines()[2].removeprefix("dead: ")) >= 2

    def test_an_unknown_organisation_is_a_usage_error(self, runner, session):
        result = runner.invoke(args=["outbox", "status", "--organisation", "Nergenshuizen"])
        assert result.exit_code == 2 and "no organisation named" in result.output

    def test_the_help_explains_the_exit_code(self, runner):
        result = runner.invoke(args=["outbox", "status", "--help"])
        assert "status 1 when any message is dead" in result.output


# --- GET /health ---------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again once the socket is


def broker_app(url: str) -> Celery:
    """A Celery app configured as production is, on the broker at `url`."""
    celery = Celery("health-test", set_as_current=False)
    celery.config_from_object(
        Settings.from_env({"CELERY_BROKER_URL": url}).flask_config()["CELERY"]
    )
    return celery


class TestHealth:
    def test_200_with_the_real_database_and_redis(self, app, client, session, monkeypatch):
        monkeypatch.setitem(app.extensions, "celery", broker_app(f"{REDIS_URL}/14"))
        now = utcnow()
        session.add_all(
            [
                WorkerHeartbeat(
                    worker=f"celery@live-{RUN_ID}", seen_at=now - dt.timedelta(minutes=1)
                ),
                WorkerHeartbeat(
                    worker=f"celery@gone-{RUN_ID}", seen_at=now - dt.timedelta(minutes=4)
                ),
            ]
        )
        org_id = OrganisationFactory().id
        outbox_row(session, org_id, status=OutboxStatus.PENDING,
                   created_at=now - dt.timedelta(hours=1))  # fmt: skip
        outbox_row(session, org_id)

        response = client.get("/health")

        assert response.status_code == 200, response.text
        body = response.get_json()
        assert body["ok"] is True
        assert body["database"] == {"ok": True} and body["broker"] == {"ok": True}
        assert f"celery@live-{RUN_ID}" in body["workers"]["live"]
        assert f"celery@gone-{RUN_ID}" not in body["workers"]["live"]
        assert body["workers"]["ok"] is True
        assert body["outbox"]["pending"] >= 1 and body["outbox"]["dead"] >= 1
        assert body["outbox"]["oldest_pending_age_seconds"] >= 3600
        assert body["rate_limits"] == {"ok": True, "storage": "configured"}
        assert body["degraded"] == []
        assert set(body) == {
            "ok",
            "degraded",
            "database",
            "broker",
            "rate_limits",
            "workers",
            "outbox",
        }
        # Open to anyone, stored by no one, and no session started for it.
        assert response.headers["Cache-Control"] == "no-store"
        assert "Set-Cookie" not in response.headers

    def test_503_when_the_broker_is_unreachable(self, app, client, session, monkeypatch):
        port = closed_port()
        monkeypatch.setitem(app.extensions, "celery", broker_app(f"redis://127.0.0.1:{port}/0"))
        started = time.monotonic()
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            response = client.get("/health", headers={"X-Request-ID": "healthprobe0001"})
        assert time.monotonic() - started < 5  # a probe answers quickly, retries or not
        assert response.status_code == 503
        body = response.get_json()
        assert body["ok"] is False and body["broker"] == {"ok": False}
        assert body["database"] == {"ok": True}
        assert str(port) not in response.text  # nothing of the configuration leaks
        # The web log line carries the request's id.
        assert response.headers["X-Request-ID"] == "healthprobe0001"
        (logged,) = [e for e in logs if e["event"] == "health.broker_unreachable"]
        assert logged["request_id"] == "healthprobe0001"

    def test_503_without_the_database(self, app, client, session, monkeypatch):
        monkeypatch.setitem(app.extensions, "celery", broker_app(f"{REDIS_URL}/14"))
        monkeypatch.setattr("housing.ops.services.database_ok", lambda: False)
        response = client.get("/health")
        assert response.status_code == 503
        body = response.get_json()
        assert body["database"] == {"ok": False} and body["broker"] == {"ok": True}
        assert body["outbox"] is None and body["workers"] == {"ok": False, "live": []}

    def test_without_workers_it_stays_200_and_says_so(self, app, client, session, monkeypatch):
        monkeypatch.setitem(app.extensions, "celery", broker_app(f"{REDIS_URL}/14"))
        session.execute(delete(WorkerHeartbeat))
        response = client.get("/health")
        assert response.status_code == 200
        assert response.get_json()["workers"] == {"ok": False, "live": []}


# --- task ids in structured logs -----------------------------------------------------
def test_the_signals_bind_the_task_and_give_the_request_its_context_back():
    class FakeTask:
        name = "workers.tasks.sweep_outbox"

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="webrequest0001")
    try:
        bind_task(task_id="task-1", task=FakeTask())
        assert structlog.contextvars.get_contextvars() == {
            "request_id": "webrequest0001",
            "task_id": "task-1",
            "task_name": "workers.tasks.sweep_outbox",
        }
        unbind_task(task_id="task-1", task=FakeTask())
        assert structlog.contextvars.get_contextvars() == {"request_id": "webrequest0001"}
    finally:
        structlog.contextvars.clear_contextvars()


def test_an_eager_run_in_a_request_keeps_the_request_id(app, session):
    from workers.tasks import health

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="webrequest0002")
    try:
        with app.app_context():
            assert health.apply().get() == {"database": True}
        assert structlog.contextvars.get_contextvars() == {"request_id": "webrequest0002"}
    finally:
        structlog.contextvars.clear_contextvars()


@pytest.fixture
def celery_app(app, monkeypatch):  # overrides celery.contrib.pytest's own app with ours
    celery = celery_on_redis(app, monkeypatch, "ops")
    log = structlog.get_logger("tests.probe")

    # Registered before the worker starts, so the worker knows it.
    @celery.task(name="tests.test_ops.log_probe", shared=False)
    def log_probe() -> dict[str, str]:
        log.info("probe.ran")
        return dict(structlog.contextvars.get_contextvars())

    return celery


@pytest.fixture
def celery_includes():
    return ["celery.contrib.testing.tasks", "workers.tasks"]


@pytest.mark.celery
def test_a_task_run_by_a_real_worker_logs_its_id_and_name(celery_app, celery_worker):
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        result = celery_app.tasks["tests.test_ops.log_probe"].delay()
        bound = result.get(timeout=20)
    assert bound["task_id"] == result.id
    assert bound["task_name"] == "tests.test_ops.log_probe"
    (line,) = [e for e in logs if e["event"] == "probe.ran"]
    assert (line["task_id"], line["task_name"]) == (result.id, "tests.test_ops.log_probe")
