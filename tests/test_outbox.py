"""The outbox: written with its cause, acted on once, retried, parked dead, swept."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from housing.accounts.models import Channel, Language
from housing.claims.documents import DocumentStore
from housing.claims.letters import TOPIC as LETTER_TOPIC
from housing.claims.letters import deliver_decision_letter
from housing.claims.models import Decision, Document, DocumentKind
from housing.notifications.models import Notification, PrintItem, SentMail
from housing.notifications.services import TOPIC, deliver_notification
from housing.organisations.models import Letterhead
from housing.outbox.models import OutboxMessage, OutboxStatus
from housing.outbox.services import (
    Outbox,
    OutboxConsumer,
    OutboxSweep,
    Outcome,
    backoff,
    outbox_committed,
    retry_dead,
    status_report,
)
from tests.builders.claims import MONDAY, Clock, World
from tests.builders.letters import pdf_text
from tests.smtp import SmtpServer


@pytest.fixture
def clock():
    return Clock(MONDAY)


def message(session, clock, key="k:1", topic="test", org=None):
    message_id = Outbox(session, clock).add(
        key=key, topic=topic, payload={"n": 1}, organisation_id=org
    )
    session.commit()
    return message_id


def test_the_same_key_is_queued_once_and_a_rollback_queues_nothing(session, clock):
    first = Outbox(session, clock).add(key="claim:1", topic="t", payload={})
    again = Outbox(session, clock).add(key="claim:1", topic="t", payload={})
    assert first is not None and again is None
    session.rollback()
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_commit_announces_its_new_messages_to_the_relay(app, session, clock):
    heard: list[tuple[int, ...]] = []

    def listener(sender, ids=(), **_):
        heard.append(ids)

    outbox_committed.connect(listener, sender=app)
    try:
        with app.app_context():
            one = Outbox(session, clock).add(key="a", topic="t", payload={})
            two = Outbox(session, clock).add(key="b", topic="t", payload={})
            session.commit()
            Outbox(session, clock).add(key="c", topic="t", payload={})
            session.rollback()  # rolled back: never announced
            session.commit()
    finally:
        outbox_committed.disconnect(listener, sender=app)
    assert heard == [(one, two)]


def test_a_message_is_acted_on_once_however_often_it_arrives(session, clock):
    calls: list[int] = []
    message_id = message(session, clock)
    consumer = OutboxConsumer(session, {"test": lambda s, m: calls.append(m.id)}, clock)
    assert consumer.deliver(message_id) is Outcome.DONE
    assert consumer.deliver(message_id) is Outcome.ALREADY_DONE
    assert consumer.deliver(999_999) is Outcome.MISSING
    assert calls == [message_id]
    stored = session.get(OutboxMessage, message_id)
    assert stored.status is OutboxStatus.DONE and stored.attempts == 1 and stored.done_at


def test_a_leased_message_is_left_to_its_holder_until_the_lease_ends(session, clock):
    message_id = message(session, clock)
    stored = session.get(OutboxMessage, message_id)
    stored.leased_until = clock() + dt.timedelta(minutes=5)
    session.commit()
    calls: list[int] = []
    consumer = OutboxConsumer(session, {"test": lambda s, m: calls.append(1)}, clock)
    assert consumer.deliver(message_id) is Outcome.BUSY
    clock.now += dt.timedelta(minutes=6)  # the holder died: its lease ran out
    assert consumer.deliver(message_id) is Outcome.DONE and calls == [1]


def test_failures_back_off_then_park_the_message_as_dead_and_a_person_retries(session, clock):
    world = World(session)
    message_id = message(session, clock, org=world.org.id)

    def broken(session, message):
        raise ConnectionRefusedError("relay down")

    consumer = OutboxConsumer(session, {"test": broken}, clock, max_attempts=3)
    assert consumer.deliver(message_id) is Outcome.FAILED
    stored = session.get(OutboxMessage, message_id)
    assert stored.last_error == "ConnectionRefusedError: relay down"
    assert stored.next_attempt_at == clock() + dt.timedelta(seconds=30)
    assert stored.leased_until is None and stored.status is OutboxStatus.PENDING
    assert consumer.deliver(message_id) is Outcome.NOT_DUE  # an early redelivery waits
    clock.now += dt.timedelta(seconds=30)
    assert consumer.deliver(message_id) is Outcome.FAILED
    clock.now += backoff(2)
    assert consumer.deliver(message_id) is Outcome.DEAD
    assert session.get(OutboxMessage, message_id).status is OutboxStatus.DEAD
    assert consumer.deliver(message_id) is Outcome.DEAD
    report = status_report(session, organisation_id=world.org.id)
    assert report.counts["dead"] == 1 and [m.id for m in report.dead] == [message_id]

    assert not retry_dead(session, message_id, organisation_id=world.org.id + 1)  # not theirs
    assert retry_dead(session, message_id, organisation_id=world.org.id)
    session.commit()
    stored = session.get(OutboxMessage, message_id)
    assert stored.status is OutboxStatus.PENDING and stored.attempts == 0


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(30) == dt.timedelta(hours=1)


def test_the_sweep_hands_over_what_the_relay_missed_and_nothing_in_flight(session, clock):
    fresh = message(session, clock, key="fresh")
    clock.now += dt.timedelta(seconds=5)
    young = message(session, clock, key="young")  # the relay may still be on it
    clock.now += dt.timedelta(seconds=6)
    leased = message(session, clock, key="leased")
    session.get(OutboxMessage, leased).leased_until = clock() + dt.timedelta(minutes=1)
    session.commit()
    clock.now += dt.timedelta(seconds=10)
    published: list[int] = []
    assert OutboxSweep(session, clock).dispatch_due(published.append) == 2
    assert published == [fresh, young]
    # Handed over a moment ago: not again, until it looks lost.
    assert OutboxSweep(session, clock).dispatch_due(published.append) == 0
    clock.now += dt.timedelta(minutes=3)
    assert OutboxSweep(session, clock).dispatch_due(published.append) == 3
    assert published[2:] == [fresh, young, leased]


def test_a_broker_failing_half_way_keeps_what_was_handed_over(session, clock):
    ids = [message(session, clock, key=f"m{n}") for n in range(3)]
    clock.now += dt.timedelta(minutes=1)
    sent: list[int] = []

    def publish(message_id):
        if len(sent) == 1:
            raise ConnectionError("broker gone")
        sent.append(message_id)

    with pytest.raises(ConnectionError):
        OutboxSweep(session, clock).dispatch_due(publish)
    handed = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.dispatched_at.is_not(None))
    ).all()
    assert handed == [ids[0]]


# --- notifications, through a real SMTP server -------------------------------------------


@pytest.fixture
def smtp(app, monkeypatch):
    with SmtpServer() as server:
        monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
        yield server


def deliver_all(app, session):
    with app.app_context():
        consumer = OutboxConsumer(session, {TOPIC: deliver_notification})
        ids = session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)
        ).all()
        return [consumer.deliver(message_id) for message_id in ids]


def test_a_submitted_claim_is_acknowledged_by_mail_without_its_details(app, session, smtp):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert deliver_all(app, session) == [Outcome.DONE]
    (mail,) = smtp.handler.wait_for(1)
    assert mail["To"] == world.applicant.email and mail["Subject"] == "Nieuws over uw aanvraag"
    body = mail.get_content()
    assert "Wij hebben uw aanvraag ontvangen op 2 maart 2026." in body
    assert f"/claims/{claim.id}" in body
    # Never the address, the measures or the amounts.
    for secret in (world.home.street, world.home.postcode, "cameras", "1200", "1.200"):
        assert secret not in body
    notice = session.scalars(select(Notification)).one()
    assert notice.user_id == world.applicant.id and notice.on_date == dt.date(2026, 3, 2)
    assert session.scalar(select(func.count()).select_from(SentMail)) == 1
    # Delivered again (a redelivery by the broker): nothing more is sent or shown.
    with app.app_context():
        consumer = OutboxConsumer(session, {TOPIC: deliver_notification})
        assert consumer.deliver(notice.outbox_message_id) is Outcome.ALREADY_DONE
    assert len(smtp.handler.wait_for(2, timeout=0.5)) == 1
    assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_news_reaches_each_in_their_language(app, session, smtp):
    world = World(session)
    world.applicant.language = Language.EN
    session.commit()
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.fire(world.assessor, claim, "start_assessment")
    world.fire(world.assessor, claim, "request_info", details={"question": "Offerte?"})
    assert deliver_all(app, session) == [Outcome.DONE, Outcome.DONE]
    received, requested = smtp.handler.wait_for(2)
    assert received["Subject"] == "News on your claim"
    assert "Please reply by 16 March 2026." in requested.get_content()  # British English
    assert "Offerte" not in requested.get_content()  # the question itself stays online


def test_someone_who_chose_post_gets_a_letter_in_the_print_queue_not_a_mail(
    app, session, smtp, document_root
):
    world = World(session)
    world.applicant.channel_preference = Channel.POST
    world.org.letterhead = Letterhead(address_line="Postbus 15", postcode="1234 AB", city="Proef")
    session.commit()
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert deliver_all(app, session) == [Outcome.DONE]
    assert smtp.handler.wait_for(1, timeout=0.5) == []
    item = session.scalars(select(PrintItem)).one()
    document = session.get(Document, item.document_id)
    assert document.kind is DocumentKind.NOTICE_LETTER
    assert document.confidentiality.value == "secret"
    from tests.builders.letters import pdf_text, text_positions

    # Stored where the app's settings say, and read back from there.
    assert [path.name for path in document_root.rglob("*") if path.is_file()] == [
        document.storage_key
    ]
    text = pdf_text(DocumentStore.from_config(app.config).read(document))
    assert world.home.street in text and "Wij hebben uw aanvraag ontvangen" in text
    assert "niet hebt gekozen voor elektronische berichten" in text
    # The letterhead, and the address where the envelope's window shows it (20 mm from the
    # left, 50 mm from the top, 90 x 45 mm; a text's position is its baseline).
    assert "Retouradres Postbus 15, 1234 AB Proef" in text
    where = text_positions(DocumentStore.from_config(app.config).read(document))
    # The first piece of text that starts with the addressee's name: the window's.
    name = next(piece for piece in where if piece.startswith(world.applicant.full_name[:6]))
    x, y = where[name]
    assert 20 <= x <= 30 and 55 <= y <= 95, (x, y)


def test_a_deactivated_account_gets_the_notice_in_the_app_but_no_mail(app, session, smtp):
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    world.applicant.active = False
    session.commit()
    assert deliver_all(app, session) == [Outcome.DONE]
    assert smtp.handler.wait_for(1, timeout=0.5) == []
    assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_relay_that_refuses_leaves_the_message_pending_for_a_retry(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", 1)  # nothing listens there
    world = World(session)
    claim = world.draft()
    world.fire(world.applicant, claim, "submit")
    assert deliver_all(app, session) == [Outcome.FAILED]
    stored = session.scalars(select(OutboxMessage)).one()
    assert stored.status is OutboxStatus.PENDING and "ConnectionRefused" in stored.last_error
    # The in-app notice was rolled back with the failed attempt: it will be shown once.
    assert session.scalar(select(func.count()).select_from(Notification)) == 0


def deliver_in_order(app, session, clock, topics):
    """Deliver the pending messages of each topic in turn, as workers might; the outcomes."""
    handlers = {TOPIC: deliver_notification, LETTER_TOPIC: deliver_decision_letter}
    outcomes = []
    with app.app_context():
        consumer = OutboxConsumer(session, handlers, clock=clock)
        for topic in topics:
            ids = session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.topic == topic)
                .order_by(OutboxMessage.id)
            ).all()
            outcomes += [consumer.deliver(message_id) for message_id in ids]
    return outcomes


def granted_by_post(app, session, channel):
    """A claim granted to an office holder who chose `channel`; the news before it delivered."""
    world = World(session)
    world.applicant.channel_preference = channel
    world.org.letterhead = Letterhead(address_line="Postbus 15", postcode="1234 AB", city="Proef")
    session.commit()
    claim = world.proposed()
    deliver_in_order(app, session, world.clock, [TOPIC])
    session.query(PrintItem).delete()
    session.commit()
    world.fire(world.decider, claim, "grant", reason="Conform advies")
    return world, claim


@pytest.mark.parametrize("letter_first", [True, False], ids=["letter-first", "notice-first"])
def test_a_postal_office_holder_finds_the_decision_letter_itself_in_the_print_queue(
    app, session, smtp, document_root, letter_first
):
    world, claim = granted_by_post(app, session, Channel.POST)
    if letter_first:
        assert deliver_in_order(app, session, world.clock, [LETTER_TOPIC, TOPIC]) == [
            Outcome.DONE,
            Outcome.DONE,
        ]
    else:
        # The news comes before its letter is laid out: it waits for it, and nothing is
        # queued meanwhile (no notice saying "read it online" on paper).
        assert deliver_in_order(app, session, world.clock, [TOPIC]) == [Outcome.FAILED]
        pending = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .order_by(OutboxMessage.id)
        ).all()
        assert [message.topic for message in pending] == [LETTER_TOPIC, TOPIC]
        assert "LetterNotWritten" in pending[1].last_error
        assert session.scalar(select(func.count()).select_from(PrintItem)) == 0
        assert deliver_in_order(app, session, world.clock, [LETTER_TOPIC]) == [Outcome.DONE]
        world.clock.advance(1)  # past the backoff
        assert deliver_in_order(app, session, world.clock, [TOPIC]) == [Outcome.DONE]
    decision = session.scalars(select(Decision).where(Decision.claim_id == claim.id)).one()
    item = session.scalars(select(PrintItem)).one()
    assert item.kind.value == "decision_taken" and item.claim_id == claim.id
    assert item.document_id == decision.letter_document_id is not None
    letter = session.get(Document, item.document_id)
    assert letter.kind is DocumentKind.DECISION_LETTER
    # The letter with the address in the window, not a notice pointing to the app.
    text = pdf_text(DocumentStore.from_config(app.config).read(letter))
    assert world.home.street in text and "Besluit op uw aanvraag" in text
    assert (
        session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.kind == DocumentKind.NOTICE_LETTER, Document.claim_id == claim.id)
        )
        == 1
    )  # the acknowledgement of receipt's, from before the decision
    assert smtp.handler.wait_for(1, timeout=0.5) == []
    assert session.scalar(select(func.count()).select_from(Notification)) == 2


def test_an_office_holder_on_e_mail_gets_no_print_item_for_a_decision(
    app, session, smtp, document_root
):
    world, _ = granted_by_post(app, session, Channel.ELECTRONIC)
    assert deliver_in_order(app, session, world.clock, [TOPIC, LETTER_TOPIC]) == [
        Outcome.DONE,
        Outcome.DONE,
    ]
    assert session.scalar(select(func.count()).select_from(PrintItem)) == 0
    mails = smtp.handler.wait_for(2, timeout=2)
    assert [mail["To"] for mail in mails] == [world.applicant.email] * 2
    assert "Er is een besluit genomen" in mails[-1].get_content()
