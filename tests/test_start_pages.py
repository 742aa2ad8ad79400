"""Start pages that start work (issue 13 §7): the applicant's own claims with what is
expected of them and by when; what waits for assessors, deciders and finance, counted
per organisation; notices read once their claim is opened; one and many said apart."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid

from babel.messages.pofile import read_po
from sqlalchemy import select

from housing.claims.models import Claim
from housing.clock import today as amsterdam_today
from housing.clock import utcnow
from housing.config import PROJECT_ROOT
from housing.notifications.models import Notification, NotificationKind
from housing.organisations.models import Home
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.roles import Role
from tests.builders.claims import World
from tests.builders.objections import lodged_objection
from tests.builders.statements import Books, fixture
from tests.conftest import login
from tests.factories import ClaimFactory, HomeFactory, OfficeHolderFactory, UserFactory
from workflows.rules import Regime


def row_of(page: str, element_id: str) -> str:
    """The one element with this id (a table row or list item), as HTML text."""
    found = re.search(rf'<(tr|li)[^>]* id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no element {element_id} on the page"
    return found.group(2)


def with_deadline(session, claim: Claim, deadline: dt.date) -> Claim:
    # The factory computes the deadline from the received date; these tests need it near.
    claim.decision_deadline = deadline
    session.commit()
    return claim


def notice(session, user, claim) -> Notification:
    """A notice as the outbox worker leaves it: for `user`, about `claim`, unread."""
    message = OutboxMessage(
        key=f"test:{uuid.uuid4().hex}",
        topic="notification",
        payload={},
        organisation_id=user.organisation_id,
        status=OutboxStatus.DONE,
        attempts=1,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    row = Notification(
        organisation_id=user.organisation_id,
        user_id=user.id,
        claim_id=claim.id,
        kind=NotificationKind.INFORMATION_REQUESTED,
        on_date=dt.date(2026, 3, 16),
        outbox_message_id=message.id,
    )
    session.add(row)
    session.commit()
    return row


# --- the applicant -----------------------------------------------------------------------------
def test_the_applicant_sees_their_own_claims_with_what_is_expected_and_by_when(client, session):
    world = World(session)
    draft = ClaimFactory(home=world.home)
    asked = ClaimFactory(home=world.home, awaiting_info=True)  # asked on 2 March, 14 days
    granted = ClaimFactory(
        home=world.home, granted=True, regime=Regime.A, lines=[("safe", "900.00", "156.20")]
    )
    handled = ClaimFactory(home=world.home, submitted=True)
    colleague = OfficeHolderFactory(
        organisation=world.org, user=UserFactory(organisation=world.org)
    )
    colleagues_claim = ClaimFactory(home=HomeFactory(office_holder=colleague), submitted=True)
    elsewhere = World(session, name="Gemeente Elders")
    foreign_claim = ClaimFactory(home=elsewhere.home, submitted=True)

    login(client, world.applicant.email)
    page = client.get("/applicant").text

    assert "3 aanvragen vragen iets van u." in page
    assert colleagues_claim.number not in page and foreign_claim.number not in page
    info = row_of(page, f"claim-{asked.id}")
    assert "Wacht op informatie" in info and "Offerte van de camera" in info
    assert '<time datetime="2026-03-16">' in info  # the last day to answer
    assert "Voeg de maatregelen die u aanvraagt" in row_of(page, f"claim-{draft.id}")
    assert "betaalde facturen" in row_of(page, f"claim-{granted.id}")  # regime A: receipts
    assert "wij behandelen uw aanvraag" in row_of(page, f"claim-{handled.id}").lower()
    # What asks something of the applicant comes first, the one with a last day first.
    assert page.index(f"claim-{asked.id}") < page.index(f"claim-{draft.id}")
    assert page.index(f"claim-{draft.id}") < page.index(f"claim-{handled.id}")
    assert world.holder.full_name in page  # the office they apply for


def test_one_claim_that_asks_something_is_said_in_the_singular(client, session):
    world = World(session)
    ClaimFactory(home=world.home)
    ClaimFactory(home=world.home, submitted=True)
    login(client, world.applicant.email)
    page = client.get("/applicant").text
    assert "1 aanvraag vraagt iets van u." in page
    assert "1 aanvragen" not in page


def test_an_applicant_who_is_also_staff_sees_only_their_own_claims_there(client, session):
    world = World(session)
    others = ClaimFactory(home=world.home, submitted=True)
    clerk = UserFactory(organisation=world.org, roles={Role.APPLICANT, Role.ASSESSOR})
    own_home = HomeFactory(office_holder=OfficeHolderFactory(organisation=world.org, user=clerk))
    own = ClaimFactory(home=own_home, submitted=True)
    login(client, clerk.email)
    page = client.get("/applicant").text
    assert own.number in page
    assert others.number not in page  # their scope sees it, but it is not theirs


# --- assessor and decider ----------------------------------------------------------------------
def test_the_assessor_sees_what_waits_per_state_and_by_deadline(client, session):
    today = amsterdam_today()
    world = World(session)
    with_deadline(session, ClaimFactory(home=world.home, submitted=True), today - dt.timedelta(3))
    with_deadline(session, ClaimFactory(home=world.home, submitted=True), today + dt.timedelta(30))
    soon = ClaimFactory(home=world.home, in_assessment=True)
    with_deadline(session, soon, today + dt.timedelta(1))
    # Its clock is suspended: not "soon", and not late before its deadline.
    waiting = ClaimFactory(home=world.home, awaiting_info=True)
    with_deadline(session, waiting, today + dt.timedelta(1))
    # The decider's, not the assessor's.
    with_deadline(
        session, ClaimFactory(home=world.home, decision_proposed=True), today - dt.timedelta(1)
    )
    elsewhere = World(session, name="Gemeente Elders")
    for _ in range(3):
        foreign = ClaimFactory(home=elsewhere.home, submitted=True)
        with_deadline(session, foreign, today - dt.timedelta(3))

    login(client, world.assessor.email)
    page = client.get("/assessor").text

    assert 'href="/claims/inbox?state=submitted">Ingediend</a>: 2 aanvragen' in page
    assert row_of(page, "waiting-in_assessment").endswith("In behandeling</a>: 1 aanvraag")
    assert row_of(page, "waiting-awaiting_info").endswith("Wacht op informatie</a>: 1 aanvraag")
    assert "Wacht op advies</a>: 0 aanvragen" in row_of(page, "waiting-awaiting_advice")
    assert "waiting-decision_proposed" not in page
    assert "Bij 1 aanvraag is de beslistermijn verstreken." in row_of(page, "overdue")
    assert "1 aanvraag heeft de beslistermijn in de komende week" in row_of(page, "due-soon")


def test_the_decider_sees_proposals_and_objections_counted(client, session):
    today = amsterdam_today()
    world = World(session)
    for _ in range(2):
        proposed = ClaimFactory(home=world.home, decision_proposed=True)
        with_deadline(session, proposed, today + dt.timedelta(1))
    # An objection against a refusal is its own case with its own deadline (art. 7:10 Awb):
    # the refused claim's old decision deadline does not make it late, the objection's does.
    objected = ClaimFactory(home=world.home, refused=True)
    with_deadline(session, objected, today - dt.timedelta(200))
    lodged_objection(
        session, objected, term_ends_on=today - dt.timedelta(60), lodged_by=world.applicant
    )
    ClaimFactory(home=world.home, submitted=True)  # the assessor's
    elsewhere = World(session, name="Gemeente Elders")
    ClaimFactory(home=elsewhere.home, decision_proposed=True)

    login(client, world.decider.email)
    page = client.get("/decider").text

    assert 'href="/claims/decisions">Besluit voorgesteld</a>: 2 aanvragen' in page
    assert 'waiting-objection"' not in page  # no claim state of its own any more
    assert row_of(page, "waiting-objections").endswith(
        "Bezwaren om op te beslissen</a>: 1 bezwaar · <strong>1 over de beslistermijn</strong>"
    )
    assert 'href="/claims/decisions">Te beslissen</a> (2 aanvragen)' in page
    assert "Bij geen enkele aanvraag is de beslistermijn verstreken." in page
    assert "2 aanvragen hebben de beslistermijn in de komende week" in page


def test_the_assessors_start_page_takes_as_many_queries_for_many_claims(
    client, session, count_queries
):
    world = World(session)
    login(client, world.assessor.email)

    def queries() -> int:
        # Each request starts from an empty session, as in production: no row already loaded.
        session.remove()
        with count_queries() as seen:
            response = client.get("/assessor")
            assert response.status_code == 200
        return len(seen)

    ClaimFactory(home=world.home, submitted=True)
    few = queries()
    home = session.get(Home, world.home.id)  # the session was emptied: read it again
    for _ in range(6):
        ClaimFactory(home=home, in_assessment=True)
        ClaimFactory(home=home, awaiting_info=True)
    assert queries() == few


# --- finance ---------------------------------------------------------------------------------
def test_finance_sees_payouts_batches_and_statement_entries_counted(client, session):
    books = Books(session)
    books.run(fixture("two_statements.xml"))  # two entries nobody sent: to review
    claim = books.claim("1000.00", "400.00", "300.00")
    books.payout(claim, 0, "1000.00", state="requested")
    books.batch([(books.payout(claim, 1, "400.00", state="batched"), "E2E-A")], state="open")
    books.payout(claim, 2, "300.00", state="approved")
    elsewhere = Books(session, World(session, name="Gemeente Elders"))
    elsewhere.numbers = itertools.count(100)  # batch message ids are unique everywhere
    other = elsewhere.claim("500.00", "600.00")
    elsewhere.payout(other, 0, "500.00", state="requested")
    elsewhere.batch(
        [(elsewhere.payout(other, 1, "600.00", state="batched"), "E2E-B")], state="approved"
    )

    login(client, books.finance.email)
    page = client.get("/finance").text

    assert row_of(page, "waiting-check").endswith("Te controleren uitbetalingen</a>: 1 uitbetaling")
    batches = row_of(page, "waiting-batches")
    assert "1 goed te keuren, 0 vrij te geven" in batches
    assert "1 goedgekeurde uitbetaling wacht op een betaalbatch" in batches
    review = row_of(page, "waiting-review")
    assert 'href="/finance/review"' in review and "2 boekingen" in review


# --- notices -------------------------------------------------------------------------------
def test_opening_a_claim_marks_the_readers_notices_about_it_read(client, session):
    world = World(session)
    opened = ClaimFactory(home=world.home, submitted=True)
    other = ClaimFactory(home=world.home, submitted=True)
    mine = [notice(session, world.applicant, opened), notice(session, world.applicant, opened)]
    elsewhere = notice(session, world.applicant, other)
    assessors = notice(session, world.assessor, opened)
    login(client, world.applicant.email)
    assert 'aria-label="Meldingen, 3 ongelezen"' in client.get("/notifications").text

    page = client.get(f"/claims/{opened.id}")

    assert page.status_code == 200
    assert 'aria-label="Meldingen, 1 ongelezen"' in page.text  # the header counts after it
    read = dict(
        session.execute(
            select(Notification.id, Notification.read_at).where(
                Notification.id.in_([n.id for n in [*mine, elsewhere, assessors]])
            )
        ).all()
    )
    assert all(read[n.id] is not None for n in mine)
    assert read[elsewhere.id] is None  # about another claim
    assert read[assessors.id] is None  # someone else's notice about the same claim


def test_a_claim_of_someone_else_marks_nothing_read(client, session):
    world = World(session)
    claim = ClaimFactory(home=world.home, submitted=True)
    elsewhere = World(session, name="Gemeente Elders")
    theirs = notice(session, elsewhere.applicant, ClaimFactory(home=elsewhere.home))
    login(client, world.applicant.email)
    assert client.get(f"/claims/{theirs.claim_id}").status_code == 404
    assert client.get(f"/claims/{claim.id}").status_code == 200
    assert session.get(Notification, theirs.id, populate_existing=True).read_at is None


# --- one and many ------------------------------------------------------------------------------
def test_the_dutch_catalogue_knows_one_from_many():
    path = PROJECT_ROOT / "housing/translations/nl/LC_MESSAGES/messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    plural = {m.id[0]: m.string for m in catalog if isinstance(m.id, tuple)}
    assert plural["%(num)d claim"] == ("%(num)d aanvraag", "%(num)d aanvragen")
    assert plural["%(num)d claim to decide"] == (
        "%(num)d aanvraag om op te beslissen",
        "%(num)d aanvragen om op te beslissen",
    )


def test_a_decider_with_one_claim_to_decide_reads_it_in_the_singular(client, session):
    world = World(session)
    ClaimFactory(home=world.home, decision_proposed=True)
    login(client, world.decider.email)
    page = client.get("/claims/decisions").text
    assert "1 aanvraag om op te beslissen" in page
    assert "1 aanvragen" not in page


def test_english_has_its_singular_and_plural_without_a_catalogue(client, session):
    world = World(session)
    ClaimFactory(home=world.home, submitted=True)
    world.assessor.language = "en"
    session.commit()
    login(client, world.assessor.email)
    page = client.get("/assessor").text
    assert row_of(page, "waiting-submitted").endswith("Submitted</a>: 1 claim")
    assert row_of(page, "waiting-in_assessment").endswith("In assessment</a>: 0 claims")
