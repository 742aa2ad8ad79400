"""Finding any claim: the staff's search over all claims received, open or closed."""

from __future__ import annotations

import datetime as dt
import re

from markupsafe import escape  # as the pages escape: a name such as "Arie 's Gravensande"
from sqlalchemy import update

from housing.claims.models import Claim
from housing.organisations.models import Home, OfficeHolder
from housing.roles import Role
from tests.builders.claims import World
from tests.conftest import login
from tests.factories import ClaimFactory, HomeFactory, UserFactory

CLAIM_LINK = re.compile(r'href="/claims/([0-9]+)">([^<]+)</a>')


def listed(client, **args) -> list[str]:
    """The claim numbers the search page lists, in their order."""
    response = client.get("/claims/search", query_string=args)
    assert response.status_code == 200, response.text
    return [number for _id, number in CLAIM_LINK.findall(response.text)]


def claim(world, **kwargs) -> Claim:
    kwargs.setdefault("submitted", True)
    # A request empties the session: the world's home is loaded again, not attached.
    home = kwargs.pop("home", None) or world.session.get(Home, world.home.id)
    return ClaimFactory(home=home, **kwargs)


def test_every_filter_narrows_the_list(client, session):
    world = World(session)
    jansen = OfficeHolder(
        organisation=world.org,
        full_name="Wethouder Jansen-de Vries",
        office_type="wethouder",
        term_start=dt.date(2022, 1, 1),
    )
    session.add(jansen)
    session.commit()
    granted = claim(world, granted=True, application_date=dt.date(2026, 1, 5))
    refused = claim(world, refused=True, application_date=dt.date(2026, 2, 10))
    open_ = claim(world, in_assessment=True, application_date=dt.date(2026, 3, 2))
    regime_a = claim(world, application_date=dt.date(2023, 6, 1), lines=[])
    theirs = claim(world, home=HomeFactory(office_holder=jansen), withdrawn=True)
    session.execute(
        update(Claim).where(Claim.id == open_.id).values(assessor_id=world.assessor2.id)
    )
    session.commit()
    everything = {c.number for c in (granted, refused, open_, regime_a, theirs)}
    login(client, world.assessor.email)

    assert set(listed(client)) == everything
    # Closed ones too: the point of the page.
    assert granted.number in listed(client) and theirs.number in listed(client)
    assert listed(client, number=granted.number) == [granted.number]
    assert listed(client, number=granted.number.lower()) == [granted.number]
    prefix = granted.number[:-1]
    assert granted.number in listed(client, number=prefix)
    assert listed(client, number="VW-1999") == []
    assert listed(client, holder="jansen-DE") == [theirs.number]
    assert listed(client, holder="%") == []  # a wildcard is a character like any other
    assert listed(client, state="refused") == [refused.number]
    assert listed(client, regime="A") == [regime_a.number]
    assert regime_a.number not in listed(client, regime="B")
    assert set(listed(client, received_from="2026-02-01", received_to="2026-03-01")) == {
        refused.number
    }
    assert set(listed(client, received_from="01-03-2026")) >= {open_.number}
    # Decided: the factory's decisions were taken on the day of receipt.
    assert set(listed(client, decided_from="2026-01-01", decided_to="2026-01-31")) == {
        granted.number
    }
    assert set(listed(client, decided_to="2026-12-31")) == {granted.number, refused.number}
    assert listed(client, assessor=world.assessor2.id) == [open_.number]
    unassigned = set(listed(client, assessor="none"))
    assert open_.number not in unassigned and regime_a.number in unassigned
    assert listed(client, state="refused", regime="A") == []


def test_drafts_and_other_organisations_are_never_listed(client, session):
    world = World(session)
    received = claim(world)
    draft = world.draft()
    stranger = World(session, name="Gemeente Anders")
    elsewhere = claim(stranger, granted=True)
    login(client, world.assessor.email)
    shown = listed(client)
    assert received.number in shown
    assert draft.number not in shown and elsewhere.number not in shown
    # Not even by its number.
    assert listed(client, number=elsewhere.number) == []


