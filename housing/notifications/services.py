"""Tell people there is news: in the app always, and by e-mail or a printed letter.

Domain services call `Notifier.notify` (housing/claims/notices.py) inside their unit of
work: it writes one outbox message per recipient. The outbox consumer later calls
`deliver_notification`, registered here for that topic, once per message. Nothing sent
ever holds the address, the measures or amounts (DOMAIN.md §6): it says that there is
news, of which kind, the one date that matters, and a link.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from housing.accounts.models import Channel, User
from housing.claims.documents import DocumentStore
from housing.claims.letters import archival_pdf
from housing.claims.models import Claim, Confidentiality, Decision, DocumentKind
from housing.claims.notices import TOPIC, NotificationKind
from housing.clock import today, utcnow
from housing.db import DbSession
from housing.i18n import locale_of
from housing.notifications.mail import send_mail
from housing.notifications.models import Notification, PrintItem, SentMail
from housing.organisations.letterhead import logo_data_uri
from housing.outbox.handlers import outbox_handler
from housing.outbox.models import OutboxMessage
from housing.roles import Role

# News for the applicant; the rest is for staff (who always work electronically).
APPLICANT_KINDS = frozenset(
    {
        NotificationKind.CLAIM_RECEIVED,
        NotificationKind.INFORMATION_REQUESTED,
        NotificationKind.DECISION_TAKEN,
        NotificationKind.PAYOUT_SENT,
        NotificationKind.PAYOUT_RETURNED,
    }
)


class LetterNotWritten(RuntimeError):
    """The decision's letter is not laid out yet: the outbox tries the message again later
    (a failed delivery is due again after its backoff)."""


def _sentences(kind: NotificationKind, claim: Claim | None, on_date: dt.date | None) -> list[str]:
    """The news in a few words, in the locale in force; dates only, never amounts."""
    from flask_babel import format_date

    day = format_date(on_date, "long") if on_date else ""
    number = claim.number if claim is not None else ""
    if kind is NotificationKind.CLAIM_RECEIVED:
        return [
            _("We received your claim on %(day)s.", day=day),
            _("This is the acknowledgement of receipt. We will let you know when there is news."),
        ]
    if kind is NotificationKind.INFORMATION_REQUESTED:
        return [
            _("We need more information to handle your claim. Please reply by %(day)s.", day=day)
        ]
    if kind is NotificationKind.DECISION_TAKEN:
        return [_("A decision on your claim has been taken. You can read the letter online.")]
    if kind is NotificationKind.PAYOUT_SENT:
        return [_("A payment for your claim has been sent.")]
    if kind is NotificationKind.PAYOUT_RETURNED:
        return [
            _("A payment for your claim came back from the bank. Please check your bank details.")
        ]
    if kind is NotificationKind.DEADLINE_WARNING:
        return [
            _(
                "The decision deadline of claim %(number)s is near: decide by %(day)s.",
                number=number,
                day=day,
            )
        ]
    if kind is NotificationKind.OBJECTION_LODGED:
        return [_("An objection against a decision on claim %(number)s was lodged.", number=number)]
    if kind is NotificationKind.LATE_OBJECTION_LODGED:
        return [
            _(
                "A late objection against a decision on claim %(number)s was lodged: judge"
                " whether the lateness is excusable.",
                number=number,
            )
        ]
    if kind is NotificationKind.SIGN_IN_FAILURE_SPIKE:
        return [
            _(
                "On %(day)s unusually many sign-ins on accounts of your organisation failed:"
                " someone may be guessing passwords. No account has been locked; the"
                " attempts are slowed down.",
                day=day,
            ),
            _(
                "Tell your security officer, and ask your colleagues to report sign-in"
                " trouble and to keep their passwords to themselves."
            ),
        ]
    return [
        _("The decision deadline of claim %(number)s has passed (%(day)s).", number=number, day=day)
    ]


def _subject(kind: NotificationKind) -> str:
    if kind in APPLICANT_KINDS:
        return _("News on your claim")
    if kind is NotificationKind.SIGN_IN_FAILURE_SPIKE:
        return _("Many failed sign-ins")
    return _("A claim needs your attention")


def _link(claim: Claim | None, kind: NotificationKind) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/claims/{claim.id}" if claim is not None else f"{base}/notifications"


def _message_id(message: OutboxMessage) -> str:
    digest = hashlib.sha256(message.key.encode()).hexdigest()[:32]
    return f"<{digest}@veilig-wonen>"


@outbox_handler(TOPIC)
def deliver_notification(session: DbSession, message: OutboxMessage) -> None:
    """The outbox handler: the in-app notice, then the e-mail or the letter, once."""
    payload = message.payload
    kind = NotificationKind(payload["kind"])
    user = session.get(User, payload["user_id"])
    claim = session.get(Claim, payload["claim_id"]) if payload.get("claim_id") else None
    if user is None or message.organisation_id is None:
        return  # nobody to tell (the account is gone): done, nothing to send
    on_date = dt.date.fromisoformat(payload["on_date"]) if payload.get("on_date") else None
    session.add(
        Notification(
            organisation_id=message.organisation_id,
            user_id=user.id,
            claim_id=claim.id if claim else None,
            kind=kind,
            on_date=on_date,
            outbox_message_id=message.id,
        )
    )
    session.flush()
    if not user.active:
        return  # a deactivated account gets no mail; the notice waits in the app
    with force_locale(locale_of(user.language.value)):
        sentences = _sentences(kind, claim, on_date)
        subject = _subject(kind)
        by_post = (
            kind in APPLICANT_KINDS
            and user.channel_preference is Channel.POST
            and claim is not None
        )
        if by_post:
            assert claim is not None
            _queue_letter(session, message, user, claim, kind, subject, sentences)
            return
        body = "\n\n".join(
            [
                _("Dear %(name)s,", name=user.full_name),
                "\n".join(sentences),
                _("See it here (you will be asked to log in):") + "\n" + _link(claim, kind),
                _("For your safety this e-mail holds no details of your claim. Do not forward it."),
                "Veilig Wonen",
            ]
        )
    send_mail(to=user.email, subject=subject, body=body, message_id=_message_id(message))
    session.add(
        SentMail(
            outbox_message_id=message.id, message_id_header=_message_id(message), sent_at=utcnow()
        )
    )


def _queue_letter(
    session: DbSession,
    message: OutboxMessage,
    user: User,
    claim: Claim,
    kind: NotificationKind,
    subject: str,
    sentences: list[str],
) -> None:
    """The news as a letter for the print queue; the address block needs the home.

    News of a decision is its decision letter itself: that is what the recipient must read,
    and no link to it helps on paper. The letter is laid out by its own outbox message,
    which may come after this one: until it is, this message is tried again later.
    """
    decision_id = message.payload.get("decision_id")
    if decision_id is not None:
        decision = session.get(Decision, decision_id)
        if decision is not None:
            if decision.letter_document_id is None:
                raise LetterNotWritten(f"decision {decision.id} has no letter yet")
            _queue(session, message, user, claim, kind, decision.letter_document_id)
            return
    html = render_template(
        "letters/notice.html",
        user=user,
        claim=claim,
        home=claim.home,
        organisation=claim.office_holder.organisation,
        logo=logo_data_uri(claim.office_holder.organisation.letterhead),
        subject=subject,
        sentences=sentences,
        link=_link(claim, kind),
        today=today(),
    )
    document = DocumentStore.from_config(current_app.config).add(
        session,
        claim,
        kind=DocumentKind.NOTICE_LETTER,
        filename=f"brief-{claim.number}-{message.id}.pdf",
        data=archival_pdf(html),
        uploaded_by_id=None,
        # It carries the address: only case handlers and the addressee read it.
        confidentiality=Confidentiality.SECRET,
    )
    _queue(session, message, user, claim, kind, document.id)


def _queue(
    session: DbSession,
    message: OutboxMessage,
    user: User,
    claim: Claim,
    kind: NotificationKind,
    document_id: int,
) -> None:
    session.add(
        PrintItem(
            organisation_id=claim.organisation_id,
            claim_id=claim.id,
            recipient_id=user.id,
            kind=kind,
            document_id=document_id,
            outbox_message_id=message.id,
        )
    )


PRINT_QUEUE_ROLES = frozenset({Role.ASSESSOR, Role.DECIDER})
