"""A real Celery worker (celery.contrib.pytest) on a real Redis runs our tasks inside the
Flask app, against the real test database."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from housing.db import db
from housing.ops.models import WorkerHeartbeat
from tests.conftest import celery_on_redis

pytestmark = pytest.mark.celery


@pytest.fixture
def celery_app(app, monkeypatch):  # overrides celery.contrib.pytest's own app with ours
    return celery_on_redis(app, monkeypatch, "celery")


@pytest.fixture
def celery_includes():
    return ["celery.contrib.testing.tasks", "workers.tasks"]


def test_the_worker_reaches_the_database(celery_app, celery_worker):
    from workers.tasks import health

    assert health.delay().get(timeout=20) == {"database": True}


def test_the_heartbeat_is_recorded_by_the_worker(app, celery_app, celery_worker):
    from workers.tasks import heartbeat

    worker = heartbeat.delay().get(timeout=20)
    try:
        with app.app_context():
            seen = db.session.scalars(
                select(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker)
            ).one()
            assert seen.seen_at.tzinfo is not None
    finally:
        with app.app_context():
            db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
            db.session.commit()


def test_the_configuration_follows_the_design(celery_app):
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.broker_transport_options["visibility_timeout"] == 12 * 3600
    assert celery_app.conf.broker_url.startswith("redis://")
    assert "heartbeat" in celery_app.conf.beat_schedule
