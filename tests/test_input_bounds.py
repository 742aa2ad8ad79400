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

from housing.audit.models import AuditEvent
from housing.claims.models import Claim, Document, MeasureLine, WoningScan
from housing.dates import EARLIEST, EVIDENCE_FROM, LATEST, parse_day
from housing.errors import InvalidInput
from housing.ids import MAX_ID
from housing.inputs import TEXT_MAX, column_length
from housing.organisations.models import OfficeHolder
from housing.payments.models import Payout
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.builders.payments import SUPPLIER_IBAN, Finance
from tests.conftest import csrf_from, login
from tests.factories import UserFactory
from workflows.claim import ClaimState

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


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("20-11-2026", dt.date(2026, 11, 20)),
        ("20/11/2026", dt.date(2026, 11, 20)),
        ("20.11.2026", dt.date(2026, 11, 20)),
        ("2-12-2026", dt.date(2026, 12, 2)),
        ("02/12/2026", dt.date(2026, 12, 2)),  # the British order too: 2 December
    ],
)
def test_a_day_is_read_in_the_dutch_order(typed, day):
    assert parse_day(typed, "scan_date") == day


@pytest.mark.parametrize(
    "typed",
    [
        "11/20/2026",  # the American order: there is no 20th month
        "31-02-2026",
        "20-11/2026",  # one mark throughout
        "20-11-26",  # which century?
        "20-11-1899",  # out of range as any other way of writing it
        "20 11 2026",
    ],
)
def test_a_day_in_no_order_we_read_is_refused_at_its_field(typed):
    with pytest.raises(InvalidInput) as error:
        parse_day(typed, "scan_date")
    assert list(error.value.field_errors) == ["scan_date"]


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
    )
    assert page.status_code == 422  # the scan step again, not a redirect that loses typing
    assert f'id="scan_date-error">{EVIDENCE_OUT_OF_RANGE}</div>' in page.text  # at the field
    assert 'aria-describedby="scan_date-error"' in page.text
    assert f'value="{SCAN["adviser_name"]}"' in page.text  # what was typed is kept
    assert count(session, WoningScan) == 0
    # Shown once: the next page has no stale message beside the field.
    assert "scan_date-error" not in client.get(f"/claims/{claim_id}/wizard/scan").text


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


# --- text ----------------------------------------------------------------------------------
def test_text_limits_come_from_the_columns():
    assert column_length(MeasureLine.description) == 500
    assert column_length(MeasureLine.supplier_name) == 200
    assert column_length(WoningScan.findings) == TEXT_MAX  # text without a set length
    assert column_length(AuditEvent.reason) == TEXT_MAX


def test_the_openapi_document_states_the_column_limits(client, session):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    line = schemas["MeasureLineIn"]["properties"]
    assert (line["description"]["maxLength"], line["supplier_name"]["maxLength"]) == (500, 200)
    assert schemas["ScanIn"]["properties"]["findings"]["maxLength"] == TEXT_MAX


