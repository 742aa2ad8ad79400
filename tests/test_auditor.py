"""The auditor's view (issue 14, item 3): the audit trail and the access log with filters
and keyset pages, exports (audited, stepped up, also by API), access reviews and the
verification report; never case contents, and nobody else's."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from housing.audit.jobs import AUDIT_VERIFY
from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail
from housing.clock import today as amsterdam_today
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobService
from housing.oversight import queries
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.jobs import run_job_here
from tests.builders.step_up import ASKED, age_authentication, confirm, next_code
from tests.conftest import login
from tests.factories import UserFactory

SECRET_REASON = "Dreiging bij de achterdeur, zie politierapport"
PAGES = ("/audit/trail", "/audit/access", "/audit/trail.csv", "/audit/trail.json")
EXPORTS = ("/audit/trail.csv", "/audit/trail.json", "/audit/access.csv", "/audit/access.json")


@pytest.fixture
def world(session) -> World:
    """A claim submitted, started, sent back with a reason, and read by its assessor."""
    world = World(session)
    world.auditor = UserFactory(organisation=world.org, roles={Role.AUDITOR})
    world.admin = UserFactory(organisation=world.org, roles={Role.ADMIN})
    world.finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    world.claim = world.draft()
    world.fire(world.applicant, world.claim, "submit")
    world.fire(world.assessor, world.claim, "start_assessment")
    world.fire(
        world.assessor,
        world.claim,
        "request_info",
        reason=SECRET_REASON,
        details={"question": "Offerte?"},
    )
    session.commit()
    return world


def read_claim(client, world: World) -> None:
    """The assessor reads the claim's page, in a browser of their own."""
    reader = client.application.test_client()
    login(reader, world.assessor.email)
    assert reader.get(f"/claims/{world.claim.id}").status_code == 200


def code(event: str) -> str:
    return f'<code class="utrecht-code">{event}</code>'


# --- the audit trail --------------------------------------------------------------------
def test_the_trail_shows_each_link_with_its_hash_and_its_predecessors(client, session, world):
    login(client, world.auditor.email)
    page = client.get("/audit/trail")
    assert page.status_code == 200
    links = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organisation_id == world.org.id)
        .order_by(AuditEvent.sequence)
    ).all()
    for link in links:
        assert link.hash in page.text and link.previous_hash in page.text
    assert world.claim.number in page.text and "request_info" in page.text
    assert world.assessor.full_name in page.text
    # Never the case's contents: no reason typed, no address, no amounts.
    assert SECRET_REASON not in page.text
    assert world.home.street not in page.text and "1.200" not in page.text


def test_the_trail_filters_by_number_actor_event_and_period(client, session, world):
    login(client, world.auditor.email)
    by_actor = client.get(f"/audit/trail?actor={world.applicant.id}")
    assert code("submit") in by_actor.text and code("start_assessment") not in by_actor.text
    by_event = client.get("/audit/trail?event=start_assessment")
    assert code("start_assessment") in by_event.text and code("submit") not in by_event.text
    by_number = client.get("/audit/trail?number=VW-1999")
    assert "Geen gebeurtenissen gevonden." in by_number.text
    today = amsterdam_today()
    later = client.get(f"/audit/trail?from={(today + dt.timedelta(days=400)).isoformat()}")
    assert "Geen gebeurtenissen gevonden." in later.text
    # The filters stay in the address: the page's export links carry them.
    assert f"/audit/trail.csv?actor={world.applicant.id}" in by_actor.text


def test_the_trail_pages_by_keyset(client, session, world, monkeypatch):
    monkeypatch.setattr(queries, "PER_PAGE", 2)
    login(client, world.auditor.email)
    first = client.get("/audit/trail")
    head = session.scalar(
        select(AuditEvent.sequence)
        .where(AuditEvent.organisation_id == world.org.id)
        .order_by(AuditEvent.sequence.desc())
        .limit(1)
    )
    assert f'href="/audit/trail?after={head - 1}"' in first.text
    # A link written meanwhile does not shift the next page.
    AuditTrail(session).append(world.org.id, event="probe", actor_id=None)
    session.commit()
    second = client.get(f"/audit/trail?after={head - 1}")
    shown = session.scalars(
        select(AuditEvent.hash).where(
            AuditEvent.organisation_id == world.org.id,
            AuditEvent.sequence.in_([head - 2, head - 3]),
        )
    ).all()
    assert all(digest in second.text for digest in shown)
    assert "Eerste pagina" in second.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-45", "from"),
        ("from=2026-05-01&to=2026-04-01", "to"),
        ("actor=twelve", "actor"),
        ("event=nonsense", "event"),
    ],
)
def test_a_wrong_filter_is_shown_at_its_field(client, world, query, field):
    login(client, world.auditor.email)
    page = client.get(f"/audit/trail?{query}")
    assert page.status_code == 422
    assert f'id="{field}-error"' in page.text
    assert f'aria-describedby="{field}-error"' in page.text
    # The export refuses alike, on the page, at the field.
    export = client.get(f"/audit/trail.csv?{query}")
    assert export.status_code == 422 and f'id="{field}-error"' in export.text


