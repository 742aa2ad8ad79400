"""Dutch in, Dutch out: amounts typed as "1.850,00" are read, and amounts are shown so;
English pages read and write English amounts and British dates."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from babel.dates import format_date
from sqlalchemy import select

from housing.accounts.models import Language
from housing.claims.models import Claim, MeasureLine
from housing.organisations.models import Budget
from tests.builders.claims import World
from tests.conftest import login
from tests.factories import UserFactory


def lines_of(session, claim_id: int) -> list[tuple[Decimal, Decimal]]:
    session.expire_all()
    rows = session.execute(
        select(MeasureLine.requested_amount, MeasureLine.vat_amount)
        .where(MeasureLine.claim_id == claim_id)
        .order_by(MeasureLine.id)
    )
    return [tuple(row) for row in rows]


def add_line(client, csrf: str, claim_id: int, requested: str, vat: str):
    return client.post(
        f"/claims/{claim_id}/lines",
        data={
            "csrf_token": csrf,
            "catalogue_code": "cameras",
            "description": "Camera's",
            "requested_amount": requested,
            "vat_amount": vat,
        },
        follow_redirects=True,
    )


def test_the_measure_form_reads_dutch_amounts(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    csrf = login(client, world.applicant.email)
    page = add_line(client, csrf, claim_id, "1.850,00", "321,07")
    assert page.status_code == 200
    assert lines_of(session, claim_id) == [(Decimal("1850.00"), Decimal("321.07"))]
    wizard = client.get(f"/claims/{claim_id}/wizard/measures").text
    assert "€\xa01.850,00" in wizard  # and shown in Dutch
    for typed in ("€ 1.850", "1850.00", "1850"):
        add_line(client, csrf, claim_id, typed, "0")
    assert [requested for requested, _vat in lines_of(session, claim_id)] == [
        Decimal("1850.00")
    ] * 4


def test_the_measure_form_refuses_a_wrong_group_with_a_dutch_example(client, session):
    world = World(session)
    claim_id = world.draft(lines=()).id
    csrf = login(client, world.applicant.email)
    page = add_line(client, csrf, claim_id, "1.85,00", "0")
    assert "Vul een bedrag in euro in, zoals 1.250,00." in page.text
    refused_vat = add_line(client, csrf, claim_id, "1.850,00", "12,345")
    assert "Vul een bedrag in euro in, zoals 1.250,00." in refused_vat.text
    assert lines_of(session, claim_id) == []


def test_the_budget_form_reads_a_dutch_amount_and_hints_in_dutch(client, session):
    admin = UserFactory(admin=True)
    csrf = login(client, admin.email)
    form = client.get("/admin/budgets").text
    assert "bijvoorbeeld 250.000,00" in form
    saved = client.post(
        "/admin/budgets", data={"year": "2027", "amount": "1.850,00", "csrf_token": csrf}
    )
    assert saved.status_code == 302
    amount = session.scalars(
        select(Budget.amount).where(
            Budget.organisation_id == admin.organisation_id, Budget.year == 2027
        )
    ).one()
    assert amount == Decimal("1850.00")
    assert "€\xa01.850,00" in client.get("/admin/budgets").text


def test_the_proposal_form_is_prefilled_in_dutch_and_reads_it_back(app, session):
    world = World(session)
    claim = world.draft(lines=(("cameras", "2400.00", "416.53"),))
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.fire(world.assessor, claim, "request_advice")
    world.fire(
        world.assessor,
        claim,
        "record_advice",
        details={
            "reference": "BZK-2026-17",
            "advice_date": "2026-03-02",
            "advised_measures": ["cameras"],
        },
    )
    claim_id, line_id = claim.id, claim.lines[0].id
    client = app.test_client()
    csrf = login(client, world.assessor.email)
    page = client.get(f"/claims/{claim_id}").text
    assert re.search(rf'name="granted-{line_id}" value="2\.400,00"', page)
    proposed = client.post(
        f"/claims/{claim_id}/events",
        data={"csrf_token": csrf, "event": "propose_decision", f"granted-{line_id}": "2.400,00"},
    )
    assert proposed.status_code == 303
    session.expire_all()
    assert session.get(MeasureLine, line_id).granted_amount == Decimal("2400.00")
    assert session.get(Claim, claim_id).state == "decision_proposed"


def test_english_pages_read_english_amounts_and_show_british_dates(client, session):
    world = World(session)
    world.applicant.language = Language.EN
    session.commit()
    claim = world.draft(lines=())
    claim_id = claim.id
    csrf = login(client, world.applicant.email)
    refused = add_line(client, csrf, claim_id, "1.850,00", "0")
    assert "Enter an amount in euros, such as 1,250.00." in refused.text
    add_line(client, csrf, claim_id, "1,850.00", "0")
    assert lines_of(session, claim_id) == [(Decimal("1850.00"), Decimal("0.00"))]
    assert "€1,850.00" in client.get(f"/claims/{claim_id}/wizard/measures").text
    submitted = world.draft()
    world.fire(world.applicant, submitted, "submit")
    received_on = session.get(Claim, submitted.id).received_on
    assert isinstance(received_on, dt.date)
    page = client.get(f"/claims/{submitted.id}").text
    assert format_date(received_on, "medium", locale="en_GB") in page  # "2 Dec 2026"
    assert format_date(received_on, "medium", locale="en_US") not in page  # "Dec 2, 2026"
