"""News about a claim, asked for in the claim's own transaction and delivered elsewhere.

The claims area says what happened and who should hear of it: one outbox message (topic
"notification") per recipient, written by `Notifier.notify` in the caller's unit of work.
housing.notifications, above the claims area, registers the handler that delivers it (the
in-app notice, then the e-mail or the letter). Asking through the outbox keeps the arrow
one way: the claims area never imports the notifications area.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable

from sqlalchemy import select

from housing.accounts.models import User, UserRole
from housing.claims.models import Claim
from housing.clock import utcnow
from housing.db import DbSession
from housing.outbox.services import Outbox
from housing.permissions import user_acts_for_office_holder
from housing.roles import Role

TOPIC = "notification"


class NotificationKind(enum.StrEnum):
    """What the news is; the notifications area puts it into words."""

    CLAIM_RECEIVED = "claim_received"  # the acknowledgement of receipt (art. 4:3a Awb)
    INFORMATION_REQUESTED = "information_requested"
    DECISION_TAKEN = "decision_taken"
    PAYOUT_SENT = "payout_sent"
    PAYOUT_RETURNED = "payout_returned"
    DEADLINE_WARNING = "deadline_warning"
    CLAIM_OVERDUE = "claim_overdue"
    OBJECTION_LODGED = "objection_lodged"
    LATE_OBJECTION_LODGED = "late_objection_lodged"  # after the term: the decider judges it
    # For administrators: unusually many failed sign-ins on their organisation's accounts.
    SIGN_IN_FAILURE_SPIKE = "sign_in_failure_spike"


class Notifier:
    """Write side: one outbox message per recipient, in the caller's transaction."""

    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.outbox = Outbox(session, clock)

    def notify(
        self,
        kind: NotificationKind,
        *,
        recipients: Iterable[User],
        organisation_id: int,
        event_key: str,
        claim: Claim | None = None,
        on_date: dt.date | None = None,
        decision_id: int | None = None,
    ) -> list[int]:
        """Queue the news; the same (kind, event, recipient) again is a no-op.

        `decision_id`: the decision the news is about, whose letter goes into the print
        queue for a recipient on paper (housing.notifications).
        """
        queued = []
        payload: dict[str, object] = {
            "kind": kind.value,
            "claim_id": claim.id if claim is not None else None,
            "on_date": on_date.isoformat() if on_date else None,
        }
        if decision_id is not None:
            payload["decision_id"] = decision_id
        for user in {user.id: user for user in recipients}.values():
            message_id = self.outbox.add(
                key=f"notify:{kind.value}:{event_key}:{user.id}",
                topic=TOPIC,
                payload=payload | {"user_id": user.id},
                organisation_id=organisation_id,
            )
            if message_id is not None:
                queued.append(message_id)
        return queued


def applicant_of(session: DbSession, claim: Claim) -> list[User]:
    """Who hears about a claim: the office holder's own account, else whoever filed it."""
    if claim.office_holder.user is not None:
        return [claim.office_holder.user]
    filer = session.get(User, claim.filed_by_id)
    return [filer] if filer is not None else []


def staff_of(session: DbSession, claim: Claim, role: Role) -> list[User]:
    """The organisation's active users with `role`, never the claim's office holder:
    nobody handles their own claim."""
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.organisation_id == claim.organisation_id,
                User.active.is_(True),
                UserRole.role == role,
                ~user_acts_for_office_holder(User.id, claim.office_holder_id),
            )
            .order_by(User.id)
        )
    )
