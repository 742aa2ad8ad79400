"""The claim page leads: only what can succeed now, the next step first, a confirmation
before what cannot be undone, the decision and its objection term, who did what."""

from __future__ import annotations

import re

from tests.builders.api import bearer
from tests.builders.claims import World
from tests.conftest import login


def _page(app, user, claim_id):
    client = app.test_client()
    login(client, user.email)
    return client.get(f"/claims/{claim_id}").text


def _offered(page):
    return sorted(set(re.findall(r'id="action-([a-z_]+)"', page)) - {"extend"})


def test_under_regime_b_a_decision_is_proposed_only_once_the_advice_is_recorded(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    assert claim.regime.value == "B"

    def allowed():
        answer = app.test_client().get(
            f"/api/v1/claims/{claim.id}", headers=bearer(session, world.assessor)
        )
        return answer.get_json()["allowed_events"]

    page = _page(app, world.assessor, claim.id)
    assert "propose_decision" not in _offered(page)
    assert "Een besluit voorstellen" not in page
    assert "propose_decision" not in allowed()
    assert "request_advice" in _offered(page) and "request_advice" in allowed()

    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-9",
            "advice_date": "2026-03-02",
            "advised_measures": ["cameras"],
        },
    )
    assert "propose_decision" in _offered(_page(app, world.assessor, claim.id))
    assert "propose_decision" in allowed()


def test_a_withdrawn_claim_offers_no_upload(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert 'name="kind"' in _page(app, world.applicant, claim.id)
    world.fire(world.applicant, claim, "withdraw")
    for user in (world.applicant, world.assessor):
        page = _page(app, user, claim.id)
        assert 'name="kind"' not in page
        assert "Het document toevoegen" not in page
    # A forged upload is still refused: the claim is closed.
    client = app.test_client()
    token = login(client, world.applicant.email)
    refused = client.post(
        f"/claims/{claim.id}/documents",
        data={"csrf_token": token, "kind": "quote"},
    )
    assert refused.status_code in (302, 303)
    assert "gesloten" in client.get(refused.headers["Location"]).text
