"""A claim once decided: when, and until when an objection can be lodged.

One computation for the API's `deadline` and the claim page: after the decision the
decision term has ended, and the objection term (art. 6:7/6:8 Awb) of the latest
objectable decision runs instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from housing.claims.models import Claim, Decision
from housing.claims.states import APPLICATION_DECISION_KINDS, OBJECTABLE_KINDS
from housing.db import DbSession
from housing.deadlines.services import awb_terms
from workflows import awb
from workflows.atw import AtwCalendar
from workflows.awb import AwbTerms


@dataclass(frozen=True)
class Decided:
    decided_on: dt.date
    # None while no objectable decision has been sent.
    objection_deadline: dt.date | None
    # The latest decision sent that an objection can be lodged against (its letter),
    # else the decision on the application.
    latest: Decision


def decisions_of(session: DbSession, claims: Iterable[Claim]) -> dict[int, list[Decision]]:
    """The decisions of these claims, oldest first, in one query."""
    found: dict[int, list[Decision]] = {claim.id: [] for claim in claims}
    rows = session.scalars(
        select(Decision).where(Decision.claim_id.in_(found)).order_by(Decision.id)
    )
    for decision in rows:
        found[decision.claim_id].append(decision)
    return found


def decided(
    claim: Claim,
    decisions: Sequence[Decision],
    calendar: Callable[[], AtwCalendar],
    terms: Callable[[], AwbTerms] | None = None,
) -> Decided | None:
    """The claim's decision once sent, with the objection deadline; None before it.
    `calendar` and `terms` (else the terms of the claim's office holder's organisation) are
    asked only when there is a deadline to compute."""
    on_application = [d for d in decisions if d.kind in APPLICATION_DECISION_KINDS]
    if not on_application or on_application[0].sent_on is None:
        return None
    objectable = [d for d in decisions if d.kind in OBJECTABLE_KINDS and d.sent_on]
    latest = objectable[-1] if objectable else on_application[0]
    return Decided(
        decided_on=on_application[0].sent_on,
        objection_deadline=awb.objection_deadline(
            latest.sent_on,
            calendar=calendar(),
            terms=terms() if terms is not None else awb_terms(claim.office_holder.organisation),
        )
        if objectable and latest.sent_on
        else None,
        latest=latest,
    )
