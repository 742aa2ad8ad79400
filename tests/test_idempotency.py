"""Retries never duplicate: an API POST with an Idempotency-Key is done once."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update

from housing.claims.models import MeasureLine
from housing.idempotency.models import IdempotencyKey
from tests.builders.api import assert_problem, bearer
from tests.builders.claims import World

LINE = {
    "catalogue_code": "cameras",
    "description": "Camera bij de voordeur",
    "requested_amount": "1200.00",
    "vat_amount": "208.26",
}


def line_count(session, claim_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(MeasureLine).where(MeasureLine.claim_id == claim_id)
    )


def post_line(client, claim_id, headers, key=None, body=LINE):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"/api/v1/claims/{claim_id}/lines", headers={**headers, **extra}, json=body)


def test_a_retry_with_the_same_key_answers_the_first_response_and_adds_nothing(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)

    first = post_line(client, claim_id, applicant, key="line-1")
    again = post_line(client, claim_id, applicant, key="line-1")

    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert line_count(session, claim_id) == 1
    # Without a key, or with another one, a POST is a new request.
    assert post_line(client, claim_id, applicant, key="line-2").status_code == 201
    assert post_line(client, claim_id, applicant).status_code == 201
    assert line_count(session, claim_id) == 3


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    assert post_line(client, claim_id, applicant, key="k").status_code == 201

    other = post_line(client, claim_id, applicant, key="k", body={**LINE, "vat_amount": "0.00"})
    elsewhere = client.post(
        "/api/v1/claims", headers={**applicant, "Idempotency-Key": "k"}, json={"home_id": 1}
    )

    assert "Idempotency-Key" in assert_problem(other, 422)["detail"]
    assert_problem(elsewhere, 422)
    assert line_count(session, claim_id) == 1


def test_keys_belong_to_their_caller(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    second_token = bearer(session, world.applicant)
    assessor = bearer(session, world.assessor)

    assert post_line(client, claim_id, applicant, key="shared").status_code == 201
    # The same user with another token is the same caller: the first answer again.
    assert post_line(client, claim_id, second_token, key="shared").headers["Idempotent-Replayed"]
    # Another user's key of the same name is theirs: the request is judged on its own (403).
    assert_problem(post_line(client, claim_id, assessor, key="shared"), 403)
    assert line_count(session, claim_id) == 1


def test_a_refused_request_keeps_no_key_so_its_corrected_retry_is_done(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)

    refused = post_line(client, claim_id, applicant, key="try", body={**LINE, "vat_amount": "x"})
    retried = post_line(client, claim_id, applicant, key="try")

    assert_problem(refused, 422)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert line_count(session, claim_id) == 1


def test_an_expired_key_may_be_used_afresh(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    assert post_line(client, claim_id, applicant, key="old").status_code == 201
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "old")
        .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=24, seconds=1))
    )
    session.commit()

    again = post_line(client, claim_id, applicant, key="old")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert line_count(session, claim_id) == 2
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_a_malformed_key_is_a_bad_request(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)

    for key in ("", "x" * 256, "met spatie", "ké"):
        assert_problem(post_line(client, claim_id, applicant, key=key), 400)
    assert line_count(session, claim_id) == 0


def test_an_upload_retried_with_another_multipart_boundary_is_the_same_request(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    pdf = b"%PDF-1.4\n%%EOF\n"

    def upload(boundary: str):
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nquote\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file";'
                ' filename="offerte.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + pdf
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return client.post(
            f"/api/v1/claims/{claim_id}/documents",
            headers={**applicant, "Idempotency-Key": "upload-1"},
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    first, again = upload("aaaa1111"), upload("bbbb2222")

    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_every_post_operation_documents_the_optional_header(client, session):
    spec = client.get("/api/v1/openapi.json").get_json()

    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    assert len(posts) >= 12
    for path, operation in posts.items():
        names = [p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)]
        assert "Idempotency-Key" in names, path
        (parameter,) = [p for p in operation["parameters"] if p.get("name") == "Idempotency-Key"]
        assert parameter["in"] == "header" and parameter["required"] is False
        assert re.fullmatch(parameter["schema"]["pattern"], "a-UUID_or~key!")
    others = [ops[m] for ops in spec["paths"].values() for m in ops if m in {"get", "put", "patch"}]
    assert all(
        "Idempotency-Key" not in [p.get("name") for p in op.get("parameters", [])] for op in others
    )


def test_the_hourly_sweep_forgets_keys_past_their_lifetime(app, client, session):
    from workers import beat_schedule
    from workers.tasks import sweep_idempotency_keys

    world = World(session)
    claim_id = world.draft(lines=()).id
    applicant = bearer(session, world.applicant)
    for key in ("old", "new"):
        assert post_line(client, claim_id, applicant, key=key).status_code == 201
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == "old")
        .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
    )
    session.commit()

    with app.app_context():
        swept = sweep_idempotency_keys.run()
        session.commit()  # as the task's unit of work does

    assert swept == 1
    assert session.scalars(select(IdempotencyKey.key)).all() == ["new"]
    schedule = beat_schedule()["idempotency-key-sweep"]
    assert schedule["task"] == "workers.tasks.sweep_idempotency_keys"
