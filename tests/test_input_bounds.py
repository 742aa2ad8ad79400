"""Days, text and bodies are bounded at the door, alike in the API and the forms."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart

from housing.claims.models import WoningScan
from housing.dates import EARLIEST, EVIDENCE_FROM, LATEST, parse_day
from housing.errors import InvalidInput
from housing.organisations.models import OfficeHolder
from housing.payments.models import Payout
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.builders.payments import SUPPLIER_IBAN, Finance
from tests.conftest import csrf_from, login
from tests.factories import UserFactory

SCAN = {
    "adviser_name": "CCV-adviseur De Vries",
    "pkvw_status": "certified",
    "findings": "Brievenbus in de voordeur.",
}
HOLDER = {"full_name": "Mr. T. Tester", "office_type": "burgemeester", "term_start": "2024-01-01"}
OUT_OF_RANGE = "Vul een datum in van 1900-01-01 tot en met 2100-12-31."
EVIDENCE_OUT_OF_RANGE = "Vul een datum in van 2000-01-01 tot en met 2100-12-31."


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- days ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "earliest", "refused"),
    [
        ("0001-01-01", EARLIEST, True),
        ("1899-12-31", EARLIEST, True),
        ("2101-01-01", EARLIEST, True),
        ("1900-01-01", EARLIEST, False),
        ("2100-12-31", EARLIEST, False),
        ("1999-12-31", EVIDENCE_FROM, True),
        ("2000-01-01", EVIDENCE_FROM, False),
        ("20240501", EARLIEST, True),  # fromisoformat reads it; nobody types it
        ("2024-W18-3", EARLIEST, True),
        ("", EARLIEST, True),
    ],
)
def test_a_day_is_read_within_its_range_or_refused_at_its_field(typed, earliest, refused):
    if refused:
        with pytest.raises(InvalidInput) as error:
            parse_day(typed, "scan_date", earliest=earliest)
        assert list(error.value.field_errors) == ["scan_date"]
    else:
        assert parse_day(typed, "scan_date", earliest=earliest) == dt.date.fromisoformat(typed)
    assert EARLIEST < EVIDENCE_FROM < LATEST


@pytest.mark.parametrize("day", ["0001-01-01", "1999-12-31", "2101-01-01"])
def test_a_scan_date_out_of_range_is_a_422_at_its_field_in_the_api(client, session, day):
    world = World(session)
    claim_id = world.draft().id
    applicant = bearer(session, world.applicant)
    answer = client.put(
        f"/api/v1/claims/{claim_id}/scan", headers=applicant, json={**SCAN, "scan_date": day}
    )
    errors = assert_problem(answer, 422)["errors"]
    assert "scan_date" in errors["json"]
    assert count(session, WoningScan) == 0
    kept = client.put(
        f"/api/v1/claims/{claim_id}/scan",
        headers=applicant,
        json={**SCAN, "scan_date": "2024-05-01"},
    )
    assert kept.status_code == 200, kept.text


def test_a_scan_date_out_of_range_is_refused_on_the_scan_form(client, session):
    world = World(session)
    claim_id = world.draft().id
    csrf = login(client, world.applicant.email)
    page = client.post(
        f"/claims/{claim_id}/scan",
        data={**SCAN, "scan_date": "0001-01-01", "wizard_step": "scan", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert EVIDENCE_OUT_OF_RANGE in page.text
    assert count(session, WoningScan) == 0


def test_a_term_out_of_range_is_refused_in_the_api_and_at_the_field_of_the_form(client, session):
    admin = UserFactory(admin=True)
    email, headers = admin.email, bearer(session, admin)
    before = count(session, OfficeHolder)
    answer = client.post(
        "/api/v1/office-holders",
        headers=headers,
        json={**HOLDER, "term_start": "0001-01-01"},
    )
    assert "term_start" in assert_problem(answer, 422)["errors"]["json"]
    csrf = login(client, email)
    page = client.post(
        "/admin/office-holders/new",
        data={**HOLDER, "term_start": "0001-01-01", "user_id": "0", "csrf_token": csrf},
    )
    assert page.status_code == 200
    assert f'id="term_start-error">{OUT_OF_RANGE}' in page.text
    assert count(session, OfficeHolder) == before


def test_an_invoice_date_before_2000_is_refused_in_the_api_and_on_the_form(client, session):
    fin = Finance(session)
    line_id, claim_id = fin.claim.lines[0].id, fin.claim.id
    email, headers = fin.world.assessor.email, bearer(session, fin.world.assessor)
    invoice = {
        "measure_line_id": line_id,
        "payee_name": "Slot & Grendel B.V.",
        "payee_iban": SUPPLIER_IBAN,
        "amount": "400.00",
        "vat_amount": "69.42",
        "invoice_number": "F-2026-001",
        "invoice_date": "1999-12-31",
    }
    answer = client.post(f"/api/v1/claims/{claim_id}/payouts", headers=headers, json=invoice)
    assert "invoice_date" in assert_problem(answer, 422)["errors"]["json"]
    csrf = login(client, email)
    page = client.post(
        f"/claims/{claim_id}/payouts/new",
        data={**invoice, "payee_bic": "", "document_id": "0", "csrf_token": csrf},
    )
    assert page.status_code == 200
    assert f'id="invoice_date-error">{EVIDENCE_OUT_OF_RANGE}' in page.text
    assert count(session, Payout) == 0


def test_the_openapi_document_states_the_range_of_a_day(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    scan_date = spec["components"]["schemas"]["ScanIn"]["properties"]["scan_date"]
    assert scan_date["format"] == "date"
    assert (scan_date["x-minimum"], scan_date["x-maximum"]) == ("2000-01-01", "2100-12-31")


# --- body size -----------------------------------------------------------------------------
def test_a_json_body_over_the_limit_is_a_413_problem_before_anything_is_done(client, session):
    world = World(session)
    big = json.dumps({"home_id": world.home.id, "padding": "x" * (1024 * 1024)})
    headers = bearer(session, world.applicant)
    answer = client.post(
        "/api/v1/claims",
        headers=headers,
        data=big,
        content_type="application/json",
    )
    problem = assert_problem(answer, 413)
    assert "ten hoogste 1 MB" in problem["detail"]
    # Refused before the sign-in is checked: a stranger gets the same answer.
    assert_problem(client.post("/api/v1/claims", data=big, content_type="application/json"), 413)


def test_a_form_over_the_limit_is_a_413_page(client, session):
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "email": "a@b.nl",
            "password": "x" * (1024 * 1024),
            "csrf_token": csrf_from(page.text),
        },
    )
    assert answer.status_code == 413
    assert "text/html" in answer.content_type
    assert "Wat u verstuurde is te groot" in answer.text
    assert "ten hoogste 1 MB" in answer.text


def test_an_upload_keeps_its_own_limit_above_that_of_other_bodies(client, session, document_root):
    world = World(session)
    claim_id = world.draft().id
    applicant = bearer(session, world.applicant)
    # 2 MB: more than any JSON body may hold, well within a document's 10 MB.
    pdf = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024) + b"\n%%EOF\n"
    # Encoded here: the test client would spool a body this large to a file it never closes.
    boundary, body = encode_multipart(
        {"kind": "quote", "file": FileStorage(io.BytesIO(pdf), "offerte.pdf")}
    )
    uploaded = client.post(
        f"/api/v1/claims/{claim_id}/documents",
        headers=applicant,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert uploaded.status_code == 201, uploaded.text
    too_big = client.post(
        f"/api/v1/claims/{claim_id}/documents",
        headers=applicant,
        data=body * 6,  # announced too long: refused before it is read
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert "ten hoogste 10 MB" in assert_problem(too_big, 413)["detail"]


@pytest.fixture
def served(app: Flask) -> Iterator[int]:
    """The app behind Werkzeug's own server, as `housing run` serves it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_413_reaches_the_client_over_a_real_connection(served):
    body = b'{"padding": "' + b"x" * (8 * 1024 * 1024) + b'"}'
    connection = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    try:
        connection.request(
            "POST", "/api/v1/claims", body=body, headers={"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        problem = json.loads(answer.read())
    finally:
        connection.close()
    assert answer.status == 413
    assert answer.getheader("Content-Type") == "application/problem+json"
    assert problem["status"] == 413
