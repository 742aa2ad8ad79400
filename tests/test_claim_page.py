"""The claim page leads: only what can succeed now, the next step first, a confirmation
before what cannot be undone, the decision and its objection term, who did what."""

from __future__ import annotations

import datetime as dt
import re

from markupsafe import escape
from sqlalchemy import func, select, update

from housing.claims.handling import CaseHandlingService
from housing.claims.models import Claim, InformationRequest
from housing.clock import today as amsterdam_today
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
    assert refused.status_code == 409
    assert "gesloten" in refused.text


def _primary_buttons(page):
    return re.findall(r'class="utrecht-button utrecht-button--primary-action">([^<]*)<', page)


def test_the_next_step_of_the_role_is_the_one_primary_action(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    # Within its term (else giving notice of default would be the applicant's next step).
    in_term = amsterdam_today() + dt.timedelta(days=30)
    session.execute(update(Claim).where(Claim.id == claim.id).values(decision_deadline=in_term))
    session.commit()
    # The applicant after submitting: nothing to do; withdrawing is there, not solid.
    page = _page(app, world.applicant, claim.id)
    assert _primary_buttons(page) == []
    assert "Andere acties</summary>" in page and "De aanvraag intrekken" in page
    # The assessor: starting the assessment leads.
    page = _page(app, world.assessor, claim.id)
    assert _primary_buttons(page) == ["De beoordeling starten"]
    assert "Volgende stap: De beoordeling starten" in page
    # What is done now and then is folded under its summary, not a form in full.
    assert '<details class="vw-actions"><summary>Een document toevoegen</summary>' in page
    assert '<details class="vw-actions"><summary id="action-extend">' in page

    proposed = world.proposed()
    page = _page(app, world.decider, proposed.id)
    # The proposal grants in full: granting leads; refusing is folded away, behind a
    # confirmation.
    assert _primary_buttons(page) == ["Volledig toekennen"]
    folded = page[page.index("Andere acties</summary>") :]
    assert "Afwijzen" in folded and "Gedeeltelijk toekennen" in folded


def test_withdrawing_asks_for_a_confirmation_first(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    client = app.test_client()
    token = login(client, world.applicant.email)
    page = client.get(f"/claims/{claim.id}").text
    confirm = f"/claims/{claim.id}/events/withdraw/confirm"
    # The claim page's button only leads to the confirmation, by GET: no form fires it.
    assert f'<form method="get" action="{confirm}"' in page
    assert 'name="event" value="withdraw"' not in page

    asked = client.get(confirm)
    assert asked.status_code == 200
    assert "Wat er gebeurt" in asked.text and "niet ongedaan" in asked.text
    assert 'name="event" value="withdraw"' in asked.text
    assert 'name="csrf_token"' in asked.text and 'name="reason"' in asked.text
    once = re.search(r'name="(once_token)" value="([^"]+)"', asked.text)
    assert once is not None
    assert session.get(type(claim), claim.id).state == "submitted"  # asking changed nothing

    done = client.post(
        f"/claims/{claim.id}/events",
        data={
            "csrf_token": token,
            "event": "withdraw",
            "reason": "Verhuisd",
            once.group(1): once.group(2),
        },
    )
    assert done.status_code in (302, 303)
    session.expire_all()
    assert session.get(type(claim), claim.id).state == "withdrawn"
    # Once withdrawn the confirmation is no longer offered: back to the claim page.
    assert client.get(confirm).status_code == 303


def test_the_confirmation_is_only_for_acts_offered_that_cannot_be_undone(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    client = app.test_client()
    login(client, world.applicant.email)
    assert client.get(f"/claims/{claim.id}/events/submit/confirm").status_code == 404
    assert client.get(f"/claims/{claim.id}/events/nonsense/confirm").status_code == 404
    assessor = app.test_client()
    login(assessor, world.assessor.email)
    # Not the assessor's to withdraw: no confirmation page, the claim page instead.
    assert assessor.get(f"/claims/{claim.id}/events/withdraw/confirm").status_code == 303
    stranger = app.test_client()
    login(stranger, World(session, name="Gemeente Anders").applicant.email)
    assert stranger.get(f"/claims/{claim.id}/events/withdraw/confirm").status_code == 404
    proposed = world.proposed()
    decider = app.test_client()
    login(decider, world.decider.email)
    refusing = decider.get(f"/claims/{proposed.id}/events/refuse/confirm")
    assert refusing.status_code == 200 and "bezwaar" in refusing.text


def test_after_the_decision_the_page_shows_it_its_letter_and_the_objection_deadline(
    app, session, document_root
):
    world = World(session)
    claim = world.proposed()
    world.fire(world.decider, claim, "grant")
    world.letters()
    page = _page(app, world.applicant, claim.id)
    api = app.test_client().get(
        f"/api/v1/claims/{claim.id}", headers=bearer(session, world.applicant)
    )
    deadline = api.get_json()["deadline"]
    assert deadline["clock"] == "decided" and deadline["objection_deadline"]
    assert "Beslissen uiterlijk" not in page and "dagen)" not in page
    assert 'id="decided-on"' in page and "Bezwaar mogelijk tot en met" in page
    shown = re.search(r'id="objection-deadline">([^<]+)<', page).group(1)
    day = re.search(r"\d+", shown).group(0)
    assert int(day) == int(deadline["objection_deadline"][-2:])
    assert 'id="decision-letter"' in page and "U kunt bezwaar maken tot en met" in page


def test_the_timeline_names_who_did_what_in_which_role(app, session, count_queries):
    world = World(session)
    claim = world.proposed()
    page = _page(app, world.decider, claim.id)
    assert f"door {escape(world.applicant.full_name)}, Aanvrager" in page
    assert f"door {escape(world.assessor.full_name)}, Beoordelaar" in page

    client = app.test_client()
    login(client, world.decider.email)

    def queries() -> int:
        session.remove()
        with count_queries() as seen:
            assert client.get(f"/claims/{claim.id}").status_code == 200
        return len(seen)

    few = queries()
    # More acts by more people: the names still come in one query.
    handling = CaseHandlingService(session, clock=world.clock)
    for user in (world.assessor2, world.both, world.decider):
        handling.add_note(world.scope(user), user, claim.id, "Gezien.")
    session.commit()
    assert queries() == few
    page = client.get(f"/claims/{claim.id}").text
    assert f"door {escape(world.assessor2.full_name)}, Beoordelaar" in page


def test_the_days_left_are_singular_or_plural(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    for days, shown in ((1, "nog 1 dag)"), (2, "nog 2 dagen)"), (-1, "1 dag te laat)")):
        deadline = amsterdam_today() + dt.timedelta(days=days)
        session.execute(
            update(Claim).where(Claim.id == claim.id).values(decision_deadline=deadline)
        )
        session.commit()
        assert shown in _page(app, world.assessor, claim.id)


def test_a_refused_event_form_is_shown_again_with_its_messages_and_what_was_typed(app, session):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    claim_id, code = claim.id, claim.lines[0].catalogue_code
    client = app.test_client()
    csrf = login(client, world.assessor.email)

    # An information request without its question: the claim page again, nothing written.
    asked = client.post(
        f"/claims/{claim_id}/events",
        data={
            "event": "request_info",
            "question": "  ",
            "term_days": "9",
            "reason": "Nog te vragen",
            "csrf_token": csrf,
        },
    )
    assert asked.status_code == 422
    page = asked.text
    assert 'role="alert" id="form-errors"' in page
    assert 'href="#question">Welke informatie is nodig?:' in page
    assert 'id="question-error">' in page
    assert 'name="question" rows="3" aria-invalid="true" aria-describedby="question-error">' in page
    assert 'value="9"' in page
    # The typed reasons are kept in the form that was sent, not in the others.
    assert page.count("Nog te vragen</textarea>") == 1
    assert 'id="reason-request_info" name="reason" rows="2">Nog te vragen</textarea>' in page
    session.expire_all()
    assert session.get(Claim, claim_id).state.value == "in_assessment"
    assert session.scalar(select(func.count()).select_from(InformationRequest)) == 0

    # An advice with a date that is no date: the message at the date, the reference kept.
    world.fire(world.assessor, session.get(Claim, claim_id), "request_advice")
    advised = client.post(
        f"/claims/{claim_id}/events",
        data={
            "event": "record_advice",
            "reference": "BZK-9",
            "advice_date": "morgen",
            "advised_measures": code,
            "csrf_token": csrf,
        },
    )
    assert advised.status_code == 422
    page = advised.text
    assert 'href="#advice_date">Datum van het advies: Vul een datum in als jjjj-mm-dd.' in page
    assert 'id="advice_date-error">Vul een datum in als jjjj-mm-dd.</div>' in page
    assert (
        'type="date" aria-invalid="true" aria-describedby="advice_date-error" value="morgen"'
    ) in page
    assert 'id="reference" name="reference" value="BZK-9"' in page
    session.expire_all()
    assert session.get(Claim, claim_id).advice is None
