"""Payouts and payment batches through the API: the same flow as the UI, problems (4xx,
application/problem+json) for every refusal, and all of it in the OpenAPI document."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from housing.claims.models import Claim
from housing.clock import today as amsterdam_today
from housing.jobs.models import Job
from housing.outbox.handlers import default_handlers
from housing.outbox.models import OutboxMessage
from housing.outbox.services import OutboxConsumer, Outcome
from housing.payments.models import PaymentBatch, Payout
from tests.builders.api import assert_problem, bearer
from tests.builders.jobs import run_job_here
from tests.builders.payments import BAD_IBAN, SUPPLIER_IBAN, Finance, record


@pytest.fixture
def fin(session) -> Finance:
    return Finance(session)


def invoice(line_id: int, **overrides: object) -> dict[str, object]:
    return {
        "measure_line_id": line_id,
        "payee_name": "Slot & Grendel B.V.",
        "payee_iban": SUPPLIER_IBAN,
        "amount": "400.00",
        "vat_amount": "69.42",
        "invoice_number": "F-2026-001",
        "invoice_date": "2026-03-01",
        **overrides,
    }


def test_from_supplier_invoice_to_a_released_batch_through_the_api(client, fin, session):
    assessor, f1, f2 = (bearer(session, u) for u in (fin.world.assessor, fin.f1, fin.f2))
    applicant = bearer(session, fin.world.applicant)
    claim_id, camera_id = fin.claim.id, fin.claim.lines[0].id
    claim_number = fin.claim.number

    bad = client.post(
        f"/api/v1/claims/{claim_id}/payouts",
        headers=assessor,
        json=invoice(camera_id, payee_iban=BAD_IBAN),
    )
    body = assert_problem(bad, 422)
    assert "payee_iban" in body["errors"]
    assert session.scalar(select(func.count()).select_from(Payout)) == 0
    created = client.post(
        f"/api/v1/claims/{claim_id}/payouts", headers=assessor, json=invoice(camera_id)
    )
    assert created.status_code == 201, created.text
    payout = created.get_json()
    assert (payout["state"], payout["kind"], payout["amount"]) == (
        "requested",
        "supplier",
        "400.00",
    )
    assert payout["payee_iban"] == "•••• 4567"  # the assessor does not pay: masked
    twice = client.post(
        f"/api/v1/claims/{claim_id}/payouts", headers=assessor, json=invoice(camera_id)
    )
    assert "invoice_number" in assert_problem(twice, 422)["errors"]

    listing = client.get(f"/api/v1/claims/{claim_id}/payouts", headers=applicant).get_json()
    assert [p["id"] for p in listing["payouts"]] == [payout["id"]]
    assert listing["payouts"][0]["payee_iban"] == "•••• 4567"
    balance = {line["catalogue_code"]: line["unpaid_amount"] for line in listing["lines"]}
    assert balance == {"cameras": "800.00", "freestanding_letterbox": "400.00"}

    # Finance user 1 approves within their limit; the full account is theirs to check.
    to_check = client.get("/api/v1/payouts?state=requested", headers=f1)
    assert to_check.status_code == 200
    assert [p["payee_iban"] for p in to_check.get_json()] == [SUPPLIER_IBAN]
    assert '"total": 1' in to_check.headers["X-Pagination"]
    approved = client.post(
        f"/api/v1/payouts/{payout['id']}/events", headers=f1, json={"event": "approve"}
    )
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"

    # Building is a job: 202 with the job to poll.
    started = client.post(
        "/api/v1/batches", headers=f1, json={"execution_date": amsterdam_today().isoformat()}
    )
    assert started.status_code == 202, started.text
    job = started.get_json()
    assert job["status"] == "queued" and job["href"] == f"/api/v1/jobs/{job['job_id']}"
    result, _progress = run_job_here(session, job["job_id"])
    polled = client.get(job["href"], headers=f1).get_json()
    assert polled["status"] == "succeeded" and polled["result"] == result
    batch_id = result["batch_id"]
    detail = client.get(f"/api/v1/batches/{batch_id}", headers=f1).get_json()
    assert (detail["state"], detail["item_count"], detail["total"]) == ("open", 1, "400.00")
    (item,) = detail["items"]
    assert item["end_to_end_id"].startswith(claim_number) and item["payout_state"] == "batched"
    not_yet = client.get(f"/api/v1/batches/{batch_id}/file", headers=f1)
    assert_problem(not_yet, 409)

    def fire(headers, event, **body):
        return client.post(
            f"/api/v1/batches/{batch_id}/events", headers=headers, json={"event": event, **body}
        )

    assert fire(f1, "approve").get_json()["state"] == "approved"
    same_person = assert_problem(fire(f1, "release"), 403)
    assert same_person["errors"]["rule"] == ["releaser_approved"]
    released = fire(f2, "release")
    assert released.status_code == 200 and released.get_json()["state"] == "released"
    assert fire(f2, "release").get_json()["file_sha256"] == released.get_json()["file_sha256"]
    assert_problem(fire(f1, "cancel", reason="Te laat"), 409)

    first = client.get(f"/api/v1/batches/{batch_id}/file", headers=f1)
    second = client.get(f"/api/v1/batches/{batch_id}/file", headers=f2)
    assert first.status_code == 200 and first.mimetype == "application/xml"
    assert first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() == released.get_json()["file_sha256"]
    msg_id = detail["msg_id"]
    assert f"filename={msg_id}.xml" in first.headers["Content-Disposition"]

    # The claim follows its payouts (through the outbox, as a worker delivers it).
    (follow,) = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "claims_follow"))
    assert OutboxConsumer(session, default_handlers()).deliver(follow.id) is Outcome.DONE
    assert session.get(Claim, claim_id).state == "in_payment"
    listing = client.get(f"/api/v1/claims/{claim_id}/payouts", headers=applicant).get_json()
    assert listing["payouts"][0]["state"] == "sent"
    batches = client.get("/api/v1/batches", headers=f2).get_json()
    assert [(b["id"], b["state"]) for b in batches] == [(batch_id, "released")]


def test_above_the_limit_a_second_approval_is_needed(client, fin, session):
    f1, f2 = bearer(session, fin.f1), bearer(session, fin.f2)
    payout = record(fin, amount="1200.00")  # above f1's 1,000.00

    def approve(headers):
        return client.post(
            f"/api/v1/payouts/{payout.id}/events", headers=headers, json={"event": "approve"}
        )

    assert approve(f1).get_json()["state"] == "first_approved"
    assert assert_problem(approve(f1), 403)["errors"]["rule"] == ["second_approver"]
    second = approve(f2).get_json()
    assert second["state"] == "approved"
    assert (second["first_approved_by_id"], second["approved_by_id"]) == (fin.f1.id, fin.f2.id)
    assert_problem(approve(f2), 409)  # approved already: nothing more to approve


def test_every_refusal_is_a_problem_never_a_500(client, fin, session):
    f1 = bearer(session, fin.f1)
    assessor = bearer(session, fin.world.assessor)
    applicant = bearer(session, fin.world.applicant)
    payout_id, claim_id, line_id = record(fin).id, fin.claim.id, fin.claim.lines[0].id

    def event(headers, **body):
        return client.post(f"/api/v1/payouts/{payout_id}/events", headers=headers, json=body)

    # A missing reason is the body's; a blank one the workflow's refusal, named by its rule.
    assert "reason" in assert_problem(event(f1, event="reject"), 422)["errors"]["json"]
    blank = event(f1, event="reject", reason="  ")
    assert assert_problem(blank, 422)["errors"]["rule"] == ["reason_missing"]
    assert "event" in assert_problem(event(f1, event="pay"), 422)["errors"]["json"]
    assert_problem(event(f1, event="approve", surprise=1), 422)  # unknown fields refused
    assert_problem(event(assessor, event="approve"), 403)  # not finance
    correction = {"payee_iban": "NL44RABO0123456789"}
    correct = event(f1, event="correct", reason="Gebeld", correction=correction)
    assert_problem(correct, 409)  # only a returned payout is corrected
    assert_problem(client.get("/api/v1/payouts?state=paid", headers=f1), 422)
    assert_problem(client.get("/api/v1/batches", headers=assessor), 403)
    assert_problem(client.post("/api/v1/batches", headers=f1, json={}), 409)  # none approved
    past = client.post("/api/v1/batches", headers=f1, json={"execution_date": "2020-01-01"})
    assert "execution_date" in assert_problem(past, 422)["errors"]
    assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert_problem(client.get("/api/v1/batches/999999", headers=f1), 404)
    assert_problem(client.get("/api/v1/batches/999999/file", headers=f1), 404)
    not_a_number = client.post(
        f"/api/v1/claims/{claim_id}/payouts", headers=assessor, json=invoice(line_id, amount="veel")
    )
    assert_problem(not_a_number, 422)
    # Regime B: the applicant does not record supplier invoices.
    own = client.post(
        f"/api/v1/claims/{claim_id}/payouts",
        headers=applicant,
        json=invoice(line_id, invoice_number="B-1"),
    )
    assert_problem(own, 403)
    assert_problem(client.get("/api/v1/payouts"), 401)


def test_another_organisations_payouts_and_batches_are_not_found(client, fin, session):
    other = Finance(session, name="Gemeente Elders")
    foreign = record(other, number="E-1")
    other.approve(foreign, other.f2)
    batch = other.batches.build(other.scope(other.f1), other.f1, execution_date=amsterdam_today())
    session.commit()
    batch_id, foreign_id = batch.id, foreign.id
    other_claim, other_line = other.claim.id, other.claim.lines[0].id
    f1 = bearer(session, fin.f1)
    assessor = bearer(session, fin.world.assessor)
    assert_problem(client.get(f"/api/v1/batches/{batch_id}", headers=f1), 404)
    assert_problem(client.get(f"/api/v1/batches/{batch_id}/file", headers=f1), 404)
    events = client.post(
        f"/api/v1/batches/{batch_id}/events", headers=f1, json={"event": "approve"}
    )
    assert_problem(events, 404)
    decided = client.post(
        f"/api/v1/payouts/{foreign_id}/events", headers=f1, json={"event": "approve"}
    )
    assert_problem(decided, 404)
    assert_problem(client.get(f"/api/v1/claims/{other_claim}/payouts", headers=f1), 404)
    recorded = client.post(
        f"/api/v1/claims/{other_claim}/payouts",
        headers=assessor,
        json=invoice(other_line),
    )
    assert_problem(recorded, 404)
    assert client.get("/api/v1/batches", headers=f1).get_json() == []
    assert client.get("/api/v1/payouts", headers=f1).get_json() == []
    assert session.get(PaymentBatch, batch_id).state == "open"


def test_an_applicant_sees_only_the_payouts_of_their_own_claims(client, fin, session):
    record(fin)
    outsider = Finance(session, name="Gemeente Anders")
    record(outsider, number="A-1")
    mine = client.get("/api/v1/payouts", headers=bearer(session, fin.world.applicant))
    assert [p["invoice_number"] for p in mine.get_json()] == ["F-1"]
    assert mine.get_json()[0]["payee_iban"] == "•••• 4567"


def test_the_openapi_document_describes_the_payment_endpoints(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {
        "/api/v1/claims/{claim_id}/payouts",
        "/api/v1/payouts",
        "/api/v1/payouts/{payout_id}/events",
        "/api/v1/batches",
        "/api/v1/batches/{batch_id}",
        "/api/v1/batches/{batch_id}/events",
        "/api/v1/batches/{batch_id}/file",
    } <= set(paths)
    assert set(paths["/api/v1/claims/{claim_id}/payouts"]) >= {"get", "post"}
    assert "202" in paths["/api/v1/batches"]["post"]["responses"]
    assert "409" in paths["/api/v1/batches/{batch_id}/events"]["post"]["responses"]
    assert paths["/api/v1/batches"]["get"]["security"] == [{"bearerAuth": []}]


def test_each_payout_and_batch_event_takes_its_own_body(client, fin, session):
    f1 = bearer(session, fin.f1)
    payout = record(fin)
    returned = record(fin, number="F-2")
    returned.state = "returned"
    session.commit()
    payout_id, returned_id = payout.id, returned.id

    def payout_event(payout_id, **body):
        return client.post(f"/api/v1/payouts/{payout_id}/events", headers=f1, json=body)

    def errors(response):
        return assert_problem(response, 422)["errors"]["json"]

    # A key the event does not read is refused, not ignored; a key it needs is asked for.
    assert "correction" in errors(payout_event(payout_id, event="approve", correction={}))
    assert "correction" in errors(payout_event(returned_id, event="correct", reason="Gebeld"))
    new_iban = {"payee_iban": "NL44RABO0123456789"}
    assert "reason" in errors(payout_event(returned_id, event="correct", correction=new_iban))
    no_iban = payout_event(returned_id, event="correct", reason="Gebeld", correction={})
    assert "payee_iban" in errors(no_iban)["correction"]
    assert "reason" in errors(payout_event(payout_id, event="cancel"))
    assert fresh_state(session, payout_id, returned_id) == ("requested", "returned")

    corrected = payout_event(returned_id, event="correct", reason="Gebeld", correction=new_iban)
    assert corrected.status_code == 200, corrected.text
    assert corrected.get_json()["state"] == "approved"
    approved = payout_event(payout_id, event="approve", reason=None)
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"

    def batch_event(**body):
        return client.post("/api/v1/batches/999999/events", headers=f1, json=body)

    assert "reason" in errors(batch_event(event="approve", reason="Akkoord"))
    assert "reason" in errors(batch_event(event="cancel"))
    assert "event" in errors(batch_event(event="book"))
    assert_problem(batch_event(event="release"), 404)  # a valid body: the batch is looked up


def fresh_state(session, *payout_ids):
    session.expire_all()
    return tuple(session.get(Payout, i).state for i in payout_ids)


def test_the_payout_and_batch_event_bodies_are_documented_one_per_event(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for path, events in (
        ("/api/v1/payouts/{payout_id}/events", {"approve", "reject", "cancel", "correct"}),
        ("/api/v1/batches/{batch_id}/events", {"approve", "release", "cancel"}),
    ):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        mapping = body["schema"]["discriminator"]["mapping"]
        assert body["schema"]["discriminator"]["propertyName"] == "event"
        assert set(mapping) == events
        assert [one["$ref"] for one in body["schema"]["oneOf"]] == list(mapping.values())
        for event, ref in mapping.items():
            schema = schemas[ref.rsplit("/", 1)[1]]
            assert schema["properties"]["event"]["enum"] == [event]
            assert schema["additionalProperties"] is False
    correct = schemas["PayoutEventCorrect"]
    assert set(correct["required"]) == {"event", "reason", "correction"}
    assert schemas["Correction"]["required"] == ["payee_iban"]
    assert schemas["PayoutEventApprove"]["required"] == ["event"]
    assert set(schemas["BatchEventCancel"]["required"]) == {"event", "reason"}
    assert set(schemas["BatchEventRelease"]["properties"]) == {"event"}
