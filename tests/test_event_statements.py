"""What a workflow event costs the database (issue 15): the statements of the benchmark's
propose_decision and send_back through the API, exactly, however long the claim's history;
and the per-process cache of the organisations' rules that keeps them few, across two app
instances on one database.

Two ways of counting. `count_queries` sees what SQLAlchemy sends on the test's connection,
where the request's transaction is a SAVEPOINT. `sent_to_postgres` reads libpq's own trace
of an app that commits for real, as ../shared/bench/ours/ours_queries.py does: every
statement that reaches the server, BEGIN and COMMIT included, so nothing after the COMMIT
(no reload of the answer, no ROLLBACK at the request's end) goes unseen.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session

from housing import create_app
from housing.accounts.models import ApiToken
from housing.claims.models import Claim
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.deadlines.models import EquatedDay
from housing.organisations.models import Organisation
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.conftest import factories_on, login, make_test_config
from tests.factories import ClaimFactory, UserFactory

# The benchmark's claim (../shared/bench/ours/seed_ours.py): regime A, in assessment, one
# basic measure of EUR 500 incl. VAT.
ONE_LINE = [("letterbox_security", "500.00", "86.78")]
BEFORE_REGIME_B = dt.date(2023, 6, 1)
# What each of the two events sends between the transaction's start and its end, in order:
# the token with its user and roles, the claim locked with all the event reads, the claim
# and its line written, and the audit link (its chain head, then the link itself).
EVENT = [
    "select token",
    "lock claim",
    "update claim",
    "update measure_line",
    "audit head",
    "audit link",
]
ADVICE = {
    "reference": "BZK-2026-17",
    "advice_date": "2026-03-02",
    "advised_measures": ["cameras", "freestanding_letterbox"],
}
# One message of libpq's trace: "time<TAB>F|B<TAB>length<TAB>type<TAB>fields", its fields
# running over more lines where a statement does.
MESSAGE = re.compile(
    r"^[^\t\n]*\t([FB])\t\d+\t(\w+)\t?(.*?)(?=\n[^\t\n]*\t[FB]\t\d+\t|\Z)", re.M | re.S
)


def sent(trace: str) -> list[str]:
    """The statements in libpq's trace: each simple Query, each Parse of one to execute."""
    statements = []
    for direction, message, fields in MESSAGE.findall(trace):
        if direction != "F" or message not in ("Query", "Parse"):
            continue
        if message == "Parse":  # "name" "statement" parameter types...
            fields = fields.split('" "', 1)[1]
        statements.append(
            fields[fields.index('"') + 1 if message == "Query" else 0 : fields.rindex('"')]
        )
    return statements


def kind(statement: str) -> str:
    """A statement named by what it does, to compare sequences of them."""
    text = " ".join(statement.strip('" ').split())
    for label, pattern in (
        ("BEGIN", r"^BEGIN\b"),
        ("COMMIT", r"^COMMIT\b"),
        ("ROLLBACK", r"^ROLLBACK\b"),
        ("SAVEPOINT", r"^SAVEPOINT\b"),
        ("RELEASE", r"^RELEASE SAVEPOINT\b"),
        ("select token", r"^SELECT .* FROM api_token\b"),
        ("lock claim", r"^SELECT claim\.id, .* FOR UPDATE OF claim$"),
        ("update claim", r"^UPDATE claim SET "),
        ("update measure_line", r"^UPDATE measure_line SET "),
        ("audit head", r"^INSERT INTO audit_chain_head\b"),
        ("audit link", r"^WITH moved_head AS .* INSERT INTO audit_event\b"),
    ):
        if re.search(pattern, text):
            return label
    return text[:120]


def in_assessment(world: World) -> tuple[int, int]:
    """The benchmark's claim in the world: its id and its one line's."""
    claim: Claim = ClaimFactory(
        in_assessment=True, home=world.home, application_date=BEFORE_REGIME_B, lines=ONE_LINE
    )
    return claim.id, claim.lines[0].id


