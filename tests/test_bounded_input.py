"""Input no row or column can hold is refused at the door (4xx), never a server error."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from housing import create_app
from housing.claims.models import MeasureLine
from housing.db import db
from housing.ids import MAX_ID
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.builders.payments import Finance, record
from tests.conftest import csrf_from, login, make_test_config

TOO_BIG = 99999999999999999999  # the integer PostgreSQL refused with "out of range"


def lines_of(claim_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(MeasureLine).where(MeasureLine.claim_id == claim_id)
    )


def test_an_id_no_row_can_have_is_a_404_in_the_api_and_the_pages(client, session):
    world = World(session)
    headers = bearer(session, world.assessor)
    for path in (f"/api/v1/claims/{TOO_BIG}", f"/api/v1/claims/{MAX_ID + 1}", "/api/v1/claims/0"):
        assert_problem(client.get(path, headers=headers), 404)
    assert client.get(f"/api/v1/claims/{MAX_ID}", headers=headers).status_code == 404
    login(client, world.assessor.email)
    assert client.get(f"/claims/{TOO_BIG}").status_code == 404


def test_the_openapi_document_states_the_range_of_path_ids(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    parameter = next(
        p for p in spec["paths"]["/api/v1/claims/{claim_id}"]["parameters"] if p["in"] == "path"
    )
    assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def test_an_id_out_of_range_in_a_body_is_refused_at_its_field(client, session):
    world = World(session)
    body = {"home_id": 2605313376531990}
    refused = client.post("/api/v1/claims", headers=bearer(session, world.applicant), json=body)
    assert "home_id" in str(assert_problem(refused, 422)["errors"])


def _request_ids(spec, schema, where, found):
    """Every property named `id` or `..._id` a request schema holds, resolved through refs."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _request_ids(spec, spec["components"]["schemas"][name], name, found)
    for one in schema.get("oneOf", []):
        _request_ids(spec, one, where, found)
    for name, prop in schema.get("properties", {}).items():
        if (name == "id" or name.endswith("_id")) and not prop.get("readOnly"):
            found[f"{where}.{name}"] = prop
        _request_ids(spec, prop, where, found)
    return found


