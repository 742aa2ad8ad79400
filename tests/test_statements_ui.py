"""Bank statements in the browser and through the API (issue 5 §7, §8): upload a camt.053,
watch the import job, see the statements listed, and review what did not match."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask_babel import force_locale
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.clock import utcnow
from housing.jobs.kinds import default_kinds
from housing.jobs.models import Job, JobStatus
from housing.jobs.services import JobContext, JobFailed
from housing.payments.models import BankStatement, StatementEntry, StatementEntryStatus
from housing.payments.statements import STATEMENT_IMPORT
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.builders.rows import fresh
from tests.builders.statements import Books, fixture
from tests.conftest import RUN_ID, login

E2E = "VW-2026-00001-P1"  # single_debit.xml's EndToEndId
STATEMENT = "NL91ABNA0417164300-2026-005"


@pytest.fixture
def books(session: Session) -> Books:
    return Books(session)


def released(books: Books):
    """A payout of 1,234.50 sent in a released batch, as single_debit.xml debits it."""
    claim = books.claim("1234.50")
    payout = books.payout(claim, 0, "1234.50")
    books.batch([(payout, E2E)], "VW-PMT-2026-0001")
    return payout


def run_job(app: Flask, session: Session, job_id: int) -> Job:
    """Run a queued job's real runner in the test's transaction, as a worker would."""
    job = session.get(Job, job_id)
    assert job is not None and job.status is JobStatus.QUEUED
    context = JobContext(
        job_id=job.id,
        organisation_id=job.organisation_id,
        created_by_id=job.created_by_id,
        params=dict(job.params or {}),
        session=session,
        progress=lambda done, total, message=None: None,
    )
    with app.app_context(), force_locale("nl"):
        try:
            job.result = dict(default_kinds()[job.kind].runner(context))
        except JobFailed as exc:
            session.rollback()
            job = session.get(Job, job_id)
            job.status, job.message = JobStatus.FAILED, str(exc)
        else:
            job.status = JobStatus.SUCCEEDED
        job.finished_at = utcnow()
        # Inside the app context: leaving it closes the session, uncommitted work and all.
        session.commit()
    return job


def upload(client, token: str, data: bytes, name: str = "afschrift.xml"):
    return client.post(
        "/finance/statements",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_upload_through_the_page_books_the_payout_and_lists_the_statement(
    app, client, books, session
):
    payout = released(books)
    token = login(client, books.finance.email)
    page = client.get("/finance/statements")
    assert page.status_code == 200
    assert "Bankafschriften" in page.text and "Te beoordelen" in page.text  # the nav
    assert "Nog geen afschriften ingelezen." in page.text

    started = upload(client, token, fixture("single_debit.xml"))
    assert started.status_code == 303
    job = session.scalars(select(Job).where(Job.kind == STATEMENT_IMPORT)).one()
    assert started.headers["Location"] == f"/jobs/{job.id}"
    job = run_job(app, session, job.id)
    assert job.status is JobStatus.SUCCEEDED, job.message
    assert job.result["payouts_booked"] == 1 and job.result["statements_new"] == 1
    assert fresh(session, type(payout), payout.id).state == "booked"

    result = client.get(f"/jobs/{job.id}").text
    assert "Het afschrift is ingelezen." in result and "Geboekte uitbetalingen: 1" in result
    listing = client.get("/finance/statements").text
    assert STATEMENT in listing and "NL91ABNA0417164300" in listing
    assert "€\xa0125.000,00" in listing and "€\xa0123.765,50" in listing
    assert "Sluit niet aan op het vorige eindsaldo" not in listing
    assert str(escape(books.finance.full_name)) in listing


def test_empty_or_non_xml_uploads_get_a_clear_message(client, books, session):
    token = login(client, books.finance.email)
    empty = upload(client, token, b"")
    assert empty.status_code == 422
    assert "Kies een camt.053-bestand om te uploaden." in empty.text
    missing = client.post("/finance/statements", data={"csrf_token": token})
    assert missing.status_code == 422
    text = upload(client, token, b"%PDF-1.7 not a statement", "afschrift.pdf")
    assert text.status_code == 422 and "Het bestand is geen XML-bestand." in text.text
    assert count(session, Job) == 0


def test_a_malformed_file_fails_the_job_with_the_reason_and_imports_nothing(
    app, client, books, session
):
    released(books)
    token = login(client, books.finance.email)
    upload(client, token, fixture("malformed.xml"))
    job = session.scalars(select(Job).where(Job.kind == STATEMENT_IMPORT)).one()
    job = run_job(app, session, job.id)
    assert job.status is JobStatus.FAILED
    assert "Er is niets ingelezen." in (job.message or "")
    assert "Er is niets ingelezen." in client.get(f"/jobs/{job.id}").text
    assert count(session, BankStatement) == count(session, StatementEntry) == 0


def test_an_upload_through_the_api_starts_the_job_and_lists_the_statement(
    app, client, books, session
):
    payout = released(books)
    auth = bearer(session, books.finance)
    started = client.post(
        "/api/v1/statements",
        headers=auth,
        data={"file": (io.BytesIO(fixture("single_debit.xml")), "afschrift.xml")},
        content_type="multipart/form-data",
    )
    assert started.status_code == 202, started.text
    body = started.get_json()
    assert body["href"] == f"/api/v1/jobs/{body['job_id']}"
    assert run_job(app, session, body["job_id"]).status is JobStatus.SUCCEEDED
    assert fresh(session, type(payout), payout.id).state == "booked"
    listing = client.get("/api/v1/statements", headers=auth)
    assert listing.status_code == 200
    (statement,) = listing.get_json()
    assert statement["statement_ident"] == STATEMENT and statement["closing_balance"] == "123765.50"
    assert statement["balance_gap"] is False

    empty = client.post(
        "/api/v1/statements",
        headers=auth,
        data={"file": (io.BytesIO(b""), "leeg.xml")},
        content_type="multipart/form-data",
    )
    assert "file" in assert_problem(empty, 422)["errors"]
    assessor = bearer(session, books.world.assessor)
    assert client.get("/api/v1/statements", headers=assessor).status_code == 403
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/statements",
        "/api/v1/statement-entries",
        "/api/v1/statement-entries/{entry_id}/match",
        "/api/v1/statement-entries/{entry_id}/dismiss",
    } <= set(paths)


@pytest.fixture
def queued(books, session):
    """two_statements.xml: a 1,000.00 debit we never sent and a 250.00 credit, queued."""
    books.run(fixture("two_statements.xml"))
    debit, credit = books.entry("2026020200001"), books.entry("2026020300001")
    assert debit.status is credit.status is StatementEntryStatus.UNMATCHED
    claim = books.claim("1000.00", "400.00")
    payout = books.payout(claim, 0, "1000.00")
    books.batch([(payout, f"R-{RUN_ID}-1")])
    return books, debit, credit, payout


def test_the_review_page_lists_and_matches_and_dismisses(client, queued, session):
    books, debit, credit, payout = queued
    token = login(client, books.finance.email)
    page = client.get("/finance/review")
    assert page.status_code == 200
    assert "2 boekingen te beoordelen" in page.text
    assert "2026020200001" in page.text and "€\xa01.000,00" in page.text
    assert f"/finance/review/{debit.id}/match" in page.text
    assert f"/finance/review/{credit.id}/match" not in page.text  # a credit is dismissed only

    no_reason = client.post(
        f"/finance/review/{debit.id}/match",
        data={"csrf_token": token, "payout_id": str(payout.id), "reason": ""},
    )
    assert no_reason.status_code == 422 and "Geef een reden" in no_reason.text
    matched = client.post(
        f"/finance/review/{debit.id}/match",
        data={"csrf_token": token, "payout_id": str(payout.id), "reason": "Bank gaf geen id"},
        follow_redirects=True,
    )
    assert f"De boeking is gekoppeld aan uitbetaling {payout.id}." in matched.text
    assert fresh(session, StatementEntry, debit.id).status is StatementEntryStatus.MATCHED
    assert fresh(session, type(payout), payout.id).state == "booked"
    dismissed = client.post(
        f"/finance/review/{credit.id}/dismiss",
        data={"csrf_token": token, "reason": "Rente van de bank"},
        follow_redirects=True,
    )
    assert "De boeking is terzijde gelegd." in dismissed.text
    entry = fresh(session, StatementEntry, credit.id)
    assert entry.status is StatementEntryStatus.DISMISSED and entry.note == "Rente van de bank"
    assert "Niets te beoordelen." in client.get("/finance/review").text
    assert books.events("statement_entry_dismiss") and books.events("payout_book")


def test_a_refused_match_or_dismissal_keeps_what_was_typed_on_its_own_form(client, queued, session):
    books, debit, credit, payout = queued
    token = login(client, books.finance.email)

    def field(html: str, element_id: str) -> str:
        (found,) = re.findall(rf'<input\b[^>]*\bid="{element_id}"[^>]*>', html)
        return found

    def marked(html: str, element_id: str) -> bool:
        summary = html.split('id="form-errors"', 1)[-1]
        return (
            'aria-invalid="true"' in field(html, element_id)
            and f'id="{element_id}-error"' in html
            and f'href="#{element_id}"' in summary
        )

    match = f"/finance/review/{debit.id}/match"
    for typed, message in (
        ("", "Vul het nummer van de uitbetaling in."),
        ("12a", "Vul het nummer van de uitbetaling in."),
        ("999999999", "Er is geen uitbetaling met dit nummer."),  # a typo, not a 404 page
    ):
        refused = client.post(
            match, data={"csrf_token": token, "payout_id": typed, "reason": "Bank gaf geen id"}
        )
        assert refused.status_code == 422, typed
        assert message in refused.text and marked(refused.text, f"payout-{debit.id}")
        assert f'value="{typed}"' in field(refused.text, f"payout-{debit.id}")
        assert 'value="Bank gaf geen id"' in field(refused.text, f"match-reason-{debit.id}")
        # The dismiss forms are not marked and keep nothing of it.
        assert 'value=""' in field(refused.text, f"dismiss-reason-{debit.id}")
        assert "aria-invalid" not in field(refused.text, f"dismiss-reason-{credit.id}")
    no_reason = client.post(
        match, data={"csrf_token": token, "payout_id": str(payout.id), "reason": ""}
    )
    assert no_reason.status_code == 422 and marked(no_reason.text, f"match-reason-{debit.id}")
    assert f'value="{payout.id}"' in field(no_reason.text, f"payout-{debit.id}")

    dismissed = client.post(
        f"/finance/review/{credit.id}/dismiss", data={"csrf_token": token, "reason": " "}
    )
    assert dismissed.status_code == 422
    assert "Geef een reden." in dismissed.text
    assert marked(dismissed.text, f"dismiss-reason-{credit.id}")
    assert "aria-invalid" not in field(dismissed.text, f"dismiss-reason-{debit.id}")
    assert dismissed.text.count('id="form-errors"') == 1
    assert fresh(session, StatementEntry, debit.id).status is StatementEntryStatus.UNMATCHED
    assert fresh(session, StatementEntry, credit.id).status is StatementEntryStatus.UNMATCHED


def test_review_is_refused_elsewhere_and_to_other_roles(app, client, queued, session):
    books, debit, _credit, payout = queued
    other = Books(session, World(session, name="Gemeente Elders"))
    stranger = app.test_client()
    token = login(stranger, other.finance.email)
    assert "2026020200001" not in stranger.get("/finance/review").text
    for action, data in (
        ("match", {"payout_id": str(payout.id), "reason": "x"}),
        ("dismiss", {"reason": "x"}),
    ):
        response = stranger.post(
            f"/finance/review/{debit.id}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 404, action
    assessor = app.test_client()
    token = login(assessor, books.world.assessor.email)
    assert assessor.get("/finance/review").status_code == 403
    assert assessor.get("/finance/statements").status_code == 403
    for action in ("match", "dismiss"):
        response = assessor.post(
            f"/finance/review/{debit.id}/{action}",
            data={"csrf_token": token, "payout_id": str(payout.id), "reason": "x"},
        )
        assert response.status_code == 403, action
    assert fresh(session, StatementEntry, debit.id).status is StatementEntryStatus.UNMATCHED


def test_the_review_queue_through_the_api(client, queued, session):
    books, debit, credit, payout = queued
    auth = bearer(session, books.finance)
    listing = client.get("/api/v1/statement-entries?status=unmatched", headers=auth)
    assert listing.status_code == 200
    assert {e["id"] for e in listing.get_json()} == {debit.id, credit.id}
    assert listing.headers["X-Pagination"]
    assert client.get("/api/v1/statement-entries?status=duplicate", headers=auth).get_json() == []
    refused = client.post(
        f"/api/v1/statement-entries/{credit.id}/match",
        headers=auth,
        json={"payout_id": payout.id, "reason": "x"},
    )
    assert_problem(refused, 422)
    matched = client.post(
        f"/api/v1/statement-entries/{debit.id}/match",
        headers=auth,
        json={"payout_id": payout.id, "reason": "Bank gaf geen id"},
    )
    assert matched.status_code == 200, matched.text
    assert matched.get_json()["status"] == "matched" and matched.get_json()["open_amount"] == "0.00"
    again = client.post(
        f"/api/v1/statement-entries/{debit.id}/dismiss", headers=auth, json={"reason": "x"}
    )
    assert_problem(again, 409)
    dismissed = client.post(
        f"/api/v1/statement-entries/{credit.id}/dismiss", headers=auth, json={"reason": "Rente"}
    )
    assert dismissed.status_code == 200 and dismissed.get_json()["status"] == "dismissed"

    other = Books(session, World(session, name="Gemeente Elders API"))
    foreign = bearer(session, other.finance)
    assert_problem(
        client.post(
            f"/api/v1/statement-entries/{debit.id}/dismiss", headers=foreign, json={"reason": "x"}
        ),
        404,
    )
    assessor = bearer(session, books.world.assessor)
    response = client.post(
        f"/api/v1/statement-entries/{debit.id}/dismiss", headers=assessor, json={"reason": "x"}
    )
    assert response.status_code == 403
