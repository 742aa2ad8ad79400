"""The embedded default (SQLite) runs the same migrations, demo data and encryption."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from housing import create_app
from housing.accounts.models import User
from housing.accounts.services import AccountService
from housing.db import db
from housing.demo import DEMO_PASSWORD, seed
from housing.organisations.models import Home


@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setenv("HOUSING_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "RATELIMIT_STORAGE_URI": "memory://"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_demo_seed_on_sqlite_is_idempotent_and_encrypts(sqlite_app):
    first = seed(db.session)
    db.session.commit()
    second = seed(db.session)
    db.session.commit()
    assert first.created > 0 and second.created == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 21
    raw = db.session.execute(text("SELECT street FROM home LIMIT 1")).scalar()
    assert raw.startswith("gAAAA")
    home = db.session.scalars(select(Home).limit(1)).one()
    assert not home.street.startswith("gAAAA")
    user = AccountService(db.session).authenticate("beheerder@duinwijk.example", DEMO_PASSWORD)
    assert user is not None and user.primary_role == "admin"
    # Aware datetimes come back from SQLite too.
    assert user.created_at.tzinfo is not None
