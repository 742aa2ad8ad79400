"""Claims through the API: from draft to decision, with problems for every refusal."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from housing.audit.models import AccessLog
from housing.outbox.services import Outcome
from housing.roles import Role
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World
from tests.factories import UserFactory


def test_a_claim_from_draft_to_decision_through_the_api(client, session):
    world = World(session)
    applicant = bearer(session, world.applicant)
    assessor = bearer(session, world.assessor)
    decider = bearer(session, world.decider)

    created = client.post("/api/v1/claims", headers=applicant, json={"home_id": world.home.id})
    assert created.status_code == 201, created.text
    claim_id = created.get_json()["id"]
    for code, amount in (("cameras", "1200.00"), ("freestanding_letterbox", "400.00")):
        line = client.post(
            f"/api/v1/claims/{claim_id}/lines",
            headers=applicant,
            json={
                "catalogue_code": code,
                "description": code,
                "requested_amount": amount,
                "vat_amount": "0.00",
            },
        )
        assert line.status_code == 201, line.text

    def fire(headers, event_name, **body):
        return client.post(
            f"/api/v1/claims/{claim_id}/events", headers=headers, json={"event": event_name, **body}
        )

    assert fire(applicant, "submit").get_json()["state"] == "submitted"
    assert fire(assessor, "start_assessment").status_code == 200
    assert fire(assessor, "request_advice").status_code == 200
    advice = {
        "reference": "BZK-9",
        "advice_date": "2026-03-02",
        "advised_measures": ["cameras", "freestanding_letterbox"],
    }
    assert fire(assessor, "record_advice", details=advice).status_code == 200
    detail = client.get(f"/api/v1/claims/{claim_id}", headers=assessor).get_json()
    granted = {str(line["id"]): line["requested_amount"] for line in detail["lines"]}
    proposed = fire(
        assessor, "propose_decision", details={"granted": granted}, reason="Conform advies"
    )
    assert proposed.get_json()["state"] == "decision_proposed", proposed.text

    # Four eyes: the assessor may not decide; the decider may.
    assert_problem(fire(assessor, "grant"), 403)
    granted_claim = fire(decider, "grant", reason="Conform advies")
    assert granted_claim.status_code == 200, granted_claim.text
    body = granted_claim.get_json()
    assert body["state"] == "granted"
    assert (
        body["deadline"]["decision_deadline"] == "2026-04-28"
        or body["deadline"]["decision_deadline"]
    )

    detail = client.get(f"/api/v1/claims/{claim_id}", headers=decider).get_json()
    assert [h["event"] for h in detail["history"]][-2:] == ["propose_decision", "grant"]
    # Only what this caller may fire now: payment is the system's, not the decider's.
    assert detail["allowed_events"] == []
    views = session.scalars(select(AccessLog).where(AccessLog.claim_id == claim_id)).all()
    assert len(views) == 2  # every read of the claim is logged


def test_refusals_are_problems(client, session):
    world = World(session)
    org_id = world.org.id
    applicant = bearer(session, world.applicant)
    claim_id = client.post(
        "/api/v1/claims", headers=applicant, json={"home_id": world.home.id}
    ).get_json()["id"]
    url = f"/api/v1/claims/{claim_id}/events"
    # Not possible in this state: 409, naming the state.
    conflict = assert_problem(
        client.post(url, headers=bearer(session, world.assessor), json={"event": "grant"}), 409
    )
    assert "draft" in conflict["detail"]
    # No such event: 422 with the field.
    assert "event" in str(
        assert_problem(client.post(url, headers=applicant, json={"event": "explode"}), 422)[
            "errors"
        ]
    )
    # Bad line: 422 naming the field; unknown home: 404.
    bad = client.post(
        f"/api/v1/claims/{claim_id}/lines",
        headers=applicant,
        json={
            "catalogue_code": "cameras",
            "description": "x",
            "requested_amount": "abc",
            "vat_amount": "0",
        },
    )
    assert "requested_amount" in str(assert_problem(bad, 422)["errors"])
    assert_problem(client.post("/api/v1/claims", headers=applicant, json={"home_id": 999999}), 404)
    # Other organisation: 404; roles without case access: 403.
    stranger = World(session, name="Gemeente Vreemd")
    assert_problem(
        client.get(f"/api/v1/claims/{claim_id}", headers=bearer(session, stranger.assessor)), 404
    )
    for role in (Role.ADMIN, Role.AUDITOR):
        other = UserFactory(organisation_id=org_id, roles={role})
        assert_problem(client.get("/api/v1/claims", headers=bearer(session, other)), 403)


def test_an_applicant_sees_only_their_own_claims(client, session):
    world = World(session)
    world.draft()
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    mine = client.get("/api/v1/claims", headers=bearer(session, world.applicant)).get_json()
    theirs = client.get("/api/v1/claims", headers=bearer(session, colleague)).get_json()
    assert len(mine) == 1 and theirs == []


def test_an_applicant_finds_their_homes_and_the_claims_catalogue(client, session):
    world = World(session)
    claim = world.draft()
    colleague = UserFactory(organisation_id=world.org.id, roles={Role.APPLICANT})
    finance = UserFactory(organisation_id=world.org.id, roles={Role.FINANCE})
    homes = client.get("/api/v1/homes", headers=bearer(session, world.applicant)).get_json()
    assert [home["id"] for home in homes] == [world.home.id]
    assert homes[0]["street"] == world.home.street
    assert client.get("/api/v1/homes", headers=bearer(session, colleague)).get_json() == []
    # Finance pays but never reads an address.
    assert_problem(client.get("/api/v1/homes", headers=bearer(session, finance)), 403)
    catalogue = client.get(
        f"/api/v1/claims/{claim.id}/catalogue", headers=bearer(session, world.applicant)
    ).get_json()
    codes = {item["code"] for item in catalogue}
    assert {"cameras", "freestanding_letterbox"} <= codes and "safe" not in codes  # regime B
    assert_problem(
        client.get(f"/api/v1/claims/{claim.id}/catalogue", headers=bearer(session, colleague)),
        404,
    )


def test_the_list_filters_and_its_query_count_does_not_grow(client, session, count_queries):
    world = World(session)
    assessor = bearer(session, world.assessor)
    # The token's first use is written once (then at most every few minutes): not counted.
    assert client.get("/api/v1/me", headers=assessor).status_code == 200

    def listed(path):
        # Each request starts from an empty session, as in production: no row already loaded.
        session.remove()
        with count_queries() as statements:
            response = client.get(path, headers=assessor)
        assert response.status_code == 200
        return response, len(statements)

    for _ in range(2):
        world.fire(world.applicant, world.draft(), "submit")
    _, few = listed("/api/v1/claims")
    for _ in range(8):
        world.draft()
    response, many = listed("/api/v1/claims?page_size=50")
    assert len(response.get_json()) == 10
    assert many == few
    submitted = client.get("/api/v1/claims?state=submitted", headers=assessor).get_json()
    assert len(submitted) == 2
    assert_problem(client.get("/api/v1/claims?state=bogus", headers=assessor), 422)


def test_documents_through_the_api(client, session, document_root):
    import io

    world = World(session)
    claim = world.draft()
    claim_id = claim.id
    applicant = bearer(session, world.applicant)
    finance = bearer(session, UserFactory(organisation_id=world.org.id, roles={Role.FINANCE}))
    pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    url = f"/api/v1/claims/{claim_id}/documents"

    def upload(headers, kind, data, name="offerte.pdf"):
        return client.post(
            url,
            headers=headers,
            data={"kind": kind, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )

    created = upload(applicant, "quote", pdf)
    assert created.status_code == 201, created.text
    document = created.get_json()
    assert (
        document["content_type"] == "application/pdf" and document["confidentiality"] == "internal"
    )
    assert "file" in str(assert_problem(upload(applicant, "quote", b"GIF89a"), 422)["errors"])
    assert "kind" in str(assert_problem(upload(applicant, "security_advice", pdf), 422)["errors"])
    assert_problem(client.post(url, headers=applicant, data={"kind": "quote"}), 422)  # no file
    assert_problem(upload(finance, "quote", pdf), 403)  # finance reads, never uploads

    listed = client.get(url, headers=finance).get_json()
    assert [d["filename"] for d in listed] == ["offerte.pdf"]
    with client.get(f"{url}/{document['id']}", headers=finance) as download:
        assert download.status_code == 200 and download.data == pdf
    assert_problem(client.get(f"{url}/999999", headers=finance), 404)
    downloads = session.scalars(select(AccessLog).where(AccessLog.action == "download")).all()
    assert len(downloads) == 1


def test_allowed_events_are_the_callers_own(client, session):
    world = World(session)
    claim = world.proposed()
    applicant = bearer(session, world.applicant)
    decider = bearer(session, world.decider)
    assessor = bearer(session, world.assessor)  # proposed it: four eyes
    path = f"/api/v1/claims/{claim.id}"
    assert client.get(path, headers=applicant).get_json()["allowed_events"] == []
    assert client.get(path, headers=assessor).get_json()["allowed_events"] == []
    assert client.get(path, headers=decider).get_json()["allowed_events"] == [
        "declare_not_considered",
        "grant",
        "grant_partially",
        "refuse",
        "send_back",
    ]
    draft = world.draft()
    mine = client.get(f"/api/v1/claims/{draft.id}", headers=applicant).get_json()
    assert mine["allowed_events"] == ["submit", "withdraw"]


def test_a_decided_claim_says_decided_with_its_objection_deadline_and_letter(
    client, session, document_root, monkeypatch
):
    world = World(session)
    world.serve_pages(monkeypatch)  # the API decides on the world's day
    claim = world.proposed()
    decider = bearer(session, world.decider)
    granted = client.post(
        f"/api/v1/claims/{claim.id}/events", headers=decider, json={"event": "grant"}
    ).get_json()
    deadline = granted["deadline"]
    assert deadline["clock"] == "decided" and deadline["days_left"] is None
    decided_on = dt.date.fromisoformat(deadline["decided_on"])
    objection = dt.date.fromisoformat(deadline["objection_deadline"])
    assert objection >= decided_on + dt.timedelta(weeks=6)
    letter = granted["decision_letter"]
    assert letter["kind"] == "grant" and letter["being_prepared"] is True
    assert letter["document_id"] is None
    assert world.letters() == [Outcome.DONE]
    session.expire_all()  # a new request reads afresh
    again = client.get(f"/api/v1/claims/{claim.id}", headers=decider).get_json()
    letter = again["decision_letter"]
    assert letter["being_prepared"] is False and letter["document_id"]
    download = client.get(letter["href"], headers=decider)
    assert download.status_code == 200 and download.mimetype == "application/pdf"


def test_event_details_are_checked_per_event(client, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    assessor = bearer(session, world.assessor)
    path = f"/api/v1/claims/{claim.id}/events"
    missing = client.post(path, headers=assessor, json={"event": "request_info", "details": {}})
    assert "question" in str(assert_problem(missing, 422)["errors"])
    stray = client.post(path, headers=assessor, json={"event": "submit", "details": {"x": 1}})
    assert "details" in str(assert_problem(stray, 422)["errors"])
    system = client.post(path, headers=assessor, json={"event": "start_payment"})
    assert "event" in str(assert_problem(system, 422)["errors"])
    asked = client.post(
        path, headers=assessor, json={"event": "request_info", "details": {"question": "Offerte?"}}
    )
    assert asked.status_code == 200, asked.text
    assert asked.get_json()["state"] == "awaiting_info"


def test_amounts_are_strings_and_pages_hold_25_by_default(client, session):
    world = World(session)
    for _ in range(26):
        world.draft()
    applicant = bearer(session, world.applicant)
    page = client.get("/api/v1/claims", headers=applicant)
    assert len(page.get_json()) == 25
    # The whole list is counted only when asked; without, the page knows a next one follows.
    assert json.loads(page.headers["X-Pagination"]) == {"page": 1, "first_page": 1, "next_page": 2}
    counted = client.get("/api/v1/claims?count=true", headers=applicant)
    assert json.loads(counted.headers["X-Pagination"])["total"] == 26
    assert page.get_json()[0]["lines"][0]["requested_amount"] == "1200.00"
    spec = client.get("/api/v1/openapi.json").get_json()
    size = next(
        p for p in spec["paths"]["/api/v1/claims"]["get"]["parameters"] if p["name"] == "page_size"
    )
    assert size["schema"]["default"] == 25 and size["schema"]["maximum"] == 100
    amount = spec["components"]["schemas"]["MeasureLine"]["properties"]["requested_amount"]
    assert amount["type"] == "string" and amount["pattern"]
    refusal = spec["paths"]["/api/v1/claims"]["get"]["responses"]["401"]
    assert refusal == {"$ref": "#/components/responses/UNAUTHORIZED"}
    assert "application/problem+json" in spec["components"]["responses"]["UNAUTHORIZED"]["content"]


def test_objections_are_no_claim_events_in_the_api(client, session):
    """An objection is its own case (/objections): the claim's events list no
    lodge_objection, reconsider or uphold, nor the system's reopen_after_objection."""
    world = World(session)
    applicant = bearer(session, world.applicant)
    claim_id = client.post(
        "/api/v1/claims", headers=applicant, json={"home_id": world.home.id}
    ).get_json()["id"]
    spec = client.get("/api/v1/openapi.json").get_json()
    named = str(spec["components"]["schemas"])
    for retired in ("lodge_objection", "reconsider", "'uphold'", "reopen_after_objection"):
        assert retired not in named
    assert "'grant'" in named  # the claim's own events are there
    url = f"/api/v1/claims/{claim_id}/events"
    refused = assert_problem(
        client.post(url, headers=applicant, json={"event": "lodge_objection"}), 422
    )
    assert "event" in str(refused["errors"])
