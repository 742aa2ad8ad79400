"""A request's database connection, as the pool of a running app hands it out: one
transaction with the token's authentication inside, no ping on checkout, and a connection
the server dropped replaced instead of failing the request.

These tests use the app's own engine and pool (not the rolled-back test connection), on
rows really committed, and watch what reaches PostgreSQL through libpq's trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from housing.accounts.models import ApiToken
from housing.db import _discard_dropped, db
from housing.organisations.accounts import AccountAdministration

# One protocol message of the trace: a line starting with its timestamp, then the text of
# a statement, which may run over several lines.
_MESSAGE = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:.]+\t(F|B)\t\d+\t(\w+)(.*?)(?=^\d{4}-\d\d-\d\d |\Z)", re.M | re.S
)


@pytest.fixture
def engine(app) -> Engine:
    with app.app_context():
        return db.engine


@pytest.fixture
def caller(app, committed_worlds, engine) -> Iterator[dict[str, Any]]:
    """A committed assessor's bearer token and a test client on the app's own pool."""
    world = committed_worlds("Gemeente Verbinding")
    _token, secret = AccountAdministration(world.session).issue_token(world.assessor, "pool")
    world.session.commit()
    engine.dispose()  # every connection of these tests is made by them
    yield {
        "client": app.test_client(),
        "headers": {"Authorization": f"Bearer {secret}"},
        "email": world.assessor.email,
    }
    engine.dispose()
    with Session(engine) as s:  # the tokens go before their users do
        s.execute(ApiToken.__table__.delete().where(ApiToken.user_id == world.assessor.id))
        s.commit()


@pytest.fixture
def errors(engine) -> Iterator[list[bool]]:
    """For each error a statement of the app meets, whether it was a disconnect."""
    seen: list[bool] = []

    def record(context: Any) -> None:
        seen.append(context.is_disconnect)

    event.listen(engine, "handle_error", record)
    yield seen
    event.remove(engine, "handle_error", record)


class Trace:
    """What the app's connections send PostgreSQL, read from libpq's trace of each."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.file = path.open("w+b")
        self.traced: list[Any] = []

    def __enter__(self) -> Trace:
        event.listen(self.engine, "connect", self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "connect", self._trace)
        for connection in self.traced:
            if not connection.closed:
                connection.pgconn.untrace()
        self.engine.dispose()
        self.file.close()

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.pgconn.trace(self.file.fileno())
        self.traced.append(dbapi_connection)

    def statements(self) -> list[str]:
        """Every statement sent since the last call: BEGIN, COMMIT and pings included."""
        self.file.seek(0)
        text = self.file.read().decode(errors="replace")
        self.file.seek(0)
        self.file.truncate()
        sent: list[str] = []
        executed = 0
        for direction, kind, rest in _MESSAGE.findall(text):
            if direction != "F":
                continue
            if kind in ("Query", "Parse"):
                sent.append(rest.strip().removeprefix('"" ').strip('"').split('"')[0].strip())
            executed += kind == "Execute"
        # Every statement's text is in the trace (none ran as an earlier prepared one).
        assert executed == sum(kind == "Parse" for d, kind, _ in _MESSAGE.findall(text) if d == "F")
        return sent


def shape(statements: list[str]) -> list[str]:
    """Each statement as its first word and, for the token's, the tables it reads."""
    shaped = []
    for statement in statements:
        word = statement.split()[0].upper() if statement.split() else repr(statement)
        if "api_token" in statement:
            tables = [t for t in ("api_token", "user_account", "user_role") if t in statement]
            word = f"{word} {'+'.join(tables)}"
        shaped.append(word)
    return shaped


def terminate_the_apps_connections(engine: Engine) -> list[int]:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as killer:
        rows = killer.execute(
            "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        ).fetchall()
    assert rows and all(done for _pid, done in rows), rows
    return [pid for pid, _done in rows]


def test_an_authenticated_get_is_one_transaction_and_one_statement_for_the_token(
    engine, caller, tmp_path
):
    client, headers = caller["client"], caller["headers"]
    with Trace(engine, tmp_path / "trace") as trace:
        first = client.get("/api/v1/me", headers=headers)
        first_sent = trace.statements()
        second = client.get("/api/v1/me", headers=headers)
        second_sent = trace.statements()

    assert first.status_code == second.status_code == 200
    assert second.get_json()["email"] == caller["email"]
    # The token, its user and the user's roles in one SELECT inside the request's one
    # transaction; then the answer (the organisation and its eligible offices). The token's
    # first use is written last, in the same transaction; the second request, within
    # minutes, writes nothing. No ping: the second request's connection came from the pool.
    assert shape(first_sent) == [
        "BEGIN",
        "SELECT api_token+user_account+user_role",
        "SELECT",
        "SELECT",
        "UPDATE api_token",
        "COMMIT",
    ], first_sent
    assert shape(second_sent) == [
        "BEGIN",
        "SELECT api_token+user_account+user_role",
        "SELECT",
        "SELECT",
        "COMMIT",
    ], second_sent


def test_a_checkout_sends_no_ping(engine, caller, tmp_path):
    client, headers = caller["client"], caller["headers"]
    with Trace(engine, tmp_path / "trace") as trace:
        for _ in range(3):
            assert client.get("/api/v1/me", headers=headers).status_code == 200
        sent = trace.statements()

    # Three checkouts of one pooled connection: three transactions, nothing in between.
    assert shape(sent).count("BEGIN") == 3
    assert shape(sent)[0] == "BEGIN"
    assert not [s for s in sent if s in ("", ";") or s.upper().startswith("SELECT 1")], sent


def test_a_connection_the_server_dropped_does_not_fail_the_next_request(engine, caller, errors):
    client, headers = caller["client"], caller["headers"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    errors.clear()
    terminate_the_apps_connections(engine)
    after = client.get("/api/v1/me", headers=headers)

    assert after.status_code == 200, after.text
    assert after.get_json()["email"] == caller["email"]
    # The pool saw it at checkout: no statement was sent on the dead connection.
    assert errors == []


def test_a_dropped_connection_the_pool_did_not_notice_is_replaced_at_the_first_statement(
    engine, caller, errors
):
    """The server's words were not read at checkout (a host gone without a word looks the
    same): the request's first statement fails, and is sent again on a new connection."""
    client, headers = caller["client"], caller["headers"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    errors.clear()
    event.remove(Engine, "checkout", _discard_dropped)
    try:
        terminate_the_apps_connections(engine)
        after = client.get("/api/v1/me", headers=headers)
    finally:
        event.listen(Engine, "checkout", _discard_dropped)

    assert after.status_code == 200, after.text
    assert after.get_json()["email"] == caller["email"]
    assert errors == [True]  # the one disconnect, met by the first statement and retried