# --- the access log ---------------------------------------------------------------------
def test_the_access_log_says_who_read_which_claim_when_in_which_role(client, session, world):
    read_claim(client, world)
    login(client, world.auditor.email)
    page = client.get("/audit/access")
    assert page.status_code == 200
    assert world.assessor.full_name in page.text and world.claim.number in page.text
    assert "Beoordelaar" in page.text and "Las de aanvraag" in page.text
    assert world.home.street not in page.text
    none = client.get(f"/audit/access?actor={world.decider.id}")
    assert "Geen inzagen of downloads gevonden." in none.text


# --- exports ----------------------------------------------------------------------------
def test_exports_carry_the_rows_and_are_audited(client, session, world):
    read_claim(client, world)
    login(client, world.auditor.email)
    csv = client.get(f"/audit/trail.csv?number={world.claim.number}")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "attachment" in csv.headers["Content-Disposition"]
    header, *rows = csv.text.lstrip("\ufeff").splitlines()
    assert header.startswith("sequence,occurred_at,event") and header.endswith("previous_hash,hash")
    assert len(rows) == 4 and SECRET_REASON not in csv.text
    access = client.get("/audit/access.json")
    document = access.get_json()
    assert document["list"] == "access_log" and document["organisation_id"] == world.org.id
    (row,) = document["rows"]
    assert (row["user_id"], row["action"], row["claim_number"]) == (
        world.assessor.id,
        "view_claim",
        world.claim.number,
    )
    assert row["roles"] == "assessor"
    exported = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.organisation_id == world.org.id, AuditEvent.event == "audit_exported")
        .order_by(AuditEvent.sequence)
    ).all()
    assert [link.actor_id for link in exported] == [world.auditor.id] * 2
    # The second export lists the first one.
    trail_json = client.get("/audit/trail.json?event=audit_exported").get_json()
    assert len(trail_json["rows"]) == 2


def test_an_export_needs_a_recent_authentication(client, world):
    login(client, world.auditor.email)
    age_authentication(client, dt.timedelta(minutes=16))
    asked = client.get("/audit/trail.csv")
    assert asked.status_code == 401 and ASKED in asked.text
    back = confirm(client, asked.text, next_code(world.auditor.email))
    assert back.status_code == 303 and back.headers["Location"] == "/audit/trail.csv"
    assert client.get("/audit/trail.csv").status_code == 200


def test_the_api_exports_for_the_auditor_only(client, session, world):
    token = bearer(session, world.auditor)
    answer = client.get("/api/v1/audit/events?format=json&event=submit", headers=token)
    assert answer.status_code == 200
    (row,) = answer.get_json()["rows"]
    assert row["event"] == "submit" and row["claim_number"] == world.claim.number
    csv = client.get("/api/v1/audit/access-log?format=csv", headers=token)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    wrong = client.get("/api/v1/audit/events?from=2026-05-01&to=2026-04-01", headers=token)
    assert wrong.status_code == 422 and "to" in wrong.get_json()["errors"]
    for user in (world.assessor, world.decider, world.finance, world.admin, world.applicant):
        refused = client.get("/api/v1/audit/events", headers=bearer(session, user))
        assert refused.status_code == 403, user.roles
    review = client.get("/api/v1/audit/access-review?list=privileged", headers=token)
    assert review.status_code == 200
    admin_review = client.get("/api/v1/audit/access-review", headers=bearer(session, world.admin))
    assert admin_review.status_code == 200


# --- denials ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", [r for r in Role if r is not Role.AUDITOR])
def test_every_other_role_is_refused(client, world, role):
    user = UserFactory(organisation=world.org, roles={role})
    login(client, user.email)
    for path in (*PAGES, *EXPORTS):
        assert client.get(path).status_code == 403, (role, path)
    reviews = client.get("/audit/reviews").status_code
    assert reviews == (200 if role is Role.ADMIN else 403)