def test_text_longer_than_its_column_is_refused_at_its_field_in_the_api(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    line = {"catalogue_code": "cameras", "requested_amount": "10", "vat_amount": "0"}
    for field, text in (("description", "x" * 501), ("supplier_name", "x" * 201)):
        refused = client.post(
            f"/api/v1/claims/{claim_id}/lines",
            headers=applicant,
            json={"description": "camera", **line, field: text},
        )
        assert field in assert_problem(refused, 422)["errors"]["json"]
    too_long = client.post(
        f"/api/v1/claims/{claim_id}/events",
        headers=applicant,
        json={"event": "withdraw", "reason": "x" * (TEXT_MAX + 1)},
    )
    assert "reason" in assert_problem(too_long, 422)["errors"]["json"]
    assert count(session, MeasureLine) == 0
    assert session.get(Claim, claim_id).state is ClaimState.DRAFT


def test_text_longer_than_its_column_is_refused_on_the_pages_and_nothing_is_written(
    client, session
):
    world = World(session)
    claim_id = world.draft(lines=()).id
    csrf = login(client, world.applicant.email)
    line = {
        "catalogue_code": "cameras",
        "description": "camera",
        "requested_amount": "10",
        "vat_amount": "0",
        "wizard_step": "measures",
        "csrf_token": csrf,
    }
    # A supplier's name of 201 characters reached the database: a server error once.
    page = client.post(f"/claims/{claim_id}/lines", data={**line, "supplier_name": "x" * 201})
    assert page.status_code == 422
    assert "Gebruik ten hoogste 200 tekens." in page.text
    # A reason no audit trail should hold: refused, the claim stays as it was.
    withdrawn = client.post(
        f"/claims/{claim_id}/events",
        data={"event": "withdraw", "reason": "x" * (TEXT_MAX + 1), "csrf_token": csrf},
    )
    assert withdrawn.status_code == 422
    assert f"Gebruik ten hoogste {TEXT_MAX} tekens." in withdrawn.text
    assert count(session, MeasureLine) == 0
    assert session.get(Claim, claim_id).state is ClaimState.DRAFT


def test_a_form_field_longer_than_its_column_gets_a_message_at_the_field(client, session):
    admin = UserFactory(admin=True)
    before = count(session, OfficeHolder)
    csrf = login(client, admin.email)
    page = client.post(
        "/admin/office-holders/new",
        data={**HOLDER, "full_name": "x" * 201, "user_id": "0", "csrf_token": csrf},
    )
    assert page.status_code == 200
    assert 'id="full_name-error">' in page.text
    assert "200" in page.text.split('id="full_name-error">')[1].split("</div>")[0]
    assert count(session, OfficeHolder) == before


# --- ids and file names on the pages -----------------------------------------------------
def test_an_id_no_row_can_have_in_a_form_is_refused_without_a_server_error(client, session):
    world = World(session)
    csrf = login(client, world.applicant.email)
    before = count(session, Claim)
    for home_id in ("99999999999999999999", str(MAX_ID + 1), "-1"):
        answer = client.post(
            "/claims/new", data={"home_id": home_id, "csrf_token": csrf}, follow_redirects=True
        )
        assert answer.status_code in (200, 404), answer.status_code
    assert count(session, Claim) == before


def test_an_upload_name_with_a_nul_is_cleaned_on_the_page_too(client, session, document_root):
    world = World(session)
    claim_id = world.draft().id
    csrf = login(client, world.applicant.email)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    answer = client.post(
        f"/claims/{claim_id}/documents",
        data={
            "kind": "quote",
            "file": (io.BytesIO(pdf), "offerte\x00 mei.pdf"),
            "csrf_token": csrf,
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    names = session.scalars(select(Document.filename).where(Document.claim_id == claim_id))
    assert list(names) == ["offerte mei.pdf"]


def test_a_page_number_no_offset_can_hold_is_a_404_not_a_server_error(app, client, session):
    world = World(session)
    finance = UserFactory(organisation=world.org, roles={Role.FINANCE})
    login(client, world.assessor.email)
    assert client.get("/claims/inbox?page=99999999999999999999").status_code == 404
    other = app.test_client()
    login(other, finance.email)
    assert other.get("/finance/batches?page=99999999999999999999").status_code == 404


def test_a_page_number_no_offset_can_hold_is_an_empty_page_in_the_api(client, session):
    world = World(session)
    headers = bearer(session, world.assessor)
    answer = client.get("/api/v1/claims?page=99999999999999999999", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.get_json() == []


def test_the_document_declares_the_refusals_at_the_door_on_every_operation(app, client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    operations = [
        (f"{method.upper()} {path}", operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    with_body = [(where, op) for where, op in operations if "requestBody" in op]
    assert len(with_body) >= 15
    for where, operation in operations:
        refused = operation["responses"]["400"]  # a control character in the query string
        assert refused["content"] == {"application/problem+json": problem}, where
        assert "control character" in refused["description"], where
    for where, operation in with_body:
        assert "nests too deeply" in operation["responses"]["400"]["description"], where
        too_large = operation["responses"]["413"]
        assert too_large["content"] == {"application/problem+json": problem}, where
    limits = {
        where: op["responses"]["413"]["description"]
        for where, op in with_body
        if "multipart/form-data" in op["requestBody"]["content"]
    }
    assert set(limits) == {"POST /api/v1/claims/{claim_id}/documents", "POST /api/v1/statements"}
    documents = limits["POST /api/v1/claims/{claim_id}/documents"]
    assert f"{app.config['DOCUMENT_MAX_BYTES']} bytes (DOCUMENT_MAX_BYTES)" in documents
    statements = limits["POST /api/v1/statements"]
    assert f"{app.config['STATEMENT_MAX_BYTES']} bytes (STATEMENT_MAX_BYTES)" in statements
    claims = dict(with_body)["POST /api/v1/claims"]["responses"]["413"]["description"]
    assert f"{app.config['MAX_CONTENT_LENGTH']} bytes (BODY_MAX_BYTES)" in claims
    # Where nothing is sent, nothing is too large.
    assert all("413" not in op["responses"] for where, op in operations if "requestBody" not in op)


def test_the_document_states_the_page_sizes_and_the_lifetime_of_a_key(
    database_url, tmp_path_factory
):
    from housing import create_app
    from tests.conftest import make_test_config

    tmp = tmp_path_factory.mktemp("keyhours")
    other = create_app(make_test_config(database_url, tmp, IDEMPOTENCY_KEY_HOURS=48))
    spec = other.test_client().get("/api/v1/openapi.json").get_json()
    key = next(
        p
        for p in spec["paths"]["/api/v1/claims"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert "remembered for 48 hours (IDEMPOTENCY_KEY_HOURS, 24 by default)" in key["description"]
    for path in ("/api/v1/claims", "/api/v1/payouts", "/api/v1/batches", "/api/v1/statements"):
        sizes = {p["name"]: p["schema"] for p in spec["paths"][path]["get"]["parameters"]}
        assert (sizes["page_size"]["default"], sizes["page_size"]["maximum"]) == (25, 100), path
        assert (sizes["page"]["default"], sizes["page"]["minimum"]) == (1, 1), path
