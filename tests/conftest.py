"""Test fixtures: a real PostgreSQL built by the migrations, a real Redis, and a
SAVEPOINT per test that is rolled back, so tests are fast and independent."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from housing import create_app
from housing.config import Settings
from housing.db import db
from housing.extensions import limiter

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
RUN_ID = uuid.uuid4().hex[:8]
# One database per test run, so two runs on one machine never meet.
TEST_DATABASE = f"housing_test_{os.getpid()}_{RUN_ID}"
PASSWORD = "correct-horse-battery-staple"

pytest_plugins = ["celery.contrib.pytest", "tests.oidc"]
# The builders assert too: rewrite them, so a failing builder explains itself as a test does.
pytest.register_assert_rewrite("tests.builders")


def _require_services() -> None:
    problems = []
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        problems.append(f"PostgreSQL at {PG_ADMIN_URL}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis at {REDIS_URL}: {exc}")
    if problems:
        # Fail the run loudly; never skip: the suite means nothing without the real parts.
        pytest.exit("Test services unreachable (run `make test`):\n" + "\n".join(problems), 3)


def _drop_abandoned_databases(conn: psycopg.Connection) -> None:
    """Drop test databases of runs that died before their own teardown."""
    names = conn.execute(
        "SELECT datname FROM pg_database WHERE datname ~ '^housing_(test|migrations)_[0-9]+_'"
    ).fetchall()
    for (name,) in names:
        pid = int(name.split("_")[2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except PermissionError:
            continue  # alive, another user's run


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    _require_services()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        _drop_abandoned_databases(conn)
        conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{TEST_DATABASE}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')


def make_test_config(database_url: str, tmp: Path, **extra: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": f"{REDIS_URL}/15",
        "RATELIMIT_KEY_PREFIX": f"test-{RUN_ID}",
        # The storage's own prefix too: resetting after a test clears this run's counters
        # only, never those of another run on the same Redis at the same moment.
        "RATELIMIT_STORAGE_OPTIONS": {"key_prefix": f"limits-test-{RUN_ID}"},
        "MAIL_FILE_DIR": str(tmp / "mail"),
        "SERVER_NAME": "localhost",
        # No worker runs in most tests: the outbox tests switch the relay on themselves.
        "OUTBOX_RELAY_ON_COMMIT": False,
        **extra,
    }


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("instance")
    os.environ["HOUSING_INSTANCE_PATH"] = str(tmp)
    application = create_app(make_test_config(database_url, tmp))
    # Builders keep documents where the app's pages read them: its DOCUMENT_ROOT.
    from tests.builders.claims import World

    World.app_config = application.config
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()  # the schema comes from the migrations, never from create_all()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def document_root(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own document folder as the app's DOCUMENT_ROOT: the pages, the API, the
    outbox handlers and the builders' World (made after this fixture) keep documents there."""
    root = tmp_path / "documents"
    monkeypatch.setitem(app.config, "DOCUMENT_ROOT", str(root))
    return root


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """db.session on one connection whose outer transaction is rolled back at the end.

    No app context stays pushed during the test: each request of the test client pushes
    its own, as in production, so `g` never leaks from one request into the next.
    """
    with app.app_context():
        engine = db.engine
    connection = engine.connect()
    outer = connection.begin()
    original = db.session
    # One session for the whole test (requests included), joined to the outer transaction
    # through SAVEPOINTs, so a commit in a view never reaches the database for real.
    db.session = scoped_session(
        sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
        scopefunc=lambda: "test",
    )
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture
def count_queries(session: Session) -> Callable[[], AbstractContextManager[list[str]]]:
    """Catch N+1 queries: `with count_queries() as queries:` collects each statement sent.

    It listens on the test's own connection, which the test client's requests share, so a
    page's statements are counted and those of other tests or connections never are. To
    compare two requests, `session.remove()` first: a request starts from an empty session.
    """
    connection = session.get_bind()
    assert isinstance(connection, Connection)

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def before_cursor_execute(
            conn: Connection, cursor: Any, statement: str, *args: Any
        ) -> None:
            statements.append(statement)

        event.listen(connection, "before_cursor_execute", before_cursor_execute)
        try:
            yield statements
        finally:
            event.remove(connection, "before_cursor_execute", before_cursor_execute)

    return counting


