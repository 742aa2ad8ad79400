"""Objections on the claim page: the applicant lodges one (late: flagged, not refused),
the decider decides it, another applicant gets nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from housing.claims.models import Objection
from housing.clock import today as amsterdam_today
from housing.deadlines.services import atw_calendar
from housing.roles import Role
from tests.builders.api import bearer
from tests.builders.claims import World
from tests.builders.objections import decision_of, lodged_objection, partially_granted
from tests.conftest import csrf_from, login
from tests.factories import ClaimFactory, UserFactory


def test_an_objection_is_lodged_and_decided_on_the_claim_page(app, session):
    world = World(session)
    claim = partially_granted(world)
    decision = decision_of(session, claim)
    claim_id, decision_id = claim.id, decision.id

    applicant = app.test_client()
    csrf = login(applicant, world.applicant.email)
    page = applicant.get(f"/claims/{claim_id}").text
    assert "Bezwaren" in page and 'id="objection-new"' in page
    # The claim's own objection event is not offered beside the objection case.
    assert 'id="action-lodge_objection"' not in page
    empty = applicant.post(
        f"/claims/{claim_id}/objections",
        data={"decision_id": decision_id, "grounds": " ", "csrf_token": csrf},
    )
    # The claim page again: the message at the field, in the summary, the field marked.
    assert empty.status_code == 422
    assert 'id="objection-grounds-error">Dit veld is verplicht.' in empty.text
    assert 'href="#objection-grounds"' in empty.text
    assert 'name="grounds" rows="4" maxlength="4000" aria-invalid="true"' in empty.text
    assert session.scalars(select(Objection)).all() == []
    lodged = applicant.post(
        f"/claims/{claim_id}/objections",
        data={"decision_id": decision_id, "grounds": "De brievenbus is nodig.", "csrf_token": csrf},
    )
    assert "Uw bezwaar is ontvangen." in applicant.get(lodged.headers["Location"]).text
    objection = session.scalars(select(Objection)).one()
    objection_id = objection.id
    # The page runs on today's clock, the decision on the world's (March 2026): late.
    assert objection.late and objection.state == "lodged"
    page = applicant.get(f"/claims/{claim_id}").text
    assert f'id="objection-late-{objection.id}"' in page
    assert "Bezwaar intrekken" in page and "Beslissen op het bezwaar" not in page

    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    stranger = app.test_client()
    stranger_csrf = login(stranger, other.email)
    refused = stranger.post(
        f"/claims/{claim_id}/objections",
        data={"decision_id": decision_id, "grounds": "Ik ook", "csrf_token": stranger_csrf},
    )
    assert refused.status_code == 404

    decider = app.test_client()
    decider_csrf = login(decider, world.decider.email)
    page = decider.get(f"/claims/{claim_id}").text
    assert "Beslissen op het bezwaar" in page and "Te laat" in page
    unreasoned = decider.post(
        f"/claims/{claim_id}/objections/{objection.id}/decide",
        data={"outcome": "upheld", "reasons": "", "csrf_token": decider_csrf},
    )
    # Refused at the reasons field; the outcome chosen stays chosen.
    assert unreasoned.status_code == 422
    assert f'id="objection-reasons-{objection.id}-error">Geef de motivering' in unreasoned.text
    assert 'value="upheld" checked' in unreasoned.text
    assert 'value="rejected" checked' not in unreasoned.text
    decided = decider.post(
        f"/claims/{claim_id}/objections/{objection.id}/decide",
        data={
            "outcome": "upheld",
            "reasons": "Het advies noemt de brievenbus wel.",
            "csrf_token": decider_csrf,
        },
    )
    assert "Op het bezwaar is beslist" in decider.get(decided.headers["Location"]).text
    objection = session.scalars(select(Objection).where(Objection.id == objection_id)).one()
    assert objection.state == "upheld" and objection.outcome_decision_id is not None
    timeline = decider.get(f"/claims/{claim_id}").text
    assert "Bezwaar gemaakt" in timeline and "Bezwaar gegrond verklaard" in timeline


def test_objections_through_the_api(app, session):
    world = World(session)
    claim = partially_granted(world)
    decision_id = decision_of(session, claim).id
    claim_id = claim.id
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    stranger = bearer(session, other)
    client = app.test_client()
    url = f"/api/v1/claims/{claim_id}/objections"

    bad = client.post(
        url,
        json={"decision_id": decision_id, "grounds": ""},
        headers=bearer(session, world.applicant),
    )
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    # Staff do not lodge in the applicant's name: they register a paper one, with its date.
    staff_lodge = client.post(
        url,
        json={"decision_id": decision_id, "grounds": "Oneens"},
        headers=bearer(session, world.assessor),
    )
    assert staff_lodge.status_code == 403
    lodged = client.post(
        url,
        json={"decision_id": decision_id, "grounds": "Oneens"},
        headers=bearer(session, world.applicant),
    )
    assert lodged.status_code == 201, lodged.get_json()
    body = lodged.get_json()
    assert body["state"] == "lodged" and body["decision_id"] == decision_id
    assert body["late"] is True  # today's clock, long after the decision of March 2026
    again = client.post(
        url,
        json={"decision_id": decision_id, "grounds": "Nog eens"},
        headers=bearer(session, world.applicant),
    )
    assert again.status_code == 409

    listed = client.get(url, headers=bearer(session, world.decider))
    assert listed.status_code == 200
    assert [o["id"] for o in listed.get_json()] == [body["id"]]
    assert client.get(url, headers=stranger).status_code == 404


def test_the_deciders_queue_lists_open_objections_with_their_deadline(app, session):
    today = amsterdam_today()
    world = World(session)
    overdue = ClaimFactory(home=world.home, refused=True)
    late = lodged_objection(
        session, overdue, term_ends_on=today - dt.timedelta(days=50), lodged_by=world.applicant
    )
    soon = ClaimFactory(home=world.home, refused=True)
    ahead = lodged_objection(
        session,
        soon,
        term_ends_on=today - dt.timedelta(days=30),
        lodged_by=world.applicant,
        prepared_by=world.decider,
    )
    decided = lodged_objection(
        session,
        ClaimFactory(home=world.home, refused=True),
        term_ends_on=today,
        lodged_by=world.applicant,
    )
    decided.state = "rejected"
    elsewhere = World(session, name="Gemeente Elders")
    lodged_objection(
        session,
        ClaimFactory(home=elsewhere.home, refused=True),
        term_ends_on=today,
        lodged_by=elsewhere.applicant,
    )
    session.commit()

    client = app.test_client()
    login(client, world.decider.email)
    page = client.get("/claims/decisions").text

    assert "2 bezwaren om op te beslissen" in page
    assert "Niets om nu te beslissen." not in page
    rows = page.split('id="queued-objection-')[1:]
    # The nearest deadline first: six weeks after the term ended (art. 7:10 Awb).
    assert [row.split('"', 1)[0] for row in rows] == [str(late.id), str(ahead.id)]
    assert f'href="/claims/{overdue.id}#objection-{late.id}"' in rows[0]
    # Due 8 days ago, or the working day after when that was a weekend or holiday (Atw).
    due = atw_calendar(session).stretch(today - dt.timedelta(days=8))
    assert f"{(today - due).days} dagen te laat" in rows[0]
    assert "U hebt dit besluit voorbereid" in rows[1]
    assert f'id="queued-objection-{decided.id}"' not in page


def test_withdrawing_an_objection_is_confirmed_first(app, session):
    world = World(session)
    claim = ClaimFactory(home=world.home, refused=True)
    objection = lodged_objection(
        session,
        claim,
        term_ends_on=amsterdam_today() + dt.timedelta(days=20),
        lodged_by=world.applicant,
    )
    claim_id, objection_id = claim.id, objection.id
    applicant = app.test_client()
    login(applicant, world.applicant.email)
    page = applicant.get(f"/claims/{claim_id}").text
    confirm_url = f"/claims/{claim_id}/objections/{objection_id}/withdraw"
    # The claim page's button is a link to the confirmation, not the act.
    assert f'<form method="get" action="{confirm_url}"' in page

    confirm = applicant.get(confirm_url)
    assert confirm.status_code == 200
    assert "Bezwaar intrekken?" in confirm.text and "Wat er gebeurt" in confirm.text
    session.expire_all()
    assert session.get(Objection, objection_id).state == "lodged"  # looking changes nothing

    # Another applicant of the organisation neither sees the page nor withdraws.
    other = UserFactory(organisation=world.org, roles={Role.APPLICANT})
    session.commit()
    stranger = app.test_client()
    stranger_csrf = login(stranger, other.email)
    assert stranger.get(confirm_url).status_code == 404
    refused = stranger.post(confirm_url, data={"csrf_token": stranger_csrf})
    assert refused.status_code == 404

    done = applicant.post(confirm_url, data={"csrf_token": csrf_from(confirm.text)})
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Objection, objection_id).state == "withdrawn"
    # Withdrawn: the confirmation page sends back to the claim.
    again = applicant.get(confirm_url)
    assert again.status_code == 303 and again.headers["Location"].endswith(
        f"/claims/{claim_id}#objections"
    )