def test_applicants_administrators_and_auditors_may_not_search(app, session):
    world = World(session)
    claim(world)
    for user in (
        world.applicant,
        UserFactory(organisation_id=world.org.id, roles={Role.ADMIN}),
        UserFactory(organisation_id=world.org.id, roles={Role.AUDITOR}),
    ):
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get("/claims/search").status_code == 403
        assert "Alle aanvragen" not in browser.get("/profile").text
    for user in (world.decider, UserFactory(organisation_id=world.org.id, roles={Role.FINANCE})):
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get("/claims/search").status_code == 200
        assert 'href="/claims/search"' in browser.get("/profile").text


def test_bad_filters_are_named_at_their_field(client, session):
    world = World(session)
    claim(world)
    login(client, world.assessor.email)
    for args, field, message in (
        ({"state": "draft"}, "state", "Kies een status uit de lijst."),
        ({"regime": "C"}, "regime", "Kies een regime uit de lijst."),
        ({"received_from": "gisteren"}, "received_from", "jjjj-mm-dd"),
        ({"decided_to": "0001-01-01"}, "decided_to", "1900-01-01"),
        ({"assessor": "-3"}, "assessor", "Kies een beoordelaar uit de lijst."),
        ({"number": "X" * 36}, "number", "35 tekens"),
        ({"after": "2026-01-01;1"}, "after", "paginalink"),
        (
            {"received_from": "2026-05-01", "received_to": "2026-04-01"},
            "received_to",
            "De laatste dag ligt voor de eerste.",
        ),
    ):
        response = client.get("/claims/search", query_string=args)
        assert response.status_code == 400, args
        assert f'id="{field}-error"' in response.text and message in response.text, args
        assert not CLAIM_LINK.findall(response.text)


def test_keyset_pages_walk_every_claim_once_with_the_filters_kept(client, session, monkeypatch):
    monkeypatch.setattr("housing.claims.search.PER_PAGE", 3)
    world = World(session)
    # Seven B claims, several received on the same day: the id breaks the tie.
    days = [dt.date(2026, 3, d) for d in (2, 2, 2, 3, 3, 4, 5)]
    made = [claim(world, application_date=day) for day in days]
    claim(world, application_date=dt.date(2023, 6, 1), lines=[])  # regime A: filtered out
    login(client, world.assessor.email)
    seen: list[str] = []
    url: str | None = "/claims/search?regime=B"
    pages = 0
    while url:
        page = client.get(url.replace("&amp;", "&")).text
        pages += 1
        seen += [number for _id, number in CLAIM_LINK.findall(page)]
        found = re.search(r'rel="next" href="([^"]+)"', page)
        url = found.group(1) if found else None
        if url:
            assert "regime=B" in url and "after=" in url
    expected = sorted(made, key=lambda c: (c.received_on, c.id), reverse=True)
    assert pages == 3
    assert seen == [c.number for c in expected]
    # A claim received meanwhile does not shift a later page: the cursor is a row, not a count.
    first_page_end = expected[2]
    after = f"{first_page_end.received_on.isoformat()}.{first_page_end.id}"
    claim(world, application_date=dt.date(2026, 3, 6))
    assert listed(client, regime="B", after=after) == [c.number for c in expected[3:6]]


def test_the_search_costs_the_same_queries_for_10_and_50_rows(client, session, count_queries):
    world = World(session)
    login(client, world.assessor.email)

    def queries() -> tuple[int, int]:
        session.remove()
        with count_queries() as seen:
            rows = len(listed(client))
        return rows, len(seen)

    for n in range(10):
        claim(world, in_assessment=n % 2 == 0)
    rows, few = queries()
    assert rows == 10
    for n in range(45):
        claim(world, in_assessment=n % 2 == 0)
    rows, many = queries()
    assert rows == 50
    assert many == few


def test_the_inbox_names_the_assessor(client, session):
    world = World(session)
    taken = claim(world, in_assessment=True)
    session.execute(
        update(Claim).where(Claim.id == taken.id).values(assessor_id=world.assessor2.id)
    )
    session.commit()
    login(client, world.assessor.email)
    page = client.get("/claims/inbox").text
    row = page[page.index(taken.number) :].split("</tr>")[0]
    assert str(escape(world.assessor2.full_name)) in row
    assert 'href="/claims/search"' in page  # the staff's way to closed claims