def test_another_organisations_auditor_sees_none_of_it(client, session, world):
    other = World(session, name="Gemeente Elders")
    stranger = UserFactory(organisation=other.org, roles={Role.AUDITOR})
    read_claim(client, world)
    login(client, stranger.email)
    trail = client.get("/audit/trail")
    assert world.claim.number not in trail.text and world.assessor.full_name not in trail.text
    assert world.claim.number not in client.get("/audit/access").text
    assert world.auditor.email not in client.get("/audit/reviews").text
    assert client.get(f"/audit/trail?actor={world.assessor.id}").status_code == 200
    exported = client.get("/audit/trail.json").get_json()
    assert all(row["claim_number"] != world.claim.number for row in exported["rows"])
    job = verification(session, world)
    assert client.get(f"/audit/verifications/{job.id}/report.pdf").status_code == 404


# --- access reviews ---------------------------------------------------------------------
def test_the_access_review_lists_roles_last_sign_in_and_factor(client, session, world):
    read_claim(client, world)
    login(client, world.auditor.email)
    page = client.get("/audit/reviews")
    assert page.status_code == 200
    for user in (world.assessor, world.decider, world.admin, world.applicant):
        assert user.email in page.text
    privileged = client.get("/audit/reviews?list=privileged")
    assert world.decider.email in privileged.text and world.admin.email in privileged.text
    assert world.finance.email in privileged.text
    assert world.assessor.email not in privileged.text
    assert world.applicant.email not in privileged.text
    reviewed = queries.access_review(session, world.scope(world.auditor), privileged=False)
    rows = {row.user.id: row for row in reviewed}
    assert rows[world.assessor.id].last_sign_in is not None
    assert rows[world.decider.id].last_sign_in is None
    assert rows[world.assessor.id].has_factor
    export = client.get("/audit/reviews.json?list=privileged").get_json()
    assert {row["user_id"] for row in export["rows"]} == {
        world.decider.id,
        world.both.id,
        world.admin.id,
        world.finance.id,
    }


# --- the verification report ------------------------------------------------------------
def verification(session, world: World) -> Job:
    """A finished verification of the world's chain, with the result the job records."""
    report = AuditTrail(session).verify(world.org.id)
    job = Job(
        organisation_id=world.org.id,
        kind="audit_verify",
        status=JobStatus.SUCCEEDED,
        params={},
        created_by_id=world.auditor.id,
        finished_at=dt.datetime.now(dt.UTC),
        result={
            "intact": report.intact,
            "checked": report.checked,
            "first_broken_sequence": None,
            "head_hash": report.head_hash,
            "first_at": report.first_at.isoformat(),
            "last_at": report.last_at.isoformat(),
            "verified_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
    session.add(job)
    session.commit()
    return job


def test_the_verification_report_is_a_pdf_with_the_head_hash(client, session, world):
    job = verification(session, world)
    login(client, world.auditor.email)
    response = client.get(f"/audit/verifications/{job.id}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert world.org.name in text
    assert job.result["head_hash"][:32] in text.replace("\n", "")
    assert "Intact" in text or "intact" in text
    head = session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.organisation_id == world.org.id)
        .order_by(AuditEvent.sequence.desc())
        .limit(1)
    )
    assert job.result["head_hash"] == head
    start = client.get("/auditor")
    assert f"/audit/verifications/{job.id}/report.pdf" in start.text
    for user in (world.admin, world.assessor):
        other = client.application.test_client()
        login(other, user.email)
        assert other.get(f"/audit/verifications/{job.id}/report.pdf").status_code == 403


def test_the_verify_job_records_what_the_report_states(committed_worlds):
    def setup(world: World) -> None:
        claim = world.draft()
        world.fire(world.applicant, claim, "submit")
        world.auditor = UserFactory(organisation=world.org, roles={Role.AUDITOR})

    world = committed_worlds("Gemeente Verificatie", setup)
    session = world.session
    job = JobService(session).start(Scope.for_user(world.auditor), world.auditor, AUDIT_VERIFY)
    session.commit()
    result, _progress = run_job_here(session, job.id)
    head = session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.organisation_id == world.org.id)
        .order_by(AuditEvent.sequence.desc())
        .limit(1)
    )
    assert result["intact"] and result["head_hash"] == head
    assert result["checked"] >= 2 and result["first_at"] <= result["last_at"]
    assert result["verified_at"]
    assert json.loads(json.dumps(result)) == result  # figures and hashes only: plain JSON
