"""The finance pages' hand-written forms (issue 13 §3, §5): a refused post draws its page
again with the refusal's status, what was typed still in the fields, a summary linking to
each field and the message at the field; rejecting or cancelling a payout and cancelling a
batch are confirmed on a page of their own first, without JavaScript."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from housing.audit.models import AuditEvent
from housing.clock import today as amsterdam_today
from housing.inputs import TEXT_MAX
from housing.payments.models import PaymentBatch, Payout
from tests.builders.payments import BAD_IBAN, SUPPLIER_IBAN, Finance, record
from tests.builders.rows import fresh
from tests.conftest import login


@pytest.fixture
def fin(session) -> Finance:
    return Finance(session)


def tag(html: str, element_id: str) -> str:
    """The opening tag of the element with this id (there must be one)."""
    found = re.findall(rf'<(?:input|textarea|select)\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert len(found) == 1, (element_id, found)
    return found[0]


def marked(html: str, element_id: str) -> bool:
    """The field is marked invalid, described by its message, and the summary links to it."""
    field = tag(html, element_id)
    return (
        'aria-invalid="true"' in field
        and f'aria-describedby="{element_id}-error"' in field
        and f'id="{element_id}-error"' in html
        and f'href="#{element_id}"' in html.split('id="form-errors"', 1)[-1]
    )


def audited(session, fin: Finance, event: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.organisation_id == fin.world.org.id, AuditEvent.event == event
            )
        )
    )


def returned(fin: Finance, session, number: str) -> Payout:
    payout = record(fin, number=number)
    payout.state = "returned"
    payout.return_reason_code = "AC04"
    payout.return_reason = "Rekeningnummer opgeheven"
    session.commit()
    return payout


# --- rejecting and cancelling a payout ------------------------------------------------------
def test_reject_is_confirmed_on_a_page_of_its_own_then_done_from_it(client, fin, session):
    payout = record(fin, number="F-77", amount="345.67")
    token = login(client, fin.f1.email)
    listing = client.get("/finance/payouts").text
    row = listing[listing.index(f'id="payout-{payout.id}"') :].split("</tr>")[0]
    # The list leads to the confirmation pages; it rejects and cancels nothing itself.
    confirm = f"/finance/payouts/{payout.id}/confirm/reject"
    assert f'action="{confirm}"' in row and 'method="get"' in row
    assert f'action="/finance/payouts/{payout.id}/confirm/cancel"' in row
    assert 'value="reject"' not in row and 'value="cancel"' not in row
    assert 'value="approve"' in row  # approving is not destructive: done from the list

    page = client.get(confirm)
    assert page.status_code == 200
    html = page.text
    assert "<h1" in html and "De uitbetaling afwijzen?" in html
    assert fin.claim.number in html and str(escape("Slot & Grendel B.V.")) in html
    assert "€\xa0345,67" in html and "F-77" in html and SUPPLIER_IBAN in html
    assert "De uitbetaling wordt afgewezen en niet betaald; dit kan niet ongedaan worden" in html
    form = html[html.index(f'action="/finance/payouts/{payout.id}/events"') :].split("</form>")[0]
    assert 'name="event" value="reject"' in form and 'id="reason"' in form
    assert "Reden van afwijzen" in form and "De uitbetaling afwijzen</button>" in form
    assert 'href="/finance/payouts#payout-' in html and "Nee, terug naar de uitbetalingen" in html
    assert 'aria-invalid="true"' not in html and 'id="form-errors"' not in html

    # No reason: the confirmation page again, the message at the reason field.
    refused = client.post(
        f"/finance/payouts/{payout.id}/events", data={"csrf_token": token, "event": "reject"}
    )
    assert refused.status_code == 422
    assert "De uitbetaling afwijzen?" in refused.text and marked(refused.text, "reason")
    assert "Geef de reden waarom u de uitbetaling afwijst." in refused.text
    # Too long: what was typed stays in the field.
    typed = "Dubbel ingediend. " + "x" * TEXT_MAX
    too_long = client.post(
        f"/finance/payouts/{payout.id}/events",
        data={"csrf_token": token, "event": "reject", "reason": typed},
    )
    assert too_long.status_code == 422 and marked(too_long.text, "reason")
    assert f">{typed}</textarea>" in too_long.text
    assert fresh(session, Payout, payout.id).state == "requested"
    assert audited(session, fin, "payout_reject") == []

    done = client.post(
        f"/finance/payouts/{payout.id}/events",
        data={"csrf_token": token, "event": "reject", "reason": "Dubbel ingediend"},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/finance/payouts"
    payout = fresh(session, Payout, payout.id)
    assert payout.state == "rejected" and payout.decision_reason == "Dubbel ingediend"
    (event,) = audited(session, fin, "payout_reject")
    assert event.actor_id == fin.f1.id and event.reason == "Dubbel ingediend"
    # Done: its confirmation page is no longer offered, nor the act.
    again = client.get(confirm)
    assert again.status_code == 303 and again.headers["Location"] == "/finance/payouts"
    late = client.post(
        f"/finance/payouts/{payout.id}/events",
        data={"csrf_token": token, "event": "reject", "reason": "Nog eens"},
    )
    # No longer possible: the list drawn again, with the conflict's status and message.
    assert late.status_code == 409 and "Te controleren uitbetalingen</h1>" in late.text
    assert "Dit kan nu niet: de status is rejected." in late.text


def test_cancel_and_do_not_pay_again_are_confirmed_first(client, fin, session):
    to_check, back = record(fin, number="F-1"), returned(fin, session, "F-2")
    token = login(client, fin.f1.email)
    listing = client.get("/finance/payouts").text
    section = listing[listing.index(f'id="returned-{back.id}"') :].split("</section>")[0]
    assert f'action="/finance/payouts/{back.id}/confirm/cancel"' in section
    assert 'value="cancel"' not in section and "Niet opnieuw betalen…" in section

    page = client.get(f"/finance/payouts/{to_check.id}/confirm/cancel").text
    assert "De uitbetaling annuleren?" in page
    assert "De uitbetaling wordt geannuleerd en niet betaald" in page
    page = client.get(f"/finance/payouts/{back.id}/confirm/cancel").text
    assert "Niet opnieuw betalen?" in page and "Door de bank teruggestort" in page
    assert "De uitbetaling wordt geannuleerd en niet opnieuw betaald" in page
    assert f'href="/finance/payouts#returned-{back.id}"' in page

    refused = client.post(
        f"/finance/payouts/{back.id}/events",
        data={"csrf_token": token, "event": "cancel", "reason": "  "},
    )
    assert refused.status_code == 422 and marked(refused.text, "reason")
    assert "Niet opnieuw betalen?" in refused.text
    assert "Geef de reden waarom u annuleert." in refused.text
    for payout in (to_check, back):
        done = client.post(
            f"/finance/payouts/{payout.id}/events",
            data={"csrf_token": token, "event": "cancel", "reason": "Leverancier failliet"},
        )
        assert done.status_code == 303
        assert fresh(session, Payout, payout.id).state == "cancelled"
    events = audited(session, fin, "payout_cancel")
    assert sorted(e.from_state for e in events) == ["requested", "returned"]
    assert {(e.to_state, e.reason, e.actor_id) for e in events} == {
        ("cancelled", "Leverancier failliet", fin.f1.id)
    }


def test_a_confirmation_page_only_while_the_act_is_possible(client, fin, session):
    approved = record(fin, number="F-1")
    fin.approve(approved, fin.f2)
    login(client, fin.f1.email)
    # An approved payout is cancelled, no longer rejected.
    gone = client.get(f"/finance/payouts/{approved.id}/confirm/reject")
    assert gone.status_code == 303 and gone.headers["Location"] == "/finance/payouts"
    assert client.get(f"/finance/payouts/{approved.id}/confirm/cancel").status_code == 200
    # Approving and correcting are not confirmed first; nor an event that does not exist.
    for event in ("approve", "correct", "pay"):
        assert client.get(f"/finance/payouts/{approved.id}/confirm/{event}").status_code == 404
    assert client.get("/finance/payouts/999999999/confirm/reject").status_code == 404


def test_another_organisations_payout_has_no_confirmation_page(app, client, fin, session):
    other = Finance(session, name="Gemeente Elders")
    foreign = record(other, amount="10.00", number="E-1", name="Elders BV")
    token = login(client, fin.f1.email)
    for event in ("reject", "cancel"):
        assert client.get(f"/finance/payouts/{foreign.id}/confirm/{event}").status_code == 404
        posted = client.post(
            f"/finance/payouts/{foreign.id}/events",
            data={"csrf_token": token, "event": event, "reason": "x"},
        )
        assert posted.status_code == 404
    assert fresh(session, Payout, foreign.id).state == "requested"


def test_only_finance_is_shown_a_confirmation_page(app, fin, session):
    payout = record(fin)
    batch_payout = record(fin, number="F-2", amount="50.00")
    fin.approve(batch_payout, fin.f2)
    batch = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
    session.commit()
    for user in (fin.world.applicant, fin.world.assessor, fin.world.decider):
        browser = app.test_client()
        login(browser, user.email)
        assert browser.get(f"/finance/payouts/{payout.id}/confirm/reject").status_code == 403
        assert browser.get(f"/finance/batches/{batch.id}/confirm/cancel").status_code == 403


# --- approving and correcting from the list -------------------------------------------------
def test_a_refused_approval_draws_the_list_again_with_its_status(client, fin, session):
    payout = record(fin, number="F-9", amount="1200.00")  # above f1's limit of 1,000.00
    token = login(client, fin.f1.email)
    approve = {"csrf_token": token, "event": "approve"}
    first = client.post(f"/finance/payouts/{payout.id}/events", data=approve)
    assert first.status_code == 303
    assert fresh(session, Payout, payout.id).state == "first_approved"
    second = client.post(f"/finance/payouts/{payout.id}/events", data=approve)
    assert second.status_code == 403
    assert "Vier ogen: een tweede, andere medewerker financiën keurt goed." in second.text
    assert "Te controleren uitbetalingen</h1>" in second.text  # the list, drawn again
    assert f'id="payout-{payout.id}"' in second.text
    assert fresh(session, Payout, payout.id).state == "first_approved"


def test_a_refused_correction_keeps_what_was_typed_on_its_own_form(client, fin, session):
    first, second = returned(fin, session, "F-1"), returned(fin, session, "F-2")
    token = login(client, fin.f1.email)
    bad = client.post(
        f"/finance/payouts/{first.id}/events",
        data={
            "csrf_token": token,
            "event": "correct",
            "payee_iban": BAD_IBAN,
            "payee_bic": "INGBNL2A",
            "payee_name": "Slot en Grendel",
            "reason": "Gebeld met de leverancier",
        },
    )
    assert bad.status_code == 422
    html = bad.text
    assert marked(html, f"iban-{first.id}")
    assert f'value="{BAD_IBAN}"' in tag(html, f"iban-{first.id}")
    assert 'value="INGBNL2A"' in tag(html, f"bic-{first.id}")
    assert 'value="Slot en Grendel"' in tag(html, f"name-{first.id}")
    assert 'value="Gebeld met de leverancier"' in tag(html, f"correct-reason-{first.id}")
    # The other returned payout's form is untouched: empty, and not marked.
    assert "aria-invalid" not in tag(html, f"iban-{second.id}")
    assert 'value=""' in tag(html, f"iban-{second.id}")
    assert 'value=""' in tag(html, f"correct-reason-{second.id}")
    assert html.count('id="form-errors"') == 1

    no_reason = client.post(
        f"/finance/payouts/{first.id}/events",
        data={"csrf_token": token, "event": "correct", "payee_iban": "NL44RABO0123456789"},
    )
    assert no_reason.status_code == 422
    assert marked(no_reason.text, f"correct-reason-{first.id}")
    assert "Vul in hoe het nieuwe rekeningnummer is bevestigd." in no_reason.text
    assert 'value="NL44RABO0123456789"' in tag(no_reason.text, f"iban-{first.id}")
    assert fresh(session, Payout, first.id).state == "returned"


# --- batches --------------------------------------------------------------------------------
@pytest.fixture
def batch(fin, session) -> PaymentBatch:
    for number in ("F-1", "F-2"):
        fin.approve(record(fin, number=number, amount="100.00"), fin.f2)
    built = fin.batches.build(fin.scope(fin.f1), fin.f1, execution_date=amsterdam_today())
    session.commit()
    return built


def test_release_without_the_tick_is_marked_at_the_tick(app, client, fin, session, batch):
    fin.batches.fire(fin.scope(fin.f1), fin.f1, batch.id, "approve")
    session.commit()
    token = login(client, fin.f2.email)
    refused = client.post(
        f"/finance/batches/{batch.id}/events", data={"csrf_token": token, "event": "release"}
    )
    assert refused.status_code == 422 and marked(refused.text, "confirm")
    assert "Vink het vakje aan" in refused.text and "checked" not in tag(refused.text, "confirm")
    assert fresh(session, PaymentBatch, batch.id).state == "approved"
    # The approver's own release: the batch page again, with the rule's status.
    approver = app.test_client()
    token1 = login(approver, fin.f1.email)
    own = approver.post(
        f"/finance/batches/{batch.id}/events",
        data={"csrf_token": token1, "event": "release", "confirm": "yes"},
    )
    assert own.status_code == 403
    assert "Vier ogen: een tweede, andere medewerker financiën geeft vrij." in own.text
    assert f"{batch.msg_id}</h1>" in own.text


def test_cancelling_a_batch_is_confirmed_first(app, client, fin, session, batch):
    token = login(client, fin.f1.email)
    page = client.get(f"/finance/batches/{batch.id}").text
    assert f'action="/finance/batches/{batch.id}/confirm/cancel"' in page
    assert 'value="cancel"' not in page and "De betaalbatch annuleren…" in page

    confirm = client.get(f"/finance/batches/{batch.id}/confirm/cancel")
    assert confirm.status_code == 200
    html = confirm.text
    assert "De betaalbatch annuleren?" in html and batch.msg_id in html
    assert "€\xa0200,00" in html and "wachten op een volgende betaalbatch" in html
    assert "dit kan niet ongedaan worden gemaakt" in html
    assert f'action="/finance/batches/{batch.id}/events"' in html
    assert 'name="event" value="cancel"' in html
    assert (
        f'href="/finance/batches/{batch.id}"' in html and "Nee, terug naar de betaalbatch" in html
    )

    refused = client.post(
        f"/finance/batches/{batch.id}/events", data={"csrf_token": token, "event": "cancel"}
    )
    assert refused.status_code == 422 and marked(refused.text, "reason")
    assert "De betaalbatch annuleren?" in refused.text
    assert "Geef de reden waarom u annuleert." in refused.text
    assert fresh(session, PaymentBatch, batch.id).state == "open"

    done = client.post(
        f"/finance/batches/{batch.id}/events",
        data={"csrf_token": token, "event": "cancel", "reason": "Verkeerde datum"},
    )
    assert done.status_code == 303 and done.headers["Location"] == f"/finance/batches/{batch.id}"
    cancelled = fresh(session, PaymentBatch, batch.id)
    assert cancelled.state == "cancelled" and cancelled.cancel_reason == "Verkeerde datum"
    (event,) = audited(session, fin, "batch_cancel")
    assert event.reason == "Verkeerde datum" and event.actor_id == fin.f1.id
    gone = client.get(f"/finance/batches/{batch.id}/confirm/cancel")
    assert gone.status_code == 303 and gone.headers["Location"] == f"/finance/batches/{batch.id}"
    assert client.get(f"/finance/batches/{batch.id}/confirm/release").status_code == 404

    stranger = app.test_client()
    login(stranger, Finance(session, name="Gemeente Elders").f1.email)
    assert stranger.get(f"/finance/batches/{batch.id}/confirm/cancel").status_code == 404


def test_a_refused_build_keeps_the_date_typed(client, fin, session):
    token = login(client, fin.f1.email)
    none = client.post(
        "/finance/batches", data={"csrf_token": token, "execution_date": "2099-01-02"}
    )
    assert none.status_code == 409
    assert "Er zijn geen goedgekeurde uitbetalingen om te betalen." in none.text
    fin.approve(record(fin, amount="100.00"), fin.f2)
    for typed, message in (
        ("2020-01-01", "De uitvoeringsdatum kan niet in het verleden liggen."),
        ("1-2-2099x", None),
    ):
        refused = client.post(
            "/finance/batches", data={"csrf_token": token, "execution_date": typed}
        )
        assert refused.status_code == 422, typed
        assert marked(refused.text, "execution_date")
        assert f'value="{typed}"' in tag(refused.text, "execution_date")
        if message:
            assert message in refused.text
