"""Dashboards per role (issue 14 item 1): each figure agrees with the list it summarises,
costs as many queries for many claims as for few, is shown to the roles it is for and no
others, and its chart is an SVG image from our own origin under the unchanged CSP."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from decimal import Decimal

from sqlalchemy import select

from housing.claims.models import Claim, Decision
from housing.claims.search import ClaimSearch, search_claims
from housing.claims.states import APPLICATION_DECISION_KINDS
from housing.claims.watch import WARNING_STATES
from housing.claims.worklist import ASSESSOR_STATES, DECIDER_STATES, worklist
from housing.clock import today as amsterdam_today
from housing.organisations.models import Home
from housing.payments.models import Payout
from housing.payments.queries import budget_overview
from housing.roles import Role
from housing.scoping import Scope
from housing.web import CONTENT_SECURITY_POLICY
from tests.builders.claims import World
from tests.builders.statements import Books
from tests.conftest import login
from tests.factories import ClaimFactory, UserFactory
from workflows.claim import ClaimState
from workflows.rules import Regime


def cells(page: str, row_attr: str) -> list[str]:
    """The text of each cell (header and data) of the row with this data attribute."""
    found = re.search(rf"<tr[^>]* {row_attr}[^>]*>(.*?)</tr>", page, re.S)
    assert found, f"no row {row_attr} on the page"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)
    ]


def by_id(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert found, f"no element {element_id}"
    return found.group(1).strip()


def decided(session, claim: Claim, on: dt.datetime) -> Claim:
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
    decision.decided_at = on
    session.commit()
    return claim


def claims_world(session, home=None) -> tuple[World, list[Claim]]:
    world = World(session)
    home = home or world.home
    today = amsterdam_today()
    week_end = today + dt.timedelta(days=6 - today.weekday())
    made = [
        ClaimFactory(home=home, submitted=True),
        ClaimFactory(home=home, in_assessment=True),
        ClaimFactory(home=home, awaiting_info=True),
        ClaimFactory(home=home, decision_proposed=True),
        ClaimFactory(home=home, in_assessment=True, application_date=dt.date(2025, 6, 2)),
    ]
    # Deadlines: one due today, one on the week's Sunday, one overdue, one next week.
    made[0].decision_deadline = today
    made[1].decision_deadline = week_end
    made[2].decision_deadline = today - dt.timedelta(days=3)  # awaiting info, overdue
    made[3].decision_deadline = week_end + dt.timedelta(days=1)
    made[4].decision_deadline = today - dt.timedelta(days=30)
    session.commit()
    # Decisions: March 2026 (10, 20 and 70 days; the 70 late), April 2026 (30 and 45 days).
    received = dt.date(2026, 1, 5)
    for days, deadline_days in ((10, 56), (20, 56), (70, 56), (30, 56), (45, 40)):
        claim = ClaimFactory(home=home, granted=True, application_date=received)
        claim.decision_deadline = received + dt.timedelta(days=deadline_days)
        decided(
            session,
            claim,
            dt.datetime.combine(received + dt.timedelta(days=days), dt.time(9), dt.UTC),
        )
        made.append(claim)
        received = received + dt.timedelta(days=14)
    refused = ClaimFactory(home=home, refused=True, regime=Regime.B)
    made.append(refused)
    return world, made


# --- claims: assessor and decider --------------------------------------------------------------
def test_claim_figures_agree_with_the_search_the_worklist_and_the_decisions(client, session):
    world, _made = claims_world(session)
    elsewhere = World(session, name="Gemeente Elders")
    ClaimFactory(home=elsewhere.home, submitted=True)  # another organisation's: never counted
    today = amsterdam_today()
    login(client, world.assessor.email)
    page = client.get("/dashboard").text
    scope = Scope.for_user(world.assessor)

    # Claims by state: each as many as the search lists with that state.
    shown = {
        state: int(cells(page, f'data-state="{state.value}"')[1])
        for state in ClaimState
        if f'data-state="{state.value}"' in page
    }
    assert sum(shown.values()) == int(by_id(page, "states-total")) == 11
    for state in ClaimState:
        listed = search_claims(session, scope, ClaimSearch(state=state), per_page=500).claims
        assert shown.get(state, 0) == len(listed), state

    # Deadlines: overdue as the start page's worklist counts them; due this week as the
    # claims themselves say (running term, ends from today to Sunday).
    work = worklist(session, scope, (*ASSESSOR_STATES, *DECIDER_STATES), today)
    assert int(by_id(page, "figure-overdue")) == work.overdue == 2
    week_end = today + dt.timedelta(days=6 - today.weekday())
    claims = session.scalars(select(Claim).where(Claim.organisation_id == world.org.id)).all()
    decided_ids = set(
        session.scalars(
            select(Decision.claim_id).where(Decision.kind.in_(APPLICATION_DECISION_KINDS))
        )
    )
    due = [
        c
        for c in claims
        if c.state in {s.value for s in WARNING_STATES}
        and c.id not in decided_ids
        and c.decision_deadline is not None
        and today <= c.decision_deadline <= week_end
    ]
    assert int(by_id(page, "figure-due-this-week")) == len(due) == 2

    # Lead time per month: computed again from the decisions, in Python.
    rows = session.execute(
        select(Decision.decided_at, Claim.received_on, Claim.decision_deadline)
        .join(Claim, Claim.id == Decision.claim_id)
        .where(Claim.organisation_id == world.org.id, Decision.decided_at.is_not(None))
    ).all()
    months: dict[str, list[tuple[int, bool]]] = {}
    for decided_at, received_on, deadline in rows:
        day = decided_at.astimezone(dt.UTC).date()
        months.setdefault(day.strftime("%Y-%m"), []).append(
            ((day - received_on).days, day <= deadline)
        )
    for month, found in months.items():
        days = [d for d, _ in found]
        on_time = sum(1 for _, ok in found if ok)
        row = cells(page, f'data-month="{month}"')
        assert row[1] == str(len(found))
        assert row[2].endswith(f"({on_time})")
        assert row[3] == f"{statistics.median(days):g}".replace(".", ",")
        assert row[4] == str(max(days))
    assert cells(page, 'data-month="2026-03"')[0] == "mrt 2026"


def test_lead_time_median_and_on_time_share_per_month(client, session):
    world, _ = claims_world(session)
    login(client, world.decider.email)
    page = client.get("/dashboard").text
    # Received 5 Jan + 14 days each, decided after 10, 20, 70, 30 and 45 days: 15 Jan,
    # 8 Feb, 13 Apr (deadline 30 Mar: late), 18 Mar, 16 Apr (deadline 11 Apr: late); and
    # the refusal, decided the day it was received (2 March).
    assert cells(page, 'data-month="2026-01"')[1:] == ["1", "100% (1)", "10", "10"]
    assert cells(page, 'data-month="2026-02"')[1:] == ["1", "100% (1)", "20", "20"]
    assert cells(page, 'data-month="2026-03"')[1:] == ["2", "100% (2)", "15", "30"]
    assert cells(page, 'data-month="2026-04"')[1:] == ["2", "0% (0)", "57,5", "70"]
    page = client.get("/dashboard?year=2025").text
    assert "Geen besluiten in deze periode." in page


def test_the_period_and_regime_filter_the_claim_figures_like_the_search(client, session):
    world, _ = claims_world(session)
    login(client, world.assessor.email)
    page = client.get("/dashboard?year=2025").text
    scope = Scope.for_user(world.assessor)
    listed = search_claims(
        session,
        scope,
        ClaimSearch(received_from=dt.date(2025, 1, 1), received_to=dt.date(2025, 12, 31)),
        per_page=500,
    ).claims
    assert int(by_id(page, "states-total")) == len(listed) == 1
    page = client.get("/dashboard?regime=B").text
    listed = search_claims(session, scope, ClaimSearch(regime=Regime.B), per_page=500).claims
    assert int(by_id(page, "states-total")) == len(listed)
    assert 'src="/dashboard/charts/states.svg?regime=B"' in page


# --- money: finance ----------------------------------------------------------------------------
def test_money_figures_agree_with_the_budget_table_and_the_payout_lists(client, session):
    books = Books(session)
    claim = books.claim("1000.00", "400.00", "600.00")
    books.payout(claim, 0, "1000.00", state="booked")
    books.payout(claim, 1, "400.00", state="booked")
    books.payout(claim, 2, "300.00", state="returned")
    books.payout(claim, 2, "250.00", state="requested")
    books.payout(claim, 2, "50.00", state="rejected")  # never counted
    session.commit()
    login(client, books.finance.email)
    page = client.get("/dashboard").text
    scope = books.scope(books.finance)

    year = budget_overview(session, scope)[0]
    assert year.paid == Decimal("1400.00")
    table = cells(client.get("/finance/budget").text, f'id="year-{year.year}"')
    # Year, budget, committed, paid, sent, committed unpaid, not committed.
    assert cells(page, f'data-year="{year.year}"') == [table[0], table[2], table[3], table[6]]
    assert table[3] == "€\xa01.400,00"

    payouts = session.scalars(select(Payout).where(Payout.organisation_id == books.org.id)).all()
    month = payouts[0].created_at.astimezone(dt.UTC).strftime("%Y-%m")
    in_progress = [p for p in payouts if p.state in {"requested", "approved", "batched", "sent"}]
    returned = [p for p in payouts if p.state == "returned"]
    booked = [p for p in payouts if p.state == "booked"]
    assert cells(page, f'data-month="{month}"')[1:] == [
        f"{len(in_progress)} · €\xa0250,00",
        f"{len(returned)} · €\xa0300,00",
        f"{len(booked)} · €\xa01.400,00",
    ]
    finance_list = client.get("/finance/payouts").text
    assert "F-" in finance_list  # the requested one waits there to be checked

    # Spend per measure adds up to the budget table's paid.
    section = page[page.index('id="spend"') :]
    spend = re.findall(
        r'<td class="utrecht-table__cell vw-number">€\xa0([\d.,]+)</td></tr>', section
    )
    assert sorted(spend) == ["1.000,00", "400,00"]
    total = sum(Decimal(a.replace(".", "").replace(",", ".")) for a in spend)
    assert total == year.paid


# --- queries -----------------------------------------------------------------------------------
def test_the_dashboard_and_its_charts_take_as_many_queries_for_many_claims(
    client, session, count_queries
):
    books = Books(session)
    admin = UserFactory(organisation=books.org, roles={Role.ADMIN})
    claim = books.claim("1000.00", "400.00")
    books.payout(claim, 0, "1000.00", state="booked")
    session.commit()
    login(client, admin.email)
    urls = ["/dashboard", *(f"/dashboard/charts/{n}.svg" for n in ("states", "deadlines",
            "lead-time", "budget", "payouts", "spend"))]  # fmt: skip

    def queries() -> list[int]:
        counts = []
        for url in urls:
            session.remove()
            with count_queries() as seen:
                response = client.get(url)
                assert response.status_code == 200, url
            counts.append(len(seen))
        return counts

    few = queries()
    home = session.get(Home, books.world.home.id)
    for _ in range(8):
        more = books.claim("300.00", "200.00")
        books.payout(more, 0, "300.00", state="booked")
        books.payout(more, 1, "200.00", state="returned")
        ClaimFactory(home=home, in_assessment=True)
        ClaimFactory(home=home, awaiting_info=True)
    session.commit()
    assert queries() == few


# --- who sees what -----------------------------------------------------------------------------
def test_each_role_sees_its_own_figures_and_no_other(client, session):
    books = Books(session)
    world = books.world
    admin = UserFactory(organisation=books.org, roles={Role.ADMIN})
    auditor = UserFactory(organisation=books.org, roles={Role.AUDITOR})

    def signed_in(user):
        other = client.application.test_client()
        login(other, user.email)
        return other

    assessor = signed_in(world.assessor)
    page = assessor.get("/dashboard").text
    assert 'id="states"' in page and 'id="budget"' not in page
    assert assessor.get("/dashboard/charts/budget.svg").status_code == 403
    assert assessor.get("/dashboard/charts/nothing.svg").status_code == 404

    finance = signed_in(books.finance)
    page = finance.get("/dashboard").text
    assert 'id="budget"' in page and 'id="states"' not in page
    assert finance.get("/dashboard/charts/states.svg").status_code == 403

    administrator = signed_in(admin)
    page = administrator.get("/dashboard").text
    assert 'id="states"' in page and 'id="budget"' in page and 'id="spend"' in page
    # Figures, not cases: the administrator is still refused the claims themselves.
    assert administrator.get("/claims/inbox").status_code == 403

    for user in (auditor, world.applicant):
        other = signed_in(user)
        assert other.get("/dashboard").status_code == 403
        assert other.get("/dashboard/charts/states.svg").status_code == 403


def test_a_bad_period_is_a_message_at_the_field_not_an_error(client, session):
    world = World(session)
    login(client, world.assessor.email)
    response = client.get("/dashboard?year=1999&regime=C")
    assert response.status_code == 400
    assert 'id="year-error"' in response.text and 'id="regime-error"' in response.text
    assert client.get("/dashboard/charts/states.svg?year=abc").status_code == 400


# --- charts and the CSP ------------------------------------------------------------------------
def test_charts_are_svg_images_from_our_origin_and_the_csp_is_unchanged(client, session):
    world, _ = claims_world(session)
    login(client, world.assessor.email)
    page = client.get("/dashboard")
    start = client.get("/assessor")
    expected = "; ".join(f"{k} {v}" for k, v in CONTENT_SECURITY_POLICY.items())
    assert page.headers["Content-Security-Policy"] == expected
    assert page.headers["Content-Security-Policy"] == start.headers["Content-Security-Policy"]
    sources = re.findall(r'<img class="vw-chart__image" src="([^"]+)"', page.text)
    assert sources == [
        "/dashboard/charts/states.svg",
        "/dashboard/charts/deadlines.svg",
        "/dashboard/charts/lead-time.svg",
    ]
    assert 'style="' not in page.text and "<style" not in page.text and "<svg" not in page.text
    for source in sources:
        chart = client.get(source)
        assert chart.status_code == 200
        assert chart.mimetype == "image/svg+xml"
        assert chart.text.lstrip().startswith("<?xml") and "<svg" in chart.text
        assert "<script" not in chart.text
    # Dutch labels inside the image: the chart speaks the page's language.
    assert "Ingediend" in client.get("/dashboard/charts/states.svg").text
    assert 'href="/dashboard"' in start.text  # linked from the start page and the menu


def test_in_english_for_who_chose_it_with_english_amounts(client, session):
    from housing.accounts.models import Language

    books = Books(session)
    claim = books.claim("1000.00", "400.00")
    books.payout(claim, 0, "1000.00", state="booked")
    books.finance.language = Language.EN
    session.commit()
    login(client, books.finance.email)
    page = client.get("/dashboard").text
    assert "Budget per year" in page and "Spend per measure" in page
    assert "€1,000.00" in page
    chart = client.get("/dashboard/charts/spend.svg").text
    assert "€1,000.00" in chart  # the values formatted as the reader writes them


def test_each_roles_start_page_shows_its_charts_with_the_tables_beside_them(client, session):
    """The start page is where people look: its role's charts, each beside its table, with
    the dashboard's figures (all years, both regimes)."""
    books = Books(session)
    world = books.world
    ClaimFactory(home=world.home, in_assessment=True, decision_deadline=amsterdam_today())
    session.commit()
    admin = UserFactory(organisation=books.org, roles={Role.ADMIN})
    shown = {
        (world.assessor, "/assessor"): ("states", "term-figures", "lead-time"),
        (world.decider, "/decider"): ("states", "term-figures", "lead-time"),
        (books.finance, "/finance"): ("budget", "payouts", "spend"),
        (admin, "/admin"): ("states", "term-figures", "lead-time", "budget", "payouts", "spend"),
    }
    every = {"states", "term-figures", "lead-time", "budget", "payouts", "spend"}
    for (user, start), sections in shown.items():
        other = client.application.test_client()
        login(other, user.email)
        page = other.get(start).text
        dashboard = other.get("/dashboard").text
        for section in sections:
            assert f'<section class="vw-chart" id="{section}"' in page, (start, section)
        for section in every - set(sections):
            assert f'id="{section}"' not in page, (start, section)
        if "term-figures" in sections:
            assert 'src="/dashboard/charts/deadlines.svg"' in page
            # The way to the open claims, for those who handle them.
            handles = user in (world.assessor, world.decider)
            assert ('href="/claims/inbox"' in page) is handles, start
            for figure in ("figure-due-this-week", "figure-overdue"):
                assert by_id(page, figure) == by_id(dashboard, figure), (start, figure)
            assert by_id(page, "states-total") == by_id(dashboard, "states-total")
        if "budget" in sections:
            assert 'src="/dashboard/charts/budget.svg"' in page
            year = str(amsterdam_today().year)
            assert cells(page, f'data-year="{year}"') == cells(dashboard, f'data-year="{year}"')
