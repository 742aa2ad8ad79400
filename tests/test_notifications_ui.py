"""One's own notices in the app, and the print queue of letters for those who chose paper."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from markupsafe import escape
from sqlalchemy import select

from housing.audit.models import AccessLog, AuditEvent
from housing.audit.services import AuditTrail
from housing.claims.documents import DocumentStore
from housing.claims.models import Confidentiality, DocumentKind
from housing.clock import utcnow
from housing.notifications.models import (
    Notification,
    NotificationKind,
    PrintItem,
    PrintStatus,
)
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.roles import Role
from tests.conftest import login
from tests.factories import ClaimFactory, OfficeHolderFactory, OrganisationFactory, UserFactory

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def fresh(session, row):
    """The row as the database has it now (a request closes the session it was loaded in)."""
    return session.get(type(row), row.id, populate_existing=True)


def _message(session, organisation_id: int) -> OutboxMessage:
    """The outbox message a notice or letter was made for (inserted directly, no worker)."""
    message = OutboxMessage(
        key=f"test:{uuid.uuid4().hex}",
        topic="notification",
        payload={},
        organisation_id=organisation_id,
        status=OutboxStatus.DONE,
        attempts=1,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def notice(
    session,
    user,
    claim=None,
    *,
    kind=NotificationKind.CLAIM_RECEIVED,
    on_date=dt.date(2026, 3, 2),
    created_at=None,
    read=False,
) -> Notification:
    row = Notification(
        organisation_id=user.organisation_id,
        user_id=user.id,
        claim_id=claim.id if claim else None,
        kind=kind,
        on_date=on_date,
        outbox_message_id=_message(session, user.organisation_id).id,
        read_at=utcnow() if read else None,
        created_at=created_at or utcnow(),
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def world(session):
    org = OrganisationFactory()
    applicant = UserFactory(organisation=org)
    holder = OfficeHolderFactory(organisation=org, user=applicant)
    claim = ClaimFactory(home__office_holder=holder, submitted=True)
    return {"org": org, "applicant": applicant, "claim": claim}


class TestNotices:
    def test_the_list_shows_ones_own_notices_newest_first_as_sentences_with_a_link(
        self, client, session, world
    ):
        applicant, claim = world["applicant"], world["claim"]
        now = utcnow()
        older = notice(
            session,
            applicant,
            claim,
            on_date=dt.date(2026, 3, 2),
            created_at=now - dt.timedelta(days=2),
            read=True,
        )
        newer = notice(session, applicant, claim, kind=NotificationKind.DECISION_TAKEN)
        colleague = UserFactory(organisation=world["org"])
        notice(session, colleague, kind=NotificationKind.PAYOUT_SENT)
        login(client, applicant.email)

        page = client.get("/notifications").text

        assert page.index(f'id="notice-{newer.id}"') < page.index(f'id="notice-{older.id}"')
        assert "Wij hebben uw aanvraag ontvangen op 2 maart 2026." in page
        assert "Er is een besluit genomen op uw aanvraag." in page
        assert f'href="/claims/{claim.id}"' in page
        # Only that there is news: no address, and nobody else's notice.
        assert claim.home.street not in page and claim.home.postcode not in page
        assert "Er is een betaling voor uw aanvraag verstuurd." not in page
        assert page.count("Nieuw</span>") == 1

    def test_the_header_counts_the_unread_ones_in_one_query(
        self, client, session, world, count_queries
    ):
        applicant = world["applicant"]
        notice(session, applicant)
        notice(session, applicant)
        notice(session, applicant, read=True)
        notice(session, UserFactory(organisation=world["org"]))
        login(client, applicant.email)
        with count_queries() as queries:
            page = client.get("/profile").text
        statements = [statement for statement in queries if "notification" in statement]
        assert 'aria-label="Meldingen, 2 ongelezen"' in page
        assert '<span class="utrecht-number-badge">2</span>' in page
        assert len(statements) == 1 and "count(" in statements[0].lower()

    def test_no_count_is_shown_when_all_are_read(self, client, session, world):
        notice(session, world["applicant"], read=True)
        login(client, world["applicant"].email)
        assert "utrecht-number-badge" not in client.get("/profile").text

    def test_mark_one_as_read(self, client, session, world):
        applicant = world["applicant"]
        first, second = notice(session, applicant), notice(session, applicant)
        csrf = login(client, applicant.email)
        response = client.post(f"/notifications/{first.id}/read", data={"csrf_token": csrf})
        assert response.status_code == 303
        read_at = fresh(session, first).read_at
        assert read_at is not None and fresh(session, second).read_at is None
        # Again: nothing changes, the first time stays.
        client.post(f"/notifications/{first.id}/read", data={"csrf_token": csrf})
        assert fresh(session, first).read_at == read_at

    def test_another_users_notice_cannot_be_marked(self, client, session, world):
        theirs = notice(session, UserFactory(organisation=world["org"]))
        csrf = login(client, world["applicant"].email)
        response = client.post(f"/notifications/{theirs.id}/read", data={"csrf_token": csrf})
        assert response.status_code == 404
        assert fresh(session, theirs).read_at is None

    def test_mark_all_as_read_touches_only_ones_own(self, client, session, world):
        applicant = world["applicant"]
        mine = [notice(session, applicant) for _ in range(3)]
        theirs = notice(session, UserFactory(organisation=world["org"]))
        csrf = login(client, applicant.email)
        response = client.post("/notifications/read-all", data={"csrf_token": csrf})
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).text
        assert "Als gelezen gemarkeerd: 3." in page
        assert all(fresh(session, n).read_at is not None for n in mine)
        assert fresh(session, theirs).read_at is None

    def test_the_list_is_paginated(self, client, session, world):
        applicant = world["applicant"]
        now = utcnow()
        rows = [
            notice(session, applicant, created_at=now - dt.timedelta(minutes=i)) for i in range(26)
        ]
        login(client, applicant.email)
        first = client.get("/notifications").text
        assert f'id="notice-{rows[0].id}"' in first and f'id="notice-{rows[25].id}"' not in first
        second = client.get("/notifications?page=2").text
        assert f'id="notice-{rows[25].id}"' in second

    def test_staff_notices_name_the_claim_and_link_only_where_the_reader_may_go(
        self, app, session, world
    ):
        claim = world["claim"]
        assessor = UserFactory(organisation=world["org"], assessor=True)
        admin = UserFactory(organisation=world["org"], admin=True)
        deadline = dt.date(2026, 4, 27)
        notice(session, assessor, claim, kind=NotificationKind.DEADLINE_WARNING, on_date=deadline)
        notice(session, admin, claim, kind=NotificationKind.CLAIM_OVERDUE, on_date=deadline)
        as_assessor, as_admin = app.test_client(), app.test_client()
        login(as_assessor, assessor.email)
        page = as_assessor.get("/notifications").text
        assert f"De beslistermijn van aanvraag {claim.number} nadert" in page
        assert f'href="/claims/{claim.id}"' in page
        login(as_admin, admin.email)
        page = as_admin.get("/notifications").text
        assert claim.number in page
        assert f'href="/claims/{claim.id}"' not in page  # an administrator sees no claims

    def test_anonymous_visitors_are_sent_to_login(self, client, session):
        response = client.get("/notifications")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def letter(app, session, world, document_root):
    """A queued letter with its PDF, as the notification handler leaves it."""
    claim = world["claim"]
    document = DocumentStore.from_config(app.config).add(
        session,
        claim,
        kind=DocumentKind.NOTICE_LETTER,
        filename=f"brief-{claim.number}.pdf",
        data=PDF,
        uploaded_by_id=None,
        confidentiality=Confidentiality.SECRET,
    )
    item = PrintItem(
        organisation_id=claim.organisation_id,
        claim_id=claim.id,
        recipient_id=world["applicant"].id,
        kind=NotificationKind.CLAIM_RECEIVED,
        document_id=document.id,
        outbox_message_id=_message(session, claim.organisation_id).id,
    )
    session.add(item)
    session.commit()
    return item


class TestPrintQueue:
    @pytest.mark.parametrize("role", [Role.ASSESSOR, Role.DECIDER])
    def test_case_handlers_see_the_queue(self, client, session, world, letter, role):
        login(client, UserFactory(organisation=world["org"], roles={role}).email)
        page = client.get("/print-queue").text
        assert world["claim"].number in page
        assert "Ontvangstbevestiging" in page
        assert f'href="/print-queue/{letter.id}/letter"' in page

    @pytest.mark.parametrize("role", [Role.FINANCE, Role.ADMIN, Role.AUDITOR, Role.APPLICANT])
    def test_others_may_not_read_letters_with_addresses(self, client, session, world, letter, role):
        csrf = login(client, UserFactory(organisation=world["org"], roles={role}).email)
        assert client.get("/print-queue").status_code == 403
        assert client.get(f"/print-queue/{letter.id}/letter").status_code == 403
        response = client.post(f"/print-queue/{letter.id}/printed", data={"csrf_token": csrf})
        assert response.status_code == 403

    def test_other_organisations_letters_do_not_exist(self, client, session, world, letter):
        stranger = UserFactory(organisation=OrganisationFactory(), assessor=True)
        csrf = login(client, stranger.email)
        assert world["claim"].number not in client.get("/print-queue").text
        assert client.get(f"/print-queue/{letter.id}/letter").status_code == 404
        response = client.post(f"/print-queue/{letter.id}/printed", data={"csrf_token": csrf})
        assert response.status_code == 404
        assert fresh(session, letter).status is PrintStatus.QUEUED

    def test_the_download_is_logged(self, client, session, world, letter):
        assessor = UserFactory(organisation=world["org"], assessor=True)
        login(client, assessor.email)
        with client.get(
            f"/print-queue/{letter.id}/letter", headers={"X-Request-ID": "printrequest01"}
        ) as response:
            assert response.status_code == 200
            assert response.data == PDF
            assert "attachment" in response.headers["Content-Disposition"]
        logged = session.scalars(
            select(AccessLog).where(AccessLog.document_id == letter.document_id)
        ).one()
        assert (logged.action, logged.user_id, logged.claim_id, logged.request_id) == (
            "download",
            assessor.id,
            letter.claim_id,
            "printrequest01",
        )

    def test_mark_printed_records_who_and_when_and_is_audited(self, client, session, world, letter):
        decider = UserFactory(organisation=world["org"], decider=True)
        csrf = login(client, decider.email)
        before = utcnow()
        response = client.post(f"/print-queue/{letter.id}/printed", data={"csrf_token": csrf})
        assert response.status_code == 303
        printed = fresh(session, letter)
        assert printed.status is PrintStatus.PRINTED
        assert printed.printed_by_id == decider.id and printed.printed_at >= before
        audited = session.scalars(
            select(AuditEvent).where(
                AuditEvent.organisation_id == world["org"].id, AuditEvent.event == "mark_printed"
            )
        ).one()
        assert (audited.actor_id, audited.claim_id) == (decider.id, letter.claim_id)
        assert AuditTrail(session).verify(world["org"].id).intact

        page = client.get("/print-queue").text
        assert "Er zijn geen brieven om af te drukken." in page
        # As the page writes it: a name such as "van 't Riet" is escaped.
        assert f'id="printed-{letter.id}"' in page and str(escape(decider.full_name)) in page

        # A colleague at the same printer: the first mark stands, no second audit event.
        again = client.post(f"/print-queue/{letter.id}/printed", data={"csrf_token": csrf})
        assert again.status_code == 303
        assert "al gemarkeerd als afgedrukt" in client.get(again.headers["Location"]).text
        events = session.scalars(select(AuditEvent).where(AuditEvent.event == "mark_printed")).all()
        assert len(events) == 1
