"""One-time form tokens: a double click or a resubmission does one thing."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from housing.claims.models import Claim, MeasureLine
from tests.builders.claims import World
from tests.conftest import csrf_from, login

ONCE = re.compile(r'name="once_token" value="([^"]+)"')
ALREADY = "Dit formulier was al verstuurd"


def once_from(html: str) -> str:
    found = ONCE.search(html)
    assert found, "no one-time token on the page"
    return found.group(1)


def lines_of(session, claim_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(MeasureLine).where(MeasureLine.claim_id == claim_id)
    )


def line_form(page: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf_from(page),
        "once_token": once_from(page),
        "wizard_step": "measures",
        "catalogue_code": "cameras",
        "description": "Camera bij de voordeur",
        "requested_amount": "1200,00",
        "vat_amount": "208,26",
        **changes,
    }


def test_a_form_sent_twice_adds_one_measure_and_the_second_is_told_so(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    login(client, world.applicant.email)
    page = client.get(f"/claims/{claim_id}/wizard/measures").text
    form = line_form(page)

    first = client.post(f"/claims/{claim_id}/lines", data=form)
    second = client.post(f"/claims/{claim_id}/lines", data=form)

    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert lines_of(session, claim_id) == 1
    shown = client.get(second.headers["Location"]).text
    assert ALREADY in shown
    # The page after it carries a new token: the next measure is a new one.
    assert once_from(shown) != form["once_token"]
    assert client.post(f"/claims/{claim_id}/lines", data=line_form(shown)).status_code == 303
    assert lines_of(session, claim_id) == 2


def test_a_refused_form_does_not_use_up_its_token(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    login(client, world.applicant.email)
    page = client.get(f"/claims/{claim_id}/wizard/measures").text

    refused = client.post(f"/claims/{claim_id}/lines", data=line_form(page, vat_amount="x"))
    corrected = client.post(f"/claims/{claim_id}/lines", data=line_form(page))

    assert refused.status_code == 422 and corrected.status_code == 303
    assert ALREADY not in client.get(corrected.headers["Location"]).text
    assert lines_of(session, claim_id) == 1


def test_a_new_claim_clicked_twice_is_one_draft(client, session):
    world = World(session)
    login(client, world.applicant.email)
    page = client.get("/claims/mine").text
    form = {
        "csrf_token": csrf_from(page),
        "once_token": once_from(page),
        "home_id": str(world.home.id),
    }

    first = client.post("/claims/new", data=form)
    second = client.post("/claims/new", data=form)

    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    drafts = session.scalar(
        select(func.count()).select_from(Claim).where(Claim.organisation_id == world.org.id)
    )
    assert drafts == 1


def test_a_token_is_its_users_alone(app, client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    login(client, world.applicant.email)
    page = client.get(f"/claims/{claim_id}/wizard/measures").text
    form = line_form(page)
    assert client.post(f"/claims/{claim_id}/lines", data=form).status_code == 303

    other = app.test_client()
    login(other, world.assessor.email)
    refused = other.post(
        f"/claims/{claim_id}/lines",
        data={**form, "csrf_token": csrf_from(other.get("/profile").text)},
    )

    # Not sent back as "already done": the assessor's own request, refused on its own merits.
    assert refused.status_code == 403
    assert lines_of(session, claim_id) == 1


def test_the_forms_that_create_or_fire_carry_a_token(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    login(client, world.applicant.email)

    steps = [f"/claims/{claim_id}/wizard/{step}" for step in ("measures", "documents", "review")]
    for path in ("/claims/mine", *steps):
        page = client.get(path).text
        forms = re.findall(r"<form method=\"post\".*?</form>", page, flags=re.S)
        creating = [f for f in forms if "/logout" not in f and "/language" not in f]
        assert creating, path
        assert all(ONCE.search(f) for f in creating), path


def test_a_form_shown_again_with_its_errors_keeps_its_token(client, session):
    from housing.accounts.models import User
    from tests.factories import UserFactory

    admin = UserFactory(admin=True)
    login(client, admin.email)
    page = client.get("/admin/users/new").text
    form = {
        "csrf_token": csrf_from(page),
        "once_token": once_from(page),
        "email": "nieuw@example.org",
        "full_name": "Nieuwe Collega",
        "roles": ["assessor"],
        "language": "nl",
        "channel": "post",
        "password": "a-long-enough-password",
    }

    shown_again = client.post("/admin/users/new", data={**form, "email": "geen-adres"})
    made = client.post("/admin/users/new", data=form)

    assert shown_again.status_code == 200
    assert made.status_code == 302
    assert (
        session.scalar(
            select(func.count()).select_from(User).where(User.email == "nieuw@example.org")
        )
        == 1
    )
