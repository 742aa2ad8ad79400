"""Administrators set their organisation's rules: Awb terms and eligibility, the Atw
calendar's equated days, budgets and the measure catalogue. Each change is audited in
the organisation's hash chain; bad input gets a form message and writes nothing; other
roles get 403 and other organisations' records 404."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from housing.audit.models import AuditEvent
from housing.audit.services import AuditTrail, payload_digest
from housing.claims.models import Regime
from housing.clock import today as amsterdam_today
from housing.deadlines.models import EquatedDay
from housing.deadlines.services import equate_day
from housing.errors import Forbidden
from housing.organisations.catalogue import (
    REGIME_A_BASIC_MEASURES,
    REGIME_B_MEASURES,
    seed_catalogue,
)
from housing.organisations.models import (
    Budget,
    EligibleOffice,
    MeasureCatalogue,
    OfficeType,
    Organisation,
)
from housing.organisations.services import RulesService, TermsData
from housing.roles import Role
from housing.scoping import Scope
from tests.conftest import login
from tests.factories import OrganisationFactory, UserFactory


@pytest.fixture
def admin(session):
    return UserFactory(admin=True)


@pytest.fixture
def csrf(client, admin):
    return login(client, admin.email)


@pytest.fixture
def org_id(session, admin) -> int:
    """The admin's organisation with two eligible offices and the standard catalogue.

    Tests hold ids, not objects: a view's rollback expires what the shared session holds.
    """
    org = session.get(Organisation, admin.organisation_id)
    org.eligible_offices = [
        EligibleOffice(office_type=OfficeType.BURGEMEESTER),
        EligibleOffice(office_type=OfficeType.WETHOUDER),
    ]
    seed_catalogue(session, org)
    session.commit()
    return org.id


def events(session, organisation_id: int, event: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.organisation_id == organisation_id)
    if event is not None:
        query = query.where(AuditEvent.event == event)
    return list(session.scalars(query.order_by(AuditEvent.sequence)))


def assert_one_admin_event(session, admin, event: str, payload: dict) -> None:
    (link,) = events(session, admin.organisation_id)
    assert (link.event, link.actor_id, link.claim_id) == (event, admin.id, None)
    assert link.payload_hash == payload_digest(payload)
    assert AuditTrail(session).verify(admin.organisation_id).intact


def count(session, model, *criteria) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*criteria))


# --- Awb terms and eligibility --------------------------------------------------------
TERMS = {
    "decision_weeks": "6",
    "information_term_days": "21",
    "not_considered_weeks": "3",
    "regime_a_cap": "2500,50",
    "eligible_offices": ["burgemeester", "raadslid"],
}


def terms_of(session, organisation_id: int) -> tuple:
    org = session.get(Organisation, organisation_id, populate_existing=True)
    return (
        org.decision_weeks,
        org.information_term_days,
        org.objection_weeks,
        org.not_considered_weeks,
        org.regime_a_cap,
        frozenset(e.office_type for e in org.eligible_offices),
    )


class TestTerms:
    def url(self, org_id) -> str:
        return f"/admin/organisations/{org_id}/terms"

    def test_the_page_shows_the_terms_and_the_statutory_objection_term(self, client, csrf, org_id):
        page = client.get(self.url(org_id))
        assert page.status_code == 200
        assert re.search(r'<input[^>]*name="decision_weeks"[^>]*value="8"', page.text)
        assert re.search(r'<input[^>]*name="regime_a_cap"[^>]*value="2.400,00"', page.text)
        assert "6 weken, bij wet bepaald (art. 6:7 Awb)" in page.text
        assert 'name="objection_weeks"' not in page.text  # read-only, not a field
        checked = set(re.findall(r'value="(\w+)" checked', page.text)) | set(
            re.findall(r'checked[^>]*value="(\w+)"', page.text)
        )
        assert checked == {"burgemeester", "wethouder"}

    def test_saved_and_audited(self, client, csrf, session, admin, org_id):
        response = client.post(self.url(org_id), data={**TERMS, "csrf_token": csrf})
        assert response.status_code == 302
        assert terms_of(session, org_id) == (
            6,
            21,
            6,
            3,
            Decimal("2500.50"),
            frozenset({OfficeType.BURGEMEESTER, OfficeType.RAADSLID}),
        )
        assert_one_admin_event(
            session,
            admin,
            "update_terms",
            {
                "decision_weeks": {"from": 8, "to": 6},
                "information_term_days": {"from": 14, "to": 21},
                "not_considered_weeks": {"from": 4, "to": 3},
                "regime_a_cap": {"from": Decimal("2400.00"), "to": Decimal("2500.50")},
                "eligible_offices": {"added": ["raadslid"], "removed": ["wethouder"]},
            },
        )
        assert "De termijnen zijn opgeslagen." in client.get(response.location).text

    def test_saving_without_a_change_writes_no_event(self, client, csrf, session, org_id):
        unchanged = {
            "decision_weeks": "8",
            "information_term_days": "14",
            "not_considered_weeks": "4",
            "regime_a_cap": "2400.00",
            "eligible_offices": ["burgemeester", "wethouder"],
            "csrf_token": csrf,
        }
        assert client.post(self.url(org_id), data=unchanged).status_code == 302
        assert events(session, org_id) == []

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"decision_weeks": "9"}, "Vul een geheel getal in van 1 tot en met 8."),
            ({"decision_weeks": "0"}, "Vul een geheel getal in van 1 tot en met 8."),
            ({"decision_weeks": ""}, "Dit veld is verplicht."),
            ({"decision_weeks": "acht"}, "Ongeldig getal."),
            ({"information_term_days": "0"}, "Vul een geheel getal in van 1 tot en met 365."),
            ({"information_term_days": "99999999999"}, "van 1 tot en met 365."),
            ({"not_considered_weeks": "5"}, "Vul een geheel getal in van 1 tot en met 4."),
            ({"regime_a_cap": "0"}, "Het maximum moet meer dan nul zijn."),
            ({"regime_a_cap": "-10"}, "Het bedrag kan niet negatief zijn."),
            ({"regime_a_cap": "2400.005"}, "Vul een bedrag in euro in"),
            ({"regime_a_cap": "veel"}, "Vul een bedrag in euro in"),
            ({"regime_a_cap": "2.40,00"}, "Vul een bedrag in euro in"),  # a wrong group
            ({"regime_a_cap": "99999999999"}, "Het bedrag is te groot."),
            ({"eligible_offices": []}, "Kies minstens één ambt"),
            ({"eligible_offices": ["keizer"]}, "is een ongeldige keuze"),
        ],
    )
    def test_bad_input_is_explained_and_nothing_written(
        self, client, csrf, session, org_id, change, message
    ):
        before = terms_of(session, org_id)
        response = client.post(self.url(org_id), data={**TERMS, **change, "csrf_token": csrf})
        assert response.status_code == 200
        assert message in response.text
        assert 'id="form-errors"' in response.text
        assert terms_of(session, org_id) == before
        assert events(session, org_id) == []

    def test_every_error_is_named_at_once(self, client, csrf, session, org_id):
        response = client.post(
            self.url(org_id),
            data={
                **TERMS,
                "decision_weeks": "12",
                "not_considered_weeks": "9",
                "regime_a_cap": "0",
                "csrf_token": csrf,
            },
        )
        assert response.text.count('class="utrecht-form-field-error-message"') == 3

    def test_another_organisation_answers_404_and_stays_as_it_is(
        self, client, csrf, session, org_id
    ):
        other_id = OrganisationFactory().id
        before = terms_of(session, other_id)
        assert client.get(self.url(other_id)).status_code == 404
        response = client.post(self.url(other_id), data={**TERMS, "csrf_token": csrf})
        assert response.status_code == 404
        assert terms_of(session, other_id) == before
        assert events(session, other_id) == []


# --- the Atw calendar and equated days --------------------------------------------------
class TestHolidays:
    def test_the_calendar_of_a_year_with_the_equated_days(self, client, csrf, session):
        page = client.get("/admin/holidays?year=2026").text
        assert "Feestdagen in 2026 volgens de Atw" in page
        for name in ("Bevrijdingsdag", "Goede Vrijdag", "Koningsdag", "Tweede Kerstdag"):
            assert name in page
        assert "vrijdag 2 januari 2026" in page
        assert "Gelijkgestelde dag (koninklijk besluit)" in page
        # The list of days on record shows the decree's description.
        assert "Vrijdag na Nieuwjaarsdag 2026" in page

    def test_a_year_outside_the_calendar_is_explained(self, client, csrf, session):
        this_year = amsterdam_today().year
        for bad, message in (
            ("2013", "Kies een jaar van 2014 tot en met 9998."),
            ("abc", "Ongeldig getal."),
        ):
            page = client.get(f"/admin/holidays?year={bad}")
            assert page.status_code == 200
            assert message in page.text
            assert f"Feestdagen in {this_year} volgens de Atw" in page.text

    def test_added_audited_and_counted_in_the_calendar(self, client, csrf, session, admin):
        response = client.post(
            "/admin/holidays",
            data={
                "day": "2029-05-11",
                "description": "Besluit van 1 juli 2028",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        stored = session.get(EquatedDay, dt.date(2029, 5, 11))
        assert (stored.description, stored.added_by_id) == ("Besluit van 1 juli 2028", admin.id)
        assert_one_admin_event(
            session,
            admin,
            "add_equated_day",
            {"day": dt.date(2029, 5, 11), "description": "Besluit van 1 juli 2028"},
        )
        page = client.get(response.location).text
        assert "11 mei 2029 is nu gelijkgesteld met een feestdag." in page
        assert "vrijdag 11 mei 2029" in page

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"day": "2029-05-12"}, "Een termijn eindigt nooit op een zaterdag of zondag"),
            ({"day": "2029-12-25"}, "Deze dag is al een erkende feestdag volgens de Atw."),
            ({"day": "2026-01-02"}, "Deze dag is al gelijkgesteld met een feestdag."),
            ({"day": "2010-01-04"}, "Kies een dag in de jaren 2014 tot en met 9998."),
            ({"day": "11-05-29"}, "Vul een datum in als jjjj-mm-dd."),  # which century?
            ({"day": ""}, "Vul een datum in als jjjj-mm-dd."),
            ({"description": ""}, "Dit veld is verplicht."),
            ({"description": "   "}, "Dit veld is verplicht."),
            ({"description": "x" * 201}, "Veld mag niet langer zijn dan 200 karakters."),
        ],
    )
    def test_bad_input_is_explained_and_nothing_written(
        self, client, csrf, session, admin, data, message
    ):
        before = count(session, EquatedDay)
        response = client.post(
            "/admin/holidays",
            data={"day": "2029-05-11", "description": "Besluit", **data, "csrf_token": csrf},
        )
        assert response.status_code == 200
        assert message in response.text
        assert count(session, EquatedDay) == before
        assert events(session, admin.organisation_id) == []


# --- budgets --------------------------------------------------------------------------
def budget_rows(session, organisation_id: int) -> list[tuple[int, Decimal, Decimal]]:
    rows = session.execute(
        select(Budget.year, Budget.amount, Budget.committed)
        .where(Budget.organisation_id == organisation_id)
        .order_by(Budget.year)
    )
    return [tuple(row) for row in rows]


class TestBudgets:
    def test_the_list_shows_the_own_budgets_with_what_remains(self, client, csrf, session, admin):
        session.add(
            Budget(
                organisation_id=admin.organisation_id,
                year=2026,
                amount=Decimal("100000.00"),
                committed=Decimal("2500.00"),
            )
        )
        session.add(
            Budget(organisation_id=OrganisationFactory().id, year=2031, amount=Decimal("777.00"))
        )
        session.commit()
        page = client.get("/admin/budgets").text
        assert "€\xa0100.000,00" in page and "€\xa02.500,00" in page and "€\xa097.500,00" in page
        assert "2031" not in page and "777,00" not in page

    def test_a_year_is_created_then_changed_and_each_change_audited(
        self, client, csrf, session, admin
    ):
        org_id = admin.organisation_id
        created = client.post(
            "/admin/budgets", data={"year": "2027", "amount": "150000,00", "csrf_token": csrf}
        )
        assert created.status_code == 302
        assert budget_rows(session, org_id) == [(2027, Decimal("150000.00"), Decimal("0.00"))]
        assert_one_admin_event(
            session, admin, "set_budget", {"year": 2027, "from": None, "to": Decimal("150000.00")}
        )
        changed = client.post(
            "/admin/budgets", data={"year": "2027", "amount": "175000", "csrf_token": csrf}
        )
        assert changed.status_code == 302
        assert budget_rows(session, org_id) == [(2027, Decimal("175000.00"), Decimal("0.00"))]
        first, second = events(session, org_id, "set_budget")
        assert second.payload_hash == payload_digest(
            {"year": 2027, "from": Decimal("150000.00"), "to": Decimal("175000.00")}
        )
        assert second.previous_hash == first.hash
        assert "Het budget voor 2027 is opgeslagen." in client.get(changed.location).text

    def test_an_amount_below_what_is_committed_is_refused(self, client, csrf, session, admin):
        session.add(
            Budget(
                organisation_id=admin.organisation_id,
                year=2027,
                amount=Decimal("1000.00"),
                committed=Decimal("600.00"),
            )
        )
        session.commit()
        response = client.post(
            "/admin/budgets", data={"year": "2027", "amount": "599.99", "csrf_token": csrf}
        )
        assert response.status_code == 200
        assert (
            "Van het budget voor 2027 is al €\xa0600,00 vastgelegd voor toegekende aanvragen; "
            "het bedrag kan niet lager zijn dan dat."
        ) in response.text
        assert budget_rows(session, admin.organisation_id) == [
            (2027, Decimal("1000.00"), Decimal("600.00"))
        ]
        assert events(session, admin.organisation_id) == []
        # Exactly what is committed is allowed: nothing remains, nothing is overdrawn.
        exact = client.post(
            "/admin/budgets", data={"year": "2027", "amount": "600", "csrf_token": csrf}
        )
        assert exact.status_code == 302
        assert budget_rows(session, admin.organisation_id) == [
            (2027, Decimal("600.00"), Decimal("600.00"))
        ]

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"year": "2020"}, "Vul een jaar in van 2021 tot en met 2100."),
            ({"year": "2101"}, "Vul een jaar in van 2021 tot en met 2100."),
            ({"year": "99999999999"}, "Vul een jaar in van 2021 tot en met 2100."),
            ({"year": "volgend jaar"}, "Ongeldig getal."),
            ({"amount": ""}, "Dit veld is verplicht."),
            ({"amount": "-1"}, "Het bedrag kan niet negatief zijn."),
            ({"amount": "10,005"}, "Vul een bedrag in euro in"),  # a part of a cent
            ({"amount": "10.00.5"}, "Vul een bedrag in euro in"),
            ({"amount": "NaN"}, "Vul een bedrag in euro in"),
            ({"amount": "1e3"}, "Vul een bedrag in euro in"),
            ({"amount": "10000000000"}, "Het bedrag is te groot."),
        ],
    )
    def test_bad_input_is_explained_and_nothing_written(
        self, client, csrf, session, admin, data, message
    ):
        response = client.post(
            "/admin/budgets", data={"year": "2027", "amount": "1000", **data, "csrf_token": csrf}
        )
        assert response.status_code == 200
        assert message in response.text
        assert budget_rows(session, admin.organisation_id) == []
        assert events(session, admin.organisation_id) == []


# --- measure catalogue ----------------------------------------------------------------
def measure(session, organisation_id: int, regime: Regime, code: str) -> MeasureCatalogue:
    return session.scalars(
        select(MeasureCatalogue)
        .where(
            MeasureCatalogue.organisation_id == organisation_id,
            MeasureCatalogue.regime == regime,
            MeasureCatalogue.code == code,
        )
        .execution_options(populate_existing=True)
    ).one()


class TestCatalogue:
    def test_both_regimes_are_listed_and_only_the_own_measures(self, client, csrf, session, org_id):
        other = OrganisationFactory()
        session.add(
            MeasureCatalogue(
                organisation_id=other.id, regime=Regime.B, code="moat", name="Slotgracht"
            )
        )
        session.commit()
        page = client.get("/admin/catalogue").text
        assert "Regeling A (basismaatregelen)" in page and "Regeling B (maatwerk)" in page
        for _code, name, _recurring in REGIME_A_BASIC_MEASURES:
            assert name in page
        assert "Camera&#39;s uitzetten" in page  # a Regime B measure can be switched off
        assert "Brievenbusbeveiliging uitzetten" not in page  # Regime A's cannot
        assert "Slotgracht" not in page

    def test_a_regime_b_measure_is_added_and_audited(self, client, csrf, session, admin, org_id):
        response = client.post(
            "/admin/catalogue",
            data={
                "name": "Paniekkamer",
                "code": "panic_room",
                "recurring_allowed": "y",
                "regime": "A",  # there is no such field: additions go to Regime B only
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 302
        added = measure(session, org_id, Regime.B, "panic_room")
        assert (added.name, added.recurring_allowed, added.active, added.is_basic_measure) == (
            "Paniekkamer",
            True,
            True,
            False,
        )
        assert count(
            session,
            MeasureCatalogue,
            MeasureCatalogue.organisation_id == org_id,
            MeasureCatalogue.regime == Regime.A,
        ) == len(REGIME_A_BASIC_MEASURES)
        assert_one_admin_event(
            session,
            admin,
            "add_measure",
            {
                "measure_id": added.id,
                "regime": Regime.B,
                "code": "panic_room",
                "name": "Paniekkamer",
                "recurring_allowed": True,
            },
        )

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"code": "Panic Room"}, "Gebruik 1 tot 60 kleine letters, cijfers en liggende"),
            ({"code": "cameras"}, "De catalogus heeft al een maatregel met deze code."),
            ({"code": ""}, "Dit veld is verplicht."),
            ({"name": ""}, "Dit veld is verplicht."),
            ({"name": "x" * 201}, "Veld mag niet langer zijn dan 200 karakters."),
        ],
    )
    def test_bad_input_is_explained_and_nothing_written(
        self, client, csrf, session, org_id, data, message
    ):
        before = count(session, MeasureCatalogue)
        response = client.post(
            "/admin/catalogue",
            data={"name": "Paniekkamer", "code": "panic_room", **data, "csrf_token": csrf},
        )
        assert response.status_code == 200
        assert message in response.text
        assert count(session, MeasureCatalogue) == before
        assert events(session, org_id) == []

    def test_a_regime_b_measure_is_switched_off_and_on(self, client, csrf, session, admin, org_id):
        cameras_id = measure(session, org_id, Regime.B, "cameras").id
        off = client.post(f"/admin/catalogue/{cameras_id}/deactivate", data={"csrf_token": csrf})
        assert off.status_code == 302
        assert measure(session, org_id, Regime.B, "cameras").active is False
        assert_one_admin_event(
            session,
            admin,
            "deactivate_measure",
            {"measure_id": cameras_id, "regime": Regime.B, "code": "cameras"},
        )
        page = client.get(off.location).text
        assert "Camera&#39;s kan niet meer worden gekozen in nieuwe aanvragen." in page
        assert "Camera&#39;s aanzetten" in page
        # Switching off what is already off changes nothing and writes no second event.
        client.post(f"/admin/catalogue/{cameras_id}/deactivate", data={"csrf_token": csrf})
        assert len(events(session, org_id)) == 1
        on = client.post(f"/admin/catalogue/{cameras_id}/activate", data={"csrf_token": csrf})
        assert on.status_code == 302
        assert measure(session, org_id, Regime.B, "cameras").active is True
        assert [e.event for e in events(session, org_id)] == [
            "deactivate_measure",
            "activate_measure",
        ]

    @pytest.mark.parametrize("code", [code for code, _name, _rec in REGIME_A_BASIC_MEASURES])
    def test_regime_a_basic_measures_cannot_be_switched_off(
        self, client, csrf, session, org_id, code
    ):
        basic_id = measure(session, org_id, Regime.A, code).id
        response = client.post(f"/admin/catalogue/{basic_id}/deactivate", data={"csrf_token": csrf})
        assert response.status_code == 302
        assert "liggen in de regeling vast: ze kunnen niet worden uitgezet" in (
            client.get(response.location).text
        )
        assert measure(session, org_id, Regime.A, code).active is True
        assert events(session, org_id) == []

    def test_there_is_no_way_to_delete_a_measure(self, app):
        methods = {
            method
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/admin/catalogue")
            for method in rule.methods
        }
        assert "DELETE" not in methods
        assert not [r for r in app.url_map.iter_rules() if "delete" in r.rule]

    def test_another_organisations_measure_answers_404(self, client, csrf, session, org_id):
        other = OrganisationFactory()
        other_id = other.id
        seed_catalogue(session, other)
        session.commit()
        theirs_id = measure(session, other_id, Regime.B, "cameras").id
        for action in ("deactivate", "activate"):
            response = client.post(
                f"/admin/catalogue/{theirs_id}/{action}", data={"csrf_token": csrf}
            )
            assert response.status_code == 404
        assert measure(session, other_id, Regime.B, "cameras").active is True
        assert events(session, other_id) == [] and events(session, org_id) == []


# --- who may use the pages ------------------------------------------------------------
OTHER_ROLES = [role for role in Role if role is not Role.ADMIN]


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_are_refused_every_page_and_change(client, session, role):
    user = UserFactory(roles={role})
    org_id = user.organisation_id
    seed_catalogue(session, user.organisation)
    session.commit()
    cameras_id = measure(session, org_id, Regime.B, "cameras").id
    token = login(client, user.email)
    before = (terms_of(session, org_id), count(session, EquatedDay), count(session, Budget))
    for path in (
        f"/admin/organisations/{org_id}/terms",
        "/admin/holidays",
        "/admin/budgets",
        "/admin/catalogue",
    ):
        assert client.get(path).status_code == 403, path
    posts = [
        (f"/admin/organisations/{org_id}/terms", TERMS),
        ("/admin/holidays", {"day": "2029-05-11", "description": "Besluit"}),
        ("/admin/budgets", {"year": "2027", "amount": "1000"}),
        ("/admin/catalogue", {"name": "Paniekkamer", "code": "panic_room"}),
        (f"/admin/catalogue/{cameras_id}/deactivate", {}),
        (f"/admin/catalogue/{cameras_id}/activate", {}),
    ]
    for path, data in posts:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert before == (terms_of(session, org_id), count(session, EquatedDay), count(session, Budget))
    assert measure(session, org_id, Regime.B, "cameras").active is True
    assert count(session, MeasureCatalogue, MeasureCatalogue.organisation_id == org_id) == (
        len(REGIME_A_BASIC_MEASURES) + len(REGIME_B_MEASURES)
    )
    assert events(session, org_id) == []


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_the_services_refuse_a_scope_without_the_admin_role(session, role):
    # Defence in depth: the views check the role, the use cases check it again.
    user = UserFactory(roles={role})
    seed_catalogue(session, user.organisation)
    scope = Scope.for_user(user)
    rules = RulesService(session)
    cameras_id = measure(session, user.organisation_id, Regime.B, "cameras").id
    terms = TermsData(6, 14, 4, "2400.00", frozenset({OfficeType.BURGEMEESTER}))
    for change in (
        lambda: rules.update_terms(scope, user.organisation_id, terms),
        lambda: rules.set_budget(scope, 2027, "1000"),
        lambda: rules.add_measure(
            scope, code="panic_room", name="Paniekkamer", recurring_allowed=False
        ),
        lambda: rules.set_measure_active(scope, cameras_id, False),
        lambda: equate_day(session, scope, dt.date(2029, 5, 11), "Besluit"),
    ):
        with pytest.raises(Forbidden):
            change()
    assert events(session, user.organisation_id) == []


def test_anonymous_visitors_are_sent_to_login(client, session):
    org = OrganisationFactory()
    for path in (f"/admin/organisations/{org.id}/terms", "/admin/holidays"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_the_start_page_and_the_menu_link_every_rules_page(client, csrf, admin):
    page = client.get("/admin").text
    for path in (
        f"/admin/organisations/{admin.organisation_id}/terms",
        "/admin/holidays",
        "/admin/budgets",
        "/admin/catalogue",
    ):
        # Once in the menu, once on the start page.
        assert page.count(f'href="{path}"') == 2, path


def test_every_form_field_on_the_rules_pages_has_a_label(client, csrf, admin, org_id):
    for path in (
        f"/admin/organisations/{org_id}/terms",
        "/admin/holidays",
        "/admin/budgets",
        "/admin/catalogue",
    ):
        page = client.get(path).text
        inputs = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', page)
        visible = [i for i in inputs if i != "csrf_token"]
        assert visible, path
        for field_id in visible:
            assert f'for="{field_id}"' in page, f"{path}: no label for #{field_id}"
        assert len(inputs) == len(set(inputs)), f"{path}: duplicate ids"