class Events:
    """The benchmark's two events on one claim, by its assessor and its decider."""

    def __init__(
        self,
        client: FlaskClient,
        claim_id: int,
        line_id: int,
        assessor: dict[str, str],
        decider: dict[str, str],
    ) -> None:
        self.client, self.claim_id, self.line_id = client, claim_id, line_id
        self.assessor, self.decider = assessor, decider

    def fire(self, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post(
            f"/api/v1/claims/{self.claim_id}/events", headers=headers, json=body
        )
        assert answer.status_code == 200, answer.text
        fired: dict[str, Any] = answer.get_json()
        return fired

    def propose(self) -> dict[str, Any]:
        granted = {"granted": {str(self.line_id): "500.00"}}
        return self.fire(self.assessor, {"event": "propose_decision", "details": granted})

    def send_back(self) -> dict[str, Any]:
        return self.fire(self.decider, {"event": "send_back"})

    def cycles(self, n: int) -> None:
        for _ in range(n):
            assert self.propose()["state"] == "decision_proposed"
            assert self.send_back()["state"] == "in_assessment"


# --- on the test's connection ---------------------------------------------------------------


def test_propose_and_send_back_send_eight_statements_however_long_the_history(
    client, session, count_queries
):
    world = World(session)
    claim_id, line_id = in_assessment(world)
    events = Events(
        client, claim_id, line_id, bearer(session, world.assessor), bearer(session, world.decider)
    )
    # The tokens' first use is written once, and this app's copy of the organisation's
    # rules is read once: a warm process, as the benchmark measures it.
    events.cycles(1)

    def counted() -> tuple[list[str], list[str]]:
        session.remove()  # each request starts from an empty session
        with count_queries() as proposing:
            proposed = events.propose()
        session.remove()
        with count_queries() as sending_back:
            sent_back = events.send_back()
        assert (proposed["state"], sent_back["state"]) == ("decision_proposed", "in_assessment")
        assert proposed["lines"][0]["granted_amount"] == "500.00"
        assert sent_back["lines"][0]["granted_amount"] is None
        return [kind(s) for s in proposing], [kind(s) for s in sending_back]

    early = counted()
    assert early == (["SAVEPOINT", *EVENT, "RELEASE"], ["SAVEPOINT", *EVENT, "RELEASE"])

    events.cycles(5)  # twelve more links in the claim's history
    assert counted() == early


def test_the_claim_is_locked_with_only_the_facts_its_event_reads(client, session, count_queries):
    world = World(session)
    claim_id, line_id = in_assessment(world)
    events = Events(
        client, claim_id, line_id, bearer(session, world.assessor), bearer(session, world.decider)
    )
    events.cycles(1)
    session.remove()
    with count_queries() as proposing:
        events.propose()
    session.remove()
    with count_queries() as sending_back:
        events.send_back()
    (propose_lock,) = [s for s in proposing if kind(s) == "lock claim"]
    (send_back_lock,) = [s for s in sending_back if kind(s) == "lock claim"]
    # Both: the lines, whose office holder it is, whom the actor acts for, any decision.
    for lock in (propose_lock, send_back_lock):
        assert "measure_line_1" in lock and "office_holder_1" in lock
        assert "string_agg" in lock and "FROM decision" in lock
    # The proposal's rules: the home's earlier regime A grants, the advice, and the
    # organisation's rules version (its cap, from this app's copy).
    assert "sum(measure_line.granted_amount)" in propose_lock
    assert "security_advice" in propose_lock and "rules_version" in propose_lock
    # Sending back reads none of those; neither reads the audit trail or the requests.
    for absent in ("sum(measure_line.granted_amount)", "security_advice", "rules_version"):
        assert absent not in send_back_lock
    for lock in (propose_lock, send_back_lock):
        assert "audit_event" not in lock and "information_request" not in lock
    # Neither event can move the decision deadline: nothing of the Atw calendar is read.
    assert not [s for s in proposing + sending_back if "equated_day" in s]


# --- an app that commits for real, traced by libpq ------------------------------------------


@contextmanager
def sent_to_postgres(engine: Engine) -> Iterator[list[str]]:
    """Every statement the app's connections send PostgreSQL in the block, from libpq's
    trace. Automatic prepared statements are off while it traces, so each statement's text
    travels (a prepared one would travel once, before the block perhaps)."""
    statements: list[str] = []
    kept: dict[int, Any] = {}
    with tempfile.TemporaryFile() as trace:

        def on(dbapi_connection: Any, *_: Any) -> None:
            kept[id(dbapi_connection)] = dbapi_connection.prepare_threshold
            dbapi_connection.prepare_threshold = None
            dbapi_connection.pgconn.trace(trace.fileno())

        def off(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.untrace()
            dbapi_connection.prepare_threshold = kept.pop(id(dbapi_connection), 5)

        event.listen(engine, "checkout", on)
        event.listen(engine, "checkin", off)
        try:
            yield statements
        finally:
            event.remove(engine, "checkout", on)
            event.remove(engine, "checkin", off)
            trace.seek(0)
            statements.extend(sent(trace.read().decode(errors="replace")))


@pytest.fixture
def bench_claim(app, committed_worlds) -> Iterator[dict[str, Any]]:
    """The benchmark's claim, committed, with its assessor's and decider's tokens."""
    world = committed_worlds("Gemeente Bank")
    with factories_on(world.session):
        claim_id, line_id = in_assessment(world)
        world.session.commit()  # the lines too, which the factory only flushes
        assessor = bearer(world.session, world.assessor)
        decider = bearer(world.session, world.decider)
    yield {
        "world": world,
        "claim_id": claim_id,
        "line_id": line_id,
        "assessor": assessor,
        "decider": decider,
    }
    with app.app_context():
        engine = db.engine
    with Session(engine) as s:  # the tokens go before their users do
        s.execute(
            delete(ApiToken).where(ApiToken.user_id.in_([world.assessor.id, world.decider.id]))
        )
        s.commit()


def test_what_reaches_postgres_is_begin_six_statements_commit_and_nothing_after(app, bench_claim):
    with app.app_context():
        engine = db.engine
    client = app.test_client()
    events = Events(
        client,
        bench_claim["claim_id"],
        bench_claim["line_id"],
        bench_claim["assessor"],
        bench_claim["decider"],
    )
    events.cycles(1)

    def traced() -> tuple[list[str], list[str]]:
        with sent_to_postgres(engine) as proposing:
            events.propose()
        with sent_to_postgres(engine) as sending_back:
            events.send_back()
        return [kind(s) for s in proposing], [kind(s) for s in sending_back]

    early = traced()
    # Eight, as the benchmark counts them: the answer is built from what the event loaded
    # before its COMMIT, and the connection goes back to the pool with nothing to undo.
    assert early == (["BEGIN", *EVENT, "COMMIT"], ["BEGIN", *EVENT, "COMMIT"])
    events.cycles(5)
    assert traced() == early


# --- two app instances, one database --------------------------------------------------------


@pytest.fixture
def other_app(database_url, tmp_path) -> Iterator[Flask]:
    """A second instance of the app on the same database: another process, as it were,
    with its own copy of the organisations' rules."""
    second = create_app(make_test_config(database_url, tmp_path))
    yield second
    with second.app_context():
        db.engine.dispose()


@pytest.fixture
def shared(app, committed_worlds, bench_claim) -> Iterator[dict[str, Any]]:
    """The benchmark's claim, an applicant's token, and the organisation's administrator."""
    world = bench_claim["world"]
    with factories_on(world.session):
        admin = UserFactory(organisation=world.org, roles={Role.ADMIN})
        applicant = bearer(world.session, world.applicant)
    yield {**bench_claim, "admin": admin, "applicant": applicant}
    with app.app_context():
        engine = db.engine
    with Session(engine) as s:
        s.execute(delete(ApiToken).where(ApiToken.user_id == world.applicant.id))
        s.commit()


def rules_version(engine: Engine, organisation_id: int) -> str:
    with Session(engine) as s:
        version: str = s.scalar(
            select(Organisation.rules_version).where(Organisation.id == organisation_id)
        )
        return version


def test_a_cap_changed_through_one_app_holds_in_the_other_at_its_next_request(
    app, other_app, shared
):
    world = shared["world"]
    with app.app_context():
        engine = db.engine
    events = Events(
        other_app.test_client(),
        shared["claim_id"],
        shared["line_id"],
        shared["assessor"],
        shared["decider"],
    )
    events.cycles(1)  # the other app now keeps the organisation's rules: a cap of 2400
    before = rules_version(engine, world.org.id)

    admin_pages = app.test_client()
    csrf = login(admin_pages, shared["admin"].email)
    saved = admin_pages.post(
        f"/admin/organisations/{world.org.id}/terms",
        data={
            "decision_weeks": "8",
            "information_term_days": "14",
            "not_considered_weeks": "4",
            "regime_a_cap": "400,00",
            "eligible_offices": ["burgemeester", "wethouder"],
            "csrf_token": csrf,
        },
    )
    assert saved.status_code == 302, saved.text
    assert rules_version(engine, world.org.id) != before

    refused = events.client.post(
        f"/api/v1/claims/{shared['claim_id']}/events",
        headers=shared["assessor"],
        json={
            "event": "propose_decision",
            "details": {"granted": {str(shared["line_id"]): "500.00"}},
        },
    )
    assert refused.status_code == 422, refused.text
    assert refused.get_json()["errors"]["rule"] == ["regime_a_cap"]
    assert "400.00" in refused.get_json()["errors"]["detail"][0]


def test_a_day_equated_through_one_app_moves_the_deadline_the_other_computes_next(
    app, other_app, shared
):
    world = shared["world"]
    with app.app_context():
        engine = db.engine
    with factories_on(world.session):
        first, second = (
            ClaimFactory(
                home=world.home,
                application_date=amsterdam_today(),
                lines=[("cameras", "900.00", "156.20")],
            )
            for _ in range(2)
        )
        first_id, second_id = first.id, second.id
        world.session.commit()
    submitting = other_app.test_client()

    def submit(claim_id: int) -> dt.date:
        answer = submitting.post(
            f"/api/v1/claims/{claim_id}/events",
            headers=shared["applicant"],
            json={"event": "submit"},
        )
        assert answer.status_code == 200, answer.text
        return dt.date.fromisoformat(answer.get_json()["deadline"]["decision_deadline"])

    deadline = submit(first_id)  # a working day, no holiday: the Atw stretched it there
    admin_pages = app.test_client()
    csrf = login(admin_pages, shared["admin"].email)
    try:
        equated = admin_pages.post(
            "/admin/holidays",
            data={"day": deadline.isoformat(), "description": "Besluit", "csrf_token": csrf},
        )
        assert equated.status_code == 302, equated.text
        # Received the same day, decided a working day later: the day is a holiday now.
        assert submit(second_id) > deadline
    finally:
        with Session(engine) as s:  # through the ORM: every organisation is stamped again
            added = s.get(EquatedDay, deadline)
            if added is not None:
                s.delete(added)
                s.commit()


# --- the decision deadline, recomputed only by the events that move it ------------------------


def test_only_receipt_and_information_requests_recompute_the_deadline(session, count_queries):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    computed = claim.decision_deadline
    assert computed == dt.date(2026, 4, 28)
    # A stored deadline no event recomputes stays as it stands: set one apart to see it.
    apart = computed + dt.timedelta(days=100)
    claim.decision_deadline = apart
    session.commit()
    with count_queries() as statements:
        world.fire(world.assessor, claim, "start_assessment")
        world.fire(world.assessor, claim, "request_advice")
    assert claim.decision_deadline == apart
    assert not [s for s in statements if re.search(r"\b(equated_day|information_request)\b", s)]

    world.fire(world.assessor, claim, "record_advice", details=ADVICE)
    world.fire(world.assessor, claim, "request_info", details={"question": "Offerte?"})
    # Asked for information: computed again, the 14 days of the request held.
    assert claim.decision_deadline == dt.date(2026, 5, 11)
    claim.decision_deadline = apart
    session.commit()
    world.clock.advance(3)
    world.fire(world.applicant, claim, "provide_info", details={"answer": "Bijgevoegd"})
    assert claim.decision_deadline == dt.date(2026, 4, 30)  # held three days only
