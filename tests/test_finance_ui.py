"""Finance in the browser: invoices recorded on the claim page, checked under dual control,
paid in batches released by a second person, exported without addresses (issue 5 §7)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from housing.audit.models import AuditEvent
from housing.claims.models import Claim, Regime
from housing.clock import today as amsterdam_today
from housing.db import db
from housing.jobs.models import Job, JobStatus
from housing.outbox.handlers import default_handlers
from housing.outbox.models import OutboxMessage
from housing.outbox.services import OutboxConsumer, Outcome
from housing.payments.models import ApprovalLimit, PaymentBatch, Payout
from tests.builders.claims import remove_organisation
from tests.builders.jobs import run_job_here
from tests.builders.payments import BAD_IBAN, SUPPLIER_IBAN, Finance, record
from tests.builders.rows import fresh
from tests.conftest import RUN_ID, csrf_from, factories_on, login
from tests.factories import UserFactory
from workflows.payments import fire_payout
from workflows.rules import Actor


def invoice_form(line_id: int, token: str, **overrides: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "measure_line_id": str(line_id),
        "payee_name": "Slot & Grendel B.V.",
        "payee_iban": SUPPLIER_IBAN,
        "payee_bic": "",
        "amount": "400,00",  # typed the Dutch way
        "vat_amount": "69.42",
        "invoice_number": "F-2026-001",
        "invoice_date": "2026-03-01",
        "document_id": "0",
        **overrides,
    }


@pytest.fixture
def fin(session) -> Finance:
    return Finance(session)


# --- the demo-like flow, committed for real and the job run by the outbox consumer ----------
@pytest.fixture
def committed_fin(app: Flask) -> Iterator[tuple[Finance, Session]]:
    with app.app_context():
        engine = db.engine
    setup = Session(engine, expire_on_commit=False)
    with factories_on(setup):
        fin = Finance(setup, name=f"Gemeente Betaalpagina {RUN_ID}")
    try:
        yield fin, setup
    finally:
        setup.close()
        remove_organisation(engine, fin.world.org.id)


def test_from_supplier_invoice_to_a_released_batch_through_the_ui(app, committed_fin):
    fin, setup = committed_fin
    with app.app_context():
        engine = db.engine
    claim_id, camera = fin.claim.id, fin.claim.lines[0]
    assessor, f1, f2 = app.test_client(), app.test_client(), app.test_client()

    # The assessor records the supplier's invoice from the claim page.
    token = login(assessor, fin.world.assessor.email)
    page = assessor.get(f"/claims/{claim_id}").text
    assert f'href="/claims/{claim_id}/payouts/new"' in page
    assert "Een leveranciersfactuur vastleggen" in page
    form = assessor.get(f"/claims/{claim_id}/payouts/new").text
    assert 'name="payee_iban"' in form and "Slot" not in form
    bad = assessor.post(
        f"/claims/{claim_id}/payouts/new", data=invoice_form(camera.id, token, payee_iban=BAD_IBAN)
    )
    assert bad.status_code == 200  # the form again, with the message beside the field
    assert "controlecijfers" in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="F-2026-001"' in bad.text  # what was typed is kept
    with Session(engine) as check:
        assert check.scalar(select(func.count()).where(Payout.claim_id == claim_id)) == 0
    done = assessor.post(f"/claims/{claim_id}/payouts/new", data=invoice_form(camera.id, token))
    assert done.status_code == 303 and done.headers["Location"] == f"/claims/{claim_id}"
    page = assessor.get(f"/claims/{claim_id}").text
    assert "De factuur is vastgelegd" in page
    assert "•••• 4567" in page and SUPPLIER_IBAN not in page  # masked on the claim page
    assert "F-2026-001" in page and "Te controleren" in page
    assert "€\xa0800,00" in page  # 1,200.00 granted for the cameras, 400.00 invoiced

    # Finance user 1 approves it within their limit of 1,000.00 and builds the batch.
    token1 = login(f1, fin.f1.email)
    to_check = f1.get("/finance/payouts").text
    assert "F-2026-001" in to_check and SUPPLIER_IBAN in to_check
    assert "Binnen uw mandaat" in to_check and "€\xa01.000,00" in to_check
    payout_id = setup.scalar(select(Payout.id).where(Payout.claim_id == claim_id))
    approved = f1.post(
        f"/finance/payouts/{payout_id}/events", data={"csrf_token": token1, "event": "approve"}
    )
    assert approved.status_code == 303
    assert "Niets te controleren" in f1.get("/finance/payouts").text
    started = f1.post(
        "/finance/batches",
        data={"csrf_token": token1, "execution_date": amsterdam_today().isoformat()},
    )
    assert started.status_code == 303 and started.headers["Location"].startswith("/jobs/")
    job_id = int(started.headers["Location"].rsplit("/", 1)[1])
    with Session(engine) as s:
        message_id = s.scalar(select(OutboxMessage.id).where(OutboxMessage.key == f"job:{job_id}"))
    with app.app_context(), Session(engine) as worker:
        assert OutboxConsumer(worker, default_handlers()).deliver(message_id) is Outcome.DONE
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job.status is JobStatus.SUCCEEDED, job.message
        batch_id = job.result["batch_id"]
        assert job.result == {"batch_id": batch_id, "count": 1, "total": "400.00"}
        assert (job.progress_done, job.progress_total) == (1, 1)
    job_page = f1.get(f"/jobs/{job_id}").text
    assert "De betaalbatch is samengesteld." in job_page
    assert f'href="/finance/batches/{batch_id}"' in job_page

    # Approved by one, released by another; the approver's own release is refused.
    f1.post(f"/finance/batches/{batch_id}/events", data={"csrf_token": token1, "event": "approve"})
    refused = f1.post(
        f"/finance/batches/{batch_id}/events",
        data={"csrf_token": token1, "event": "release", "confirm": "yes"},
    )
    assert refused.status_code == 403  # the batch page again, with the rule's status
    assert "Vier ogen: een tweede, andere medewerker financiën geeft vrij." in refused.text
    token2 = login(f2, fin.f2.email)
    unconfirmed = f2.post(
        f"/finance/batches/{batch_id}/events", data={"csrf_token": token2, "event": "release"}
    )
    assert unconfirmed.status_code == 422 and "Vink het vakje aan" in unconfirmed.text
    with Session(engine) as s:
        assert s.get(PaymentBatch, batch_id).state == "approved"
    released = f2.post(
        f"/finance/batches/{batch_id}/events",
        data={"csrf_token": token2, "event": "release", "confirm": "yes"},
        follow_redirects=True,
    )
    assert "De betaalbatch is vrijgegeven: 1 betaling," in released.text  # singular
    with Session(engine) as s:
        batch = s.get(PaymentBatch, batch_id)
        msg_id, sha = batch.msg_id, batch.file_sha256
        assert batch.state == "released" and batch.released_by_id == fin.f2.id
        assert s.get(Payout, payout_id).state == "sent"
        follows = s.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.topic == "claims_follow",
                OutboxMessage.organisation_id == fin.world.org.id,
            )
        ).all()
    # The claim follows its payouts through the outbox, as a worker would deliver it.
    assert len(follows) == 1
    with app.app_context(), Session(engine) as worker:
        assert OutboxConsumer(worker, default_handlers()).deliver(follows[0]) is Outcome.DONE
    with Session(engine) as s:
        assert s.get(Claim, claim_id).state == "in_payment"
    first = f2.get(f"/finance/batches/{batch_id}/file")
    second = f1.get(f"/finance/batches/{batch_id}/file")
    assert first.status_code == second.status_code == 200
    assert first.mimetype == "application/xml"
    assert f"filename={msg_id}.xml" in first.headers["Content-Disposition"]
    assert first.data == second.data and b"<MsgId>" + msg_id.encode() + b"</MsgId>" in first.data
    assert hashlib.sha256(first.data).hexdigest() == sha
    listing = f1.get("/finance/batches").text
    assert msg_id in listing and "Vrijgegeven" in listing
    assert str(escape(fin.f1.full_name)) in listing and str(escape(fin.f2.full_name)) in listing


# --- dual control above the limit -------------------------------------------------------------
def test_above_the_limit_a_second_finance_user_approves(app, client, fin, session):
    payout = record(fin, amount="1200.00")  # above f1's limit of 1,000.00
    token = login(client, fin.f1.email)
    page = client.get("/finance/payouts").text
    assert "Boven uw mandaat: een tweede goedkeuring is nodig." in page
    first = client.post(
        f"/finance/payouts/{payout.id}/events",
        data={"csrf_token": token, "event": "approve"},
        follow_redirects=True,
    )
    assert "Eerste goedkeuring vastgelegd" in first.text
    payout = fresh(session, Payout, payout.id)
    assert payout.state == "first_approved" and payout.first_approved_by_id == fin.f1.id
    page = client.get("/finance/payouts").text
    row = page[page.index(f'id="payout-{payout.id}"') :]
    assert "U gaf de eerste goedkeuring" in row
    assert 'value="approve"' not in row.split("</tr>")[0]  # no button for the second time
    again = client.post(
        f"/finance/payouts/{payout.id}/events", data={"csrf_token": token, "event": "approve"}
    )
    assert again.status_code == 403
    assert "Vier ogen: een tweede, andere medewerker financiën keurt goed." in again.text
    payout = fresh(session, Payout, payout.id)
    assert payout.state == "first_approved"

    other = app.test_client()
    token2 = login(other, fin.f2.email)
    assert "Eerste goedkeuring door" in other.get("/finance/payouts").text
    other.post(
        f"/finance/payouts/{payout.id}/events", data={"csrf_token": token2, "event": "approve"}
    )
    payout = fresh(session, Payout, payout.id)
    assert payout.state == "approved" and payout.approved_by_id == fin.f2.id


def test_reject_and_cancel_need_a_reason_and_a_return_is_corrected(client, fin, session):
    rejected, cancelled = record(fin, number="F-1"), record(fin, number="F-2")
    token = login(client, fin.f1.email)
    no_reason = client.post(
        f"/finance/payouts/{rejected.id}/events", data={"csrf_token": token, "event": "reject"}
    )
    # Its confirmation page again, the message (in words of the act) at the reason field.
    assert no_reason.status_code == 422
    assert "Geef de reden waarom u de uitbetaling afwijst." in no_reason.text
    assert "De uitbetaling afwijzen?" in no_reason.text
    rejected = fresh(session, Payout, rejected.id)
    assert rejected.state == "requested"
    for payout, event in ((rejected, "reject"), (cancelled, "cancel")):
        client.post(
            f"/finance/payouts/{payout.id}/events",
            data={"csrf_token": token, "event": event, "reason": "Factuur dubbel"},
        )
    rejected, cancelled = fresh(session, Payout, rejected.id), fresh(session, Payout, cancelled.id)
    assert (rejected.state, cancelled.state) == ("rejected", "cancelled")
    assert rejected.decision_reason == "Factuur dubbel"
    assert (
        client.post(
            f"/finance/payouts/{rejected.id}/events", data={"csrf_token": token, "event": "pay"}
        ).status_code
        == 400
    )

    # The bank returned a sent payout: its Dutch reason is shown, and a new IBAN sends it again.
    returned = record(fin, number="F-3")
    returned.state = "returned"
    returned.return_reason_code = "AC04"
    returned.return_reason = "Rekeningnummer opgeheven"
    session.commit()
    page = client.get("/finance/payouts").text
    assert "Rekeningnummer opgeheven" in page and "AC04" in page
    assert "Niet opnieuw betalen" in page  # or given up, with a reason
    same = client.post(
        f"/finance/payouts/{returned.id}/events",
        data={
            "csrf_token": token,
            "event": "correct",
            "payee_iban": SUPPLIER_IBAN,
            "reason": "Gebeld",
        },
    )
    assert same.status_code == 422 and "Vul het nieuwe IBAN in" in same.text
    client.post(
        f"/finance/payouts/{returned.id}/events",
        data={
            "csrf_token": token,
            "event": "correct",
            "payee_iban": "NL44RABO0123456789",
            "reason": "Nieuw rekeningnummer telefonisch bevestigd",
        },
    )
    returned = fresh(session, Payout, returned.id)
    assert returned.state == "approved" and returned.payee_iban == "NL44RABO0123456789"
    assert returned.payee_bic == "RABONL2U" and returned.return_reason is None


# --- the build job, in-process ----------------------------------------------------------------
def test_the_build_button_starts_a_job_whose_result_names_the_batch(client, fin, session):
    token = login(client, fin.f1.email)
    nothing = client.post("/finance/batches", data={"csrf_token": token})
    assert nothing.status_code == 409
    assert "Er zijn geen goedgekeurde uitbetalingen om te betalen." in nothing.text
    assert session.scalar(select(func.count()).select_from(Job)) == 0
    for number in ("F-1", "F-2"):
        fin.approve(record(fin, number=number, amount="100.00"), fin.f2)
    page = client.get("/finance/batches").text
    assert "2 goedgekeurde uitbetalingen wachten op een betaalbatch." in page
    past = client.post(
        "/finance/batches", data={"csrf_token": token, "execution_date": "2020-01-01"}
    )
    assert past.status_code == 422
    assert "De uitvoeringsdatum kan niet in het verleden liggen." in past.text
    started = client.post("/finance/batches", data={"csrf_token": token, "execution_date": ""})
    job = session.scalars(select(Job)).one()
    assert started.headers["Location"] == f"/jobs/{job.id}"
    assert job.kind == "payment_batch_build" and job.params["execution_date"]
    result, progress = run_job_here(session, job.id)
    batch = session.get(PaymentBatch, result["batch_id"])
    end_to_end_ids = [item.end_to_end_id for item in batch.items]
    assert result == {"batch_id": batch.id, "count": 2, "total": "200.00"}
    assert progress == [(2, 2)] and batch.state == "open" and batch.created_by_id == fin.f1.id
    page = client.get(f"/jobs/{job.id}").text
    assert "Een betaalbatch samenstellen" in page and "2 betalingen, €\xa0200,00" in page
    detail = client.get(f"/finance/batches/{batch.id}").text
    assert len(end_to_end_ids) == 2 and all(e2e in detail for e2e in end_to_end_ids)
    assert detail.count("In betaalbatch") == 2 and "Slot &amp; Grendel B.V." in detail
    cancelled = client.post(
        f"/finance/batches/{batch.id}/events",
        data={"csrf_token": token, "event": "cancel", "reason": "Verkeerde datum"},
        follow_redirects=True,
    )
    assert "De betaalbatch is geannuleerd" in cancelled.text
    batch = fresh(session, PaymentBatch, batch.id)
    assert batch.state == "cancelled" and batch.cancel_reason == "Verkeerde datum"
    not_yet = client.get(f"/finance/batches/{batch.id}/file", follow_redirects=True)
    assert "Het betaalbestand bestaat zodra de betaalbatch is vrijgegeven." in not_yet.text


# --- who may see what ---------------------------------------------------------------------
FINANCE_PAGES = ("/finance/payouts", "/finance/batches", "/finance/budget", "/finance/payouts.csv")


def test_applicants_assessors_and_admins_are_refused_the_finance_pages(app, fin, session):
    for user in (fin.world.applicant, fin.world.assessor, fin.world.decider):
        browser = app.test_client()
        token = login(browser, user.email)
        for path in FINANCE_PAGES:
            assert browser.get(path).status_code == 403, (user.roles, path)
        assert browser.post("/finance/batches", data={"csrf_token": token}).status_code == 403
        assert browser.get("/admin/approval-limits").status_code == 403
    admin = app.test_client()
    login(admin, UserFactory(organisation=fin.world.org, admin=True).email)
    assert admin.get("/finance/payouts").status_code == 403


def test_another_organisations_batch_and_payouts_are_not_found(app, client, fin, session):
    other = Finance(session, name="Gemeente Elders")
    foreign = record(other, amount="10.00", number="E-1", name="Elders BV")
    other.approve(foreign, other.f2)
    batch = other.batches.build(other.scope(other.f1), other.f1, execution_date=amsterdam_today())
    session.commit()
    token = login(client, fin.f1.email)
    assert client.get(f"/finance/batches/{batch.id}").status_code == 404
    assert client.get(f"/finance/batches/{batch.id}/file").status_code == 404
    for event in ("approve", "release", "cancel"):
        response = client.post(
            f"/finance/batches/{batch.id}/events",
            data={"csrf_token": token, "event": event, "confirm": "yes", "reason": "x"},
        )
        assert response.status_code == 404, event
    assert (
        client.post(
            f"/finance/payouts/{foreign.id}/events", data={"csrf_token": token, "event": "reject"}
        ).status_code
        == 404
    )
    assert batch.msg_id not in client.get("/finance/batches").text
    assert "E-1" not in client.get("/finance/payouts").text
    batch = fresh(session, PaymentBatch, batch.id)
    assert batch.state == "open"
    # Nor the claim page of another organisation's claim.
    assessor = app.test_client()
    login(assessor, fin.world.assessor.email)
    assert assessor.get(f"/claims/{other.claim.id}/payouts/new").status_code == 404


def test_the_claim_page_offers_the_form_to_whom_the_regime_names(app, fin, session):
    claim_id = fin.claim.id
    applicant = app.test_client()
    login(applicant, fin.world.applicant.email)
    # Regime B: the applicant sees the payouts, but the assessor records the invoices.
    record(fin)
    page = applicant.get(f"/claims/{claim_id}").text
    assert "Betalingen" in page and "•••• 4567" in page and SUPPLIER_IBAN not in page
    assert f"/claims/{claim_id}/payouts/new" not in page
    refused = applicant.get(f"/claims/{claim_id}/payouts/new", follow_redirects=True)
    assert "Onder regeling A dient de aanvrager de bonnen in" in refused.text
    finance = app.test_client()
    login(finance, fin.f1.email)
    assert "•••• 4567" in finance.get(f"/claims/{claim_id}").text

    # Regime A: the office holder sends in their own receipt, paid back to their account.
    session.execute(
        Claim.__table__.update().where(Claim.id == claim_id).values(regime=Regime.A.value)
    )
    session.commit()
    session.expire_all()
    form = applicant.get(f"/claims/{claim_id}/payouts/new").text
    assert "Een bon insturen" in form and 'value="Burgemeester Proef"' in form
    token = csrf_from(form)
    letterbox = fin.claim.lines[1]
    sent = applicant.post(
        f"/claims/{claim_id}/payouts/new",
        data=invoice_form(
            letterbox.id,
            token,
            payee_name="Burgemeester Proef",
            payee_iban="NL44RABO0123456789",
            amount="250.00",
            vat_amount="43.39",
            invoice_number="BON-7",
        ),
    )
    assert sent.status_code == 303
    payout = session.scalars(select(Payout).where(Payout.invoice_number == "BON-7")).one()
    assert payout.kind.value == "reimbursement" and payout.requested_by_id == fin.world.applicant.id
    too_much = applicant.post(
        f"/claims/{claim_id}/payouts/new",
        data=invoice_form(letterbox.id, token, amount="150.01", invoice_number="BON-8"),
    )
    assert "toegekend en nog niet is betaald (150.00)" in too_much.text
    assert session.scalar(select(func.count()).where(Payout.invoice_number == "BON-8")) == 0
    assessor = app.test_client()
    login(assessor, fin.world.assessor.email)
    assert f"/claims/{claim_id}/payouts/new" not in assessor.get(f"/claims/{claim_id}").text


# --- the CSV export -----------------------------------------------------------------------
def test_the_csv_export_has_no_address_and_defuses_formulas(client, fin, session):
    home = fin.world.home
    home.street, home.house_number, home.postcode, home.city = (
        "Geheimelaan",
        "77",
        "9999 ZZ",
        "Verborgenstad",
    )
    session.commit()
    plain = record(fin, number="F-1", amount="300.00")
    fin.approve(plain, fin.f2)
    batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
    session.commit()
    record(fin, number="F-2", amount="10.00", name='=HYPERLINK("http://evil.example","Klik")')
    record(fin, number="-2+3", amount="5.00", name="@SUM(A1)")
    outside = record(fin, number="F-OUT", amount="1.00")
    outside.invoice_date = dt.date(2025, 12, 31)
    session.commit()
    login(client, fin.f1.email)
    response = client.get("/finance/payouts.csv?from=2026-01-01&to=2026-12-31")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="payouts-2026-01-01-2026-12-31.csv"' in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8-sig")
    for secret in ("Geheimelaan", "9999 ZZ", "Verborgenstad", fin.world.holder.full_name):
        assert secret not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "Aanvraag",
        "Maatregel",
        "Begunstigde",
        "IBAN",
        "Bedrag incl. btw",
        "Btw",
        "Factuurnummer",
        "Factuurdatum",
        "Status",
        "Betaalbatch (MsgId)",
        "Geboekt",
    ]
    by_number = {row[6]: row for row in rows[1:]}
    assert set(by_number) == {"F-1", "F-2", "'-2+3"}  # F-OUT lies before the period
    assert by_number["F-1"] == [
        fin.claim.number,
        "cameras",
        "Slot & Grendel B.V.",
        SUPPLIER_IBAN,
        "300.00",
        "0.00",
        "F-1",
        "2026-03-01",
        "In betaalbatch",
        batch.msg_id,
        "nee",
    ]
    assert by_number["F-2"][2] == '\'=HYPERLINK("http://evil.example","Klik")'
    assert by_number["'-2+3"][2] == "'@SUM(A1)" and by_number["F-2"][9] == ""
    exported = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "payouts_exported")
    ).one()
    assert exported.actor_id == fin.f1.id
    bad = client.get("/finance/payouts.csv?from=2026-13-01", follow_redirects=True)
    assert "Vul een datum in als jjjj-mm-dd." in bad.text
    backwards = client.get(
        "/finance/payouts.csv?from=2026-12-31&to=2026-01-01", follow_redirects=True
    )
    assert "Het einde van de periode ligt voor het begin." in backwards.text


# --- budget committed versus paid ---------------------------------------------------------
def test_the_budget_page_sets_committed_against_paid_and_sent(client, fin, session):
    booked, sent = (
        record(fin, number="F-1", amount="500.00"),
        record(fin, number="F-2", amount="200.00"),
    )
    for payout in (booked, sent):
        fin.approve(payout, fin.f2)
    batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
    session.commit()
    fin.batches.approve(fin.scope(fin.f1), fin.f1, batch.id)
    fin.batches.release(fin.scope(fin.f2), fin.f2, batch.id)
    session.commit()
    # The statement import books it (another module); here the system books one directly.
    booked = fresh(session, Payout, booked.id)
    fire_payout(booked, "book", actor=Actor.system())
    session.commit()
    login(client, fin.f1.email)
    page = client.get("/finance/budget").text
    row = page[page.index('id="year-2026"') :].split("</tr>")[0]
    cells = re.findall(r'<td class="utrecht-table__cell">([^<]*)</td>', row)
    # Budget 10,000; granted 1,600 (cameras and letterbox); 500 booked, 200 sent.
    assert cells == [
        "2026",
        "€\xa010.000,00",
        "€\xa01.600,00",
        "€\xa0500,00",
        "€\xa0200,00",
        "€\xa0900,00",
        "€\xa08.400,00",
    ]


# --- approval limits, set by the administrator ----------------------------------------------
def test_the_administrator_sets_a_finance_users_approval_limit(client, fin, session):
    admin = UserFactory(organisation=fin.world.org, admin=True)
    token = login(client, admin.email)
    page = client.get("/admin/approval-limits").text
    assert str(escape(fin.f1.full_name)) in page
    assert str(escape(fin.world.assessor.full_name)) not in page
    bad = client.post(
        "/admin/approval-limits", data={"csrf_token": token, "user_id": fin.f1.id, "amount": "veel"}
    )
    assert "Vul een bedrag in euro in" in bad.text
    assert session.get(ApprovalLimit, fin.f1.id).amount == Decimal("1000.00")
    done = client.post(
        "/admin/approval-limits",
        data={"csrf_token": token, "user_id": fin.f1.id, "amount": "2500,00"},
        follow_redirects=True,
    )
    assert "Het mandaat is vastgesteld op €\xa02.500,00." in done.text
    session.expire_all()
    assert session.get(ApprovalLimit, fin.f1.id).amount == Decimal("2500.00")
    stranger = Finance(session, name="Gemeente Vreemd").f1
    foreign = client.post(
        "/admin/approval-limits", data={"csrf_token": token, "user_id": stranger.id, "amount": "9"}
    )
    assert foreign.status_code == 200 and "Ongeldige keuze." in foreign.text
    assert session.get(ApprovalLimit, stranger.id).amount == Decimal("1000.00")


# --- the finance start page and the nav -------------------------------------------------------
def test_the_finance_start_page_says_what_waits(client, fin, session):
    record(fin, number="F-1")
    fin.approve(record(fin, number="F-2"), fin.f2)
    login(client, fin.f1.email)
    page = client.get("/finance").text
    assert 'href="/finance/payouts"' in page and 'href="/finance/batches"' in page
    assert "Te controleren uitbetalingen</a>: 1 uitbetaling<" in page
    assert "1 goedgekeurde uitbetaling wacht op een betaalbatch" in page


# --- no query per payout ----------------------------------------------------------------------
def test_the_payouts_to_check_page_does_not_query_per_payout(client, fin, session, count_queries):
    login(client, fin.f1.email)

    def queries() -> int:
        # Each request starts from an empty session, as in production: no row already loaded.
        session.remove()
        with count_queries() as seen:
            response = client.get("/finance/payouts")
            assert response.status_code == 200
        return len(seen)

    record(fin, number="F-1", amount="10.00")
    few = queries()
    for n in range(2, 8):
        record(fin, number=f"F-{n}", amount="10.00", line_index=n % 2)
    returned = record(fin, number="R-1", amount="10.00")
    returned.state = "returned"
    session.commit()
    many = queries()
    assert many == few
    assert client.get("/finance/payouts").text.count('name="event" value="approve"') == 7