def test_every_id_a_request_takes_is_documented_as_a_bounded_integer(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    found = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["name"].endswith("_id") and parameter["in"] == "query":
                    found[f"{method} {path} ?{parameter['name']}"] = parameter["schema"]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                _request_ids(spec, content["schema"], f"{method} {path}", found)
    assert {"ClaimCreate.home_id", "PayoutIn.measure_line_id", "PayoutIn.document_id"} <= set(found)
    for where, schema in found.items():
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert set(kinds) - {"null"} == {"integer"}, where
        assert (schema["minimum"], schema["maximum"]) == (1, MAX_ID), where


def test_an_id_given_as_a_whole_float_is_refused_as_the_integer_it_is_documented_as(
    client, session
):
    world = World(session)
    body = {"home_id": float(world.home.id)}  # 2368514.0: a number, not an integer
    refused = client.post("/api/v1/claims", headers=bearer(session, world.applicant), json=body)
    assert "home_id" in assert_problem(refused, 422)["errors"]["json"]


def test_payouts_filter_by_claim_from_the_query_string(client, session):
    fin = Finance(session)
    payout = record(fin)
    other = Finance(session, name="Gemeente Ander")  # another organisation's payout
    record(other)
    headers = bearer(session, fin.f1)
    found = client.get(f"/api/v1/payouts?claim_id={fin.claim.id}", headers=headers)
    assert found.status_code == 200, found.text
    assert [p["id"] for p in found.get_json()] == [payout.id]
    assert (
        client.get(f"/api/v1/payouts?claim_id={other.claim.id}", headers=headers).get_json() == []
    )
    for bad in ("abc", str(MAX_ID + 1), "0"):
        answer = client.get(f"/api/v1/payouts?claim_id={bad}", headers=headers)
        assert "claim_id" in str(assert_problem(answer, 422)["errors"])


@pytest.mark.parametrize("amount", ["99999999999999.99", "1e999", "1e9", "１２", "1.005", "-0"])
def test_an_amount_no_column_holds_is_refused_and_nothing_is_written(client, session, amount):
    world = World(session)
    applicant = bearer(session, world.applicant)
    claim_id = client.post(
        "/api/v1/claims", headers=applicant, json={"home_id": world.home.id}
    ).get_json()["id"]
    line = {"catalogue_code": "cameras", "description": "x", "vat_amount": "0"}
    refused = client.post(
        f"/api/v1/claims/{claim_id}/lines",
        headers=applicant,
        json={**line, "requested_amount": amount},
    )
    assert "requested_amount" in str(assert_problem(refused, 422)["errors"])
    assert lines_of(claim_id) == 0


def test_the_line_form_refuses_an_exponent_without_a_server_error(client, session):
    world = World(session)
    claim = world.draft(lines=())
    csrf = login(client, world.applicant.email)
    page = client.post(
        f"/claims/{claim.id}/lines",
        data={
            "csrf_token": csrf,
            "catalogue_code": "cameras",
            "description": "x",
            "requested_amount": "1e999",
            "vat_amount": "0",
        },
    )
    assert page.status_code == 422  # the form again, with the message at the amount
    assert "zoals 1.250,00" in page.text  # the refusal, with a Dutch example
    assert lines_of(claim.id) == 0
    assert csrf_from(page.text)


@pytest.fixture(scope="module")
def data_error_app(
    app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Flask:
    """A second app of the same factory, with views whose value only the database refuses."""
    probe = create_app(make_test_config(database_url, tmp_path_factory.mktemp("dataerror")))
    bp = Blueprint("data_error_probe", __name__)

    @bp.route("/probe/out-of-range")
    @bp.route("/api/v1/probe/out-of-range")
    def out_of_range() -> str:
        db.session.execute(text("SELECT CAST(:n AS integer)"), {"n": str(TOO_BIG)})
        return "unreachable"

    probe.register_blueprint(bp)
    return probe


@pytest.fixture
def data_error_client(data_error_app: Flask, session) -> Iterator[FlaskClient]:  # type: ignore[no-untyped-def]
    yield data_error_app.test_client()


def test_a_value_the_database_refuses_is_a_400_not_a_500(data_error_client):
    problem = assert_problem(data_error_client.get("/api/v1/probe/out-of-range"), 400)
    assert "niets opgeslagen" in problem["detail"]  # Dutch unless one chose English
    page = data_error_client.get("/probe/out-of-range")
    assert page.status_code == 400
    assert "text/html" in page.content_type


def test_a_control_character_in_any_field_is_a_400_and_nothing_is_written(client, session):
    world = World(session)
    applicant = bearer(session, world.applicant)
    claim_id = client.post(
        "/api/v1/claims", headers=applicant, json={"home_id": world.home.id}
    ).get_json()["id"]
    line = {"catalogue_code": "cameras", "requested_amount": "10", "vat_amount": "0"}
    for description in ("camera\x00", "bell\x07", "x\x7f"):
        refused = client.post(
            f"/api/v1/claims/{claim_id}/lines",
            headers=applicant,
            json={**line, "description": description},
        )
        assert "stuurteken" in assert_problem(refused, 400)["detail"]  # "control character"
    assert lines_of(claim_id) == 0
    # Line breaks and tabs are text like any other.
    kept = client.post(
        f"/api/v1/claims/{claim_id}/lines",
        headers=applicant,
        json={**line, "description": "two\nlines\tand a tab"},
    )
    assert kept.status_code == 201, kept.text
    # The sign-in form too: a NUL in the e-mail address was a server error.
    page = client.get("/login")
    nul = client.post(
        "/login",
        data={"email": "a\x00@b.nl", "password": "x", "csrf_token": csrf_from(page.text)},
    )
    assert nul.status_code == 400
    assert "text/html" in nul.content_type


def test_json_too_deep_or_with_too_long_a_number_is_a_400(client, session):
    world = World(session)
    applicant = bearer(session, world.applicant)
    deep = "[" * 5000 + "]" * 5000
    long_number = '{"home_id": ' + "1" * 5000 + "}"
    for body in (deep, '{"a":' * 40 + "1" + "}" * 40, long_number):
        answer = client.post(
            "/api/v1/claims", headers=applicant, data=body, content_type="application/json"
        )
        assert_problem(answer, 400)
    # Plain invalid JSON stays the parser's answer, naming what is wrong.
    assert client.post(
        "/api/v1/claims", headers=applicant, data="{", content_type="application/json"
    ).status_code in (400, 422)


def test_an_upload_name_with_a_nul_is_cleaned_and_the_document_can_be_read(
    client, session, document_root
):
    world = World(session)
    claim = world.draft()
    applicant = bearer(session, world.applicant)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    uploaded = client.post(
        f"/api/v1/claims/{claim.id}/documents",
        headers=applicant,
        data={"kind": "quote", "file": (io.BytesIO(pdf), "offerte\x00 mei.pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.get_json()
    assert document["filename"] == "offerte mei.pdf"
    download = client.get(
        f"/api/v1/claims/{claim.id}/documents/{document['id']}", headers=applicant
    )
    assert download.status_code == 200
    assert download.data == pdf
    assert "offerte mei.pdf" in download.headers["Content-Disposition"]


def test_a_non_ascii_download_name_is_sent_per_rfc_6266(client, session, document_root):
    world = World(session)
    claim = world.draft()
    applicant = bearer(session, world.applicant)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    document = client.post(
        f"/api/v1/claims/{claim.id}/documents",
        headers=applicant,
        data={"kind": "quote", "file": (io.BytesIO(pdf), "offerte-één.pdf")},
        content_type="multipart/form-data",
    ).get_json()
    download = client.get(
        f"/api/v1/claims/{claim.id}/documents/{document['id']}", headers=applicant
    )
    assert "filename*=UTF-8''offerte-%C3%A9%C3%A9n.pdf" in download.headers["Content-Disposition"]
