"""The API's reads cost a fixed number of statements, whatever a claim's history or the size
of the organisation (issue 15): the claim detail and the list, counted statement by statement,
and the list paged by a cursor that no claim added meanwhile can shift."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import func, insert, select

from housing.audit.models import AccessLog
from housing.claims.models import Claim, MeasureLine
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.factories import ClaimFactory, UserFactory

# What a request sends PostgreSQL, in order. In the tests a request's transaction is a
# SAVEPOINT on the test's connection; in production it is BEGIN ... COMMIT.
DETAIL = [
    "SAVEPOINT",
    "SELECT user_role",  # the token, its user and their roles (housing.api.auth)
    # The claim with everything its detail shows, and the read's access-log row written
    # by the same statement (claim_detail): every read of a claim is logged.
    "WITH read_logged AS (INSERT INTO access_log",
    "RELEASE SAVEPOINT",
]
LIST = [
    "SAVEPOINT",
    "SELECT user_role",
    "SELECT anon_1",  # the page of claims with their lines
    "SELECT decision",  # the page's decisions
    "RELEASE SAVEPOINT",
]
# The Atw calendar, read once a decided claim's objection deadline is computed.
CALENDAR = "SELECT equated_day"
# An organisation's rules as a process reads them for its cache (housing.deadlines.rules).
RULES = ["SELECT organisation", "SELECT eligible_office", CALENDAR]


@pytest.fixture
def counted(client, session, count_queries):
    """`counted(path, headers)`: the response and what each statement sent began with."""

    def request(path, headers):
        # A request starts from an empty session, as in production: no row loaded already.
        session.remove()
        with count_queries() as statements:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response, [_kind(statement) for statement in statements]

    return request


def _kind(statement: str) -> str:
    words = statement.split()
    if words[0] == "RELEASE":
        return "RELEASE SAVEPOINT"
    if words[0] == "SAVEPOINT":
        return "SAVEPOINT"
    if words[0] == "INSERT":
        return " ".join(words[:3])
    if words[0] == "WITH":
        # A statement with a data-modifying CTE: named by the CTE and what it writes.
        return " ".join(words[:6])
    # What the statement reads first names it: its first column's table.
    return f"SELECT {words[1].split('.')[0]}"


def _tokens(session, *users):
    """Bearer headers, one per user."""
    return [bearer(session, user) for user in users]


def _cycles(world, claim, count):
    """Send the proposal back and propose again, `count` times: two audit links each."""
    for _ in range(count):
        world.fire(world.decider, claim, "send_back")
        granted = {line.id: line.requested_amount for line in claim.lines}
        world.fire(world.assessor, claim, "propose_decision", details={"granted": granted})


def _warm(client, *headers):
    """Use each token once: its first use writes `last_used_at`, the requests counted not."""
    for header in headers:
        assert client.get("/api/v1/me", headers=header).status_code == 200


def test_the_claim_detail_costs_the_same_statements_however_long_its_history(
    client, session, counted
):
    world = World(session)
    assessor, applicant, decider = _tokens(session, world.assessor, world.applicant, world.decider)
    _warm(client, assessor, applicant, decider)
    claim = world.proposed()
    _cycles(world, claim, 1)
    path = f"/api/v1/claims/{claim.id}"

    short = {}
    for who, headers in (("assessor", assessor), ("applicant", applicant), ("decider", decider)):
        response, statements = counted(path, headers)
        assert statements == DETAIL, who
        short[who] = response.get_json()
    _cycles(world, claim, 5)
    for who, headers in (("assessor", assessor), ("applicant", applicant), ("decider", decider)):
        response, statements = counted(path, headers)
        assert statements == DETAIL, who
        body = response.get_json()
        # Ten audit links more, read in the same one statement.
        assert len(body["history"]) == len(short[who]["history"]) + 10
        assert body["lines"] == short[who]["lines"] and len(body["lines"]) == 2
        # Only what this reader may fire: the decider decides, the others wait.
        assert body["allowed_events"] == short[who]["allowed_events"]
        assert ("grant" in body["allowed_events"]) is (who == "decider")
    assert [entry["sequence"] for entry in body["history"]] == sorted(
        entry["sequence"] for entry in body["history"]
    )
    # Six reads, six entries in the access log: one per read, as before.
    reads = select(func.count()).where(AccessLog.claim_id == claim.id)
    assert session.scalar(reads) == 6


def test_a_decided_claims_calendar_comes_from_the_process_rules(
    client, session, counted, monkeypatch
):
    """The late decision, the decisions and the letter come with the claim, and so does the
    organisation's rules version: a decided claim's objection deadline takes the Atw
    calendar from the rules the process keeps, read once per version, not per request."""
    world = World(session)
    world.serve_pages(monkeypatch)
    applicant, decider = _tokens(session, world.applicant, world.decider)
    _warm(client, applicant, decider)
    claim = world.proposed()
    # Nine weeks after receipt: the deadline has passed; the applicant gives notice online.
    world.clock.advance(63)
    world.late.record_default_notice(world.scope(world.applicant), world.applicant, claim.id)
    session.commit()
    world.fire(world.decider, claim, "grant")
    path = f"/api/v1/claims/{claim.id}"

    first, statements = counted(path, decider)
    # The process has not read this organisation's rules yet: read them once.
    with_rules = [*DETAIL[:3], *RULES, DETAIL[3]]
    assert statements == with_rules
    body = first.get_json()
    assert body["deadline"]["clock"] == "decided" and body["deadline"]["objection_deadline"]
    assert body["late_decision"]["notice_received_on"] == world.clock.now.date().isoformat()
    assert body["late_decision"]["penalty_starts_on"] is not None
    assert body["decision_letter"]["kind"] == "grant" and body["letter_being_prepared"]

    again, statements = counted(path, applicant)
    assert statements == DETAIL
    assert again.get_json()["deadline"] == body["deadline"]


def test_the_list_costs_the_same_statements_for_10_and_150_claims(client, session, counted):
    world = World(session)
    (assessor,) = _tokens(session, world.assessor)
    _warm(client, assessor)
    assessor_id = world.assessor.id
    for _ in range(10):
        ClaimFactory(home=world.home, in_assessment=True, assessor_id=assessor_id)
    session.commit()
    path = "/api/v1/claims?page=1&page_size=100"

    few, statements = counted(path, assessor)
    assert statements == LIST and len(few.get_json()) == 10
    _copies(
        session, ClaimFactory(home=world.home, in_assessment=True, assessor_id=assessor_id), 139
    )
    session.commit()
    many, statements = counted(path, assessor)
    assert statements == LIST and len(many.get_json()) == 100
    # Nobody asked for the total: the whole organisation is not counted.
    assert json.loads(many.headers["X-Pagination"]) == {"page": 1, "first_page": 1, "next_page": 2}
    _, statements = counted(f"{path}&count=true", assessor)
    assert statements == [*LIST[:3], "SELECT count(*)", *LIST[3:]]


def test_decided_claims_of_many_office_holders_cost_no_statement_each(client, session, counted):
    """A decided claim's objection deadline needs its organisation's terms and the Atw
    calendar: read once per list, never per claim or per office holder."""
    world = World(session)
    (assessor,) = _tokens(session, world.assessor)
    _warm(client, assessor)
    for _ in range(3):
        ClaimFactory(home__office_holder__organisation=world.org)
    small = [("cameras", "100.00", "0.00")]  # within the world's budget, eight times over

    def granted():
        return ClaimFactory(granted=True, home__office_holder__organisation=world.org, lines=small)

    decided = [granted() for _ in range(2)]
    session.commit()
    once = [*LIST[:4], CALENDAR, "SELECT organisation", LIST[4]]

    _, statements = counted("/api/v1/claims?page_size=100", assessor)
    assert statements == once
    for _ in range(6):
        decided.append(granted())
    session.commit()
    many, statements = counted("/api/v1/claims?page_size=100", assessor)
    assert statements == once
    shown = {claim["id"]: claim["deadline"] for claim in many.get_json()}
    assert {ident for ident, deadline in shown.items() if deadline["clock"] == "decided"} == {
        claim.id for claim in decided
    }
    assert all(shown[claim.id]["objection_deadline"] for claim in decided)


def _copies(session, claim, count):
    """`count` claims like `claim`, each with a copy of its first line, inserted in bulk."""
    columns = ("organisation_id", "office_holder_id", "home_id", "filed_by_id", "regime", "state")
    columns += ("application_date", "received_on", "decision_deadline", "assessor_id")
    ids = session.scalars(
        insert(Claim).returning(Claim.id),
        [
            {**{name: getattr(claim, name) for name in columns}, "number": f"{claim.number}-{i}"}
            for i in range(count)
        ],
    ).all()
    line = claim.lines[0]
    columns = ("catalogue_id", "description", "requested_amount", "vat_amount", "recurrence")
    session.execute(
        insert(MeasureLine),
        [{**{name: getattr(line, name) for name in columns}, "claim_id": ident} for ident in ids],
    )


def _next(response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found, link
    return found.group(1)


def test_pages_follow_the_link_through_claims_with_and_without_a_deadline(client, session):
    world = World(session)
    (assessor,) = _tokens(session, world.assessor)
    same_day = dt.date(2026, 5, 1)
    # Applied for on these days: the factory gives each the deadline the service would.
    for day in (same_day, same_day, dt.date(2026, 4, 1), same_day, dt.date(2026, 6, 1)):
        ClaimFactory(
            home=world.home, submitted=True, application_date=day, assessor_id=world.assessor.id
        )
    for _ in range(4):  # drafts: no deadline, listed last
        ClaimFactory(home=world.home)
    session.commit()
    whole = client.get("/api/v1/claims?page_size=100", headers=assessor).get_json()
    assert (
        len(whole) == 9 and [c["deadline"]["decision_deadline"] for c in whole][-4:] == [None] * 4
    )

    seen, path, pages = [], "/api/v1/claims?page_size=2", 0
    while path is not None:
        page = client.get(path, headers=assessor)
        assert page.status_code == 200, page.text
        seen += page.get_json()
        pages += 1
        if pages == 2:  # a claim added meanwhile, before the cursor, shifts no page
            ClaimFactory(home=world.home, submitted=True, application_date=dt.date(2026, 3, 2))
            session.commit()
        # Paged by cursor, a page has no number: X-Pagination is empty unless counted.
        numbered = {"page": 1, "first_page": 1, "next_page": 2} if pages == 1 else {}
        assert json.loads(page.headers["X-Pagination"]) == numbered
        path = _next(page)
        assert path is None or ("after=" in path and "page=" not in path)
    assert pages == 5
    assert [c["id"] for c in seen] == [c["id"] for c in whole]


def test_the_cursor_keeps_the_filters_and_refuses_what_it_cannot_read(client, session):
    world = World(session)
    (assessor,) = _tokens(session, world.assessor)
    for _ in range(3):
        ClaimFactory(home=world.home, submitted=True, assessor_id=world.assessor.id)
    ClaimFactory(home=world.home, in_assessment=True, assessor_id=world.assessor.id)
    session.commit()
    first = client.get("/api/v1/claims?state=submitted&page_size=2", headers=assessor)
    following = _next(first)
    assert following is not None and "state=submitted" in following
    rest = client.get(following, headers=assessor).get_json()
    assert len(rest) == 1 and rest[0]["state"] == "submitted"
    counted = client.get(f"{following}&count=true", headers=assessor)
    assert json.loads(counted.headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "last_page": 2,
    }

    cursor = following.split("after=")[1]
    for wrong in ("yesterday.3", "2026-02-30.1", "none.99999999999", "2026-01-01"):
        problem = assert_problem(client.get(f"/api/v1/claims?after={wrong}", headers=assessor), 422)
        assert "after" in str(problem["errors"])
    both = client.get(f"/api/v1/claims?after={cursor}&page=2", headers=assessor)
    assert "page" in str(assert_problem(both, 422)["errors"])
    # Paging by number still works (deprecated), without a count unless asked.
    second = client.get("/api/v1/claims?page=2&page_size=2", headers=assessor)
    assert len(second.get_json()) == 2 and _next(second) is None
    assert json.loads(second.headers["X-Pagination"]) == {
        "page": 2,
        "first_page": 1,
        "previous_page": 1,
    }
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/v1/claims"]["get"]["parameters"]}
    assert parameters["page"].get("deprecated") is True
    assert parameters["after"]["schema"]["pattern"]
    headers = spec["paths"]["/api/v1/claims"]["get"]["responses"]["200"]["headers"]
    assert {"X-Pagination", "Link"} <= set(headers)


def test_an_applicant_pages_through_their_own_claims_only(client, session):
    world = World(session)
    (applicant,) = _tokens(session, world.applicant)
    for _ in range(3):
        ClaimFactory(home=world.home)
    ClaimFactory(home__office_holder__organisation=world.org)  # another office holder's
    session.commit()
    first = client.get("/api/v1/claims?page_size=2", headers=applicant)
    rest = client.get(_next(first), headers=applicant)
    assert len(first.get_json()) + len(rest.get_json()) == 3 and _next(rest) is None
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    assert client.get(_next(first), headers=bearer(session, colleague)).get_json() == []


def test_a_claim_the_reader_may_not_see_is_a_404_and_logs_no_read(client, session):
    """The read's log row is written by the read's own statement, only for a claim the
    reader may see: another office holder's claim, or another organisation's, is a 404
    with nothing logged."""
    world = World(session)
    (applicant,) = _tokens(session, world.applicant)
    others = ClaimFactory(home__office_holder__organisation=world.org)
    elsewhere = ClaimFactory()
    own = ClaimFactory(home=world.home)
    session.commit()
    hidden, own_id, reader_id = [others.id, elsewhere.id], own.id, world.applicant.id
    for claim_id in hidden:
        assert_problem(client.get(f"/api/v1/claims/{claim_id}", headers=applicant), 404)
    assert client.get(f"/api/v1/claims/{own_id}", headers=applicant).status_code == 200
    logged = session.execute(
        select(AccessLog.claim_id, AccessLog.user_id, AccessLog.action, AccessLog.roles)
    ).all()
    assert logged == [(own_id, reader_id, "view_claim", "applicant")]
