"""The embedded default broker (kombu's SQLAlchemy transport on SQLite) that `make run`
uses: a real worker takes a task from it with no server at all."""

from __future__ import annotations

import pytest

from housing.config import Settings
from workers import celery_init_app


@pytest.fixture
def celery_app(app, tmp_path, monkeypatch):  # overrides celery.contrib.pytest's own app with ours
    embedded = Settings.from_env({"HOUSING_INSTANCE_PATH": str(tmp_path)}).flask_config()
    monkeypatch.setitem(app.config, "CELERY", embedded["CELERY"])
    assert app.config["CELERY"]["broker_url"].startswith("sqla+sqlite:///")
    return celery_init_app(app)


@pytest.fixture
def celery_includes():
    return ["celery.contrib.testing.tasks", "workers.tasks"]


def test_a_task_round_trip_needs_no_server(celery_app, celery_worker):
    from workers.tasks import health

    assert health.delay().get(timeout=30) == {"database": True}