@pytest.fixture(autouse=True)
def _reset_rate_limits(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" in request.fixturenames:
        app = request.getfixturevalue("app")
        with app.app_context():
            limiter.reset()


@pytest.fixture
def client(app: Flask, session: Session) -> FlaskClient:
    return app.test_client()


CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_from(html: str) -> str:
    found = CSRF_PATTERN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> str:
    """Log in through the real forms, the second step too (with a code of the user's own
    app, or setting one up as the page asks); returns a CSRF token valid for this session."""
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 302, response.text
    pass_second_step(client, email, response.headers["Location"])
    return csrf_from(client.get("/profile").text)


def pass_second_step(client: FlaskClient, email: str, location: str) -> None:
    """After the password: enter the code, or set the app up first (a staff user without
    one), where the login sent the user; nothing to do when it sent them in."""
    from tests.second_factor import code_for, secret_on, unused_code

    if location.endswith("/login/code"):
        page = client.get(location)
        # In an app context, as a request reads: the test's session, or (for data committed
        # for real) the app's own.
        with client.application.app_context():
            code = unused_code(db.session, normalised_email(email), commit=True)
        response = client.post(location, data={"code": code, "csrf_token": csrf_from(page.text)})
        assert response.status_code == 302, response.text
    elif location.endswith("/login/enrol"):
        page = client.get(location)
        code = code_for(secret_on(page.text))
        response = client.post(location, data={"code": code, "csrf_token": csrf_from(page.text)})
        assert response.status_code == 200 and "herstelcodes" in response.text, response.text


def normalised_email(email: str) -> str:
    return email.strip().lower()


def celery_on_redis(app: Flask, monkeypatch: pytest.MonkeyPatch, queue: str, **extra: Any):  # type: ignore[no-untyped-def]
    """Bind the app's Celery to the real Redis, on a queue of this run's own."""
    from workers import celery_init_app

    settings = Settings.from_env({"CELERY_BROKER_URL": f"{REDIS_URL}/14"})
    config = {
        **settings.flask_config()["CELERY"],
        # A queue of this run's own, so nothing else on this Redis takes our tasks.
        "task_default_queue": f"test-{queue}-{RUN_ID}",
        **extra,
    }
    monkeypatch.setitem(app.config, "CELERY", config)
    monkeypatch.setitem(app.extensions, "celery", app.extensions.get("celery"))
    return celery_init_app(app)


@contextmanager
def factories_on(target: Session) -> Iterator[Session]:
    """The factories write through db.session: point it at `target` for a while."""
    original, db.session = db.session, target  # type: ignore[assignment]
    try:
        yield target
    finally:
        db.session = original


@pytest.fixture
def committed_worlds(app: Flask) -> Iterator[Callable[..., Any]]:
    """Worlds whose rows are really committed (a worker, other connections see them).

    For tests that need more than one connection; each world is removed afterwards.
    """
    from tests.builders.claims import World, remove_organisation

    with app.app_context():
        engine = db.engine
    made: list[int] = []
    sessions: list[Session] = []

    def build(name: str, extra: Callable[[Any], None] | None = None) -> Any:
        setup = Session(engine, expire_on_commit=False)
        sessions.append(setup)
        with factories_on(setup):
            world = World(setup, name=f"{name} {RUN_ID}")
            if extra is not None:
                extra(world)
                setup.commit()
        made.append(world.org.id)
        return world

    yield build
    for opened in sessions:
        opened.close()
    for org_id in made:
        remove_organisation(engine, org_id)
