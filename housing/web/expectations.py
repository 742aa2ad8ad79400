"""What the applicant is to do now on a claim, and by when: the one place that says it.

The claim page and the wizard show the sentence ("What is expected of you now"); the
applicant's start page lists it for each claim, with the last day when there is one. It
is derived from the claim's state and the terms the law counts (housing.claims.terms),
never kept apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import format_date
from flask_babel import gettext as _

from housing.claims.models import Claim
from housing.claims.terms import objection_deadline, open_information_request
from housing.db import DbSession
from workflows.claim import ClaimState
from workflows.rules import Regime

CLOSED = (
    ClaimState.SETTLED,
    ClaimState.WITHDRAWN,
    ClaimState.ARCHIVED,
    ClaimState.NOT_CONSIDERED,
)


@dataclass(frozen=True)
class Expectation:
    """One sentence for the applicant; `due` is their last day, `to_do` whether it is
    theirs to act (else the organisation is at work, or nothing is left)."""

    text: str
    due: dt.date | None = None
    to_do: bool = False


def expected_of_applicant(session: DbSession, claim: Claim, today: dt.date) -> Expectation:
    """What the applicant is to do now on `claim`, or that nothing is needed."""
    state = ClaimState(claim.state)
    if state is ClaimState.DRAFT:
        return Expectation(
            _("Add the measures you request and your quotes, then submit the claim."),
            to_do=True,
        )
    if state is ClaimState.AWAITING_INFO:
        request_ = open_information_request(session, claim)
        if request_ is not None:
            due = request_.requested_on + dt.timedelta(days=request_.term_days)
            return Expectation(
                _(
                    "Send the information asked for by %(day)s: %(question)s",
                    day=format_date(due),
                    question=request_.question,
                ),
                due=due,
                to_do=True,
            )
    if state in (ClaimState.GRANTED, ClaimState.IN_PAYMENT):
        if claim.regime is Regime.A:
            return Expectation(
                _(
                    "Have the granted measures installed and send in the paid invoices on"
                    " the claim page; we repay what was granted."
                ),
                to_do=True,
            )
        return Expectation(
            _("Nothing for now: the measures are granted; we pay the supplier's invoices.")
        )
    if state is ClaimState.REFUSED:
        last_day = objection_deadline(session, claim)
        if last_day is not None and last_day >= today:
            return Expectation(
                _(
                    "If you disagree, you may lodge an objection until %(day)s.",
                    day=format_date(last_day),
                ),
                due=last_day,
            )
        return Expectation(_("The claim was refused."))
    if state in CLOSED:
        return Expectation(_("Nothing: this claim is closed."))
    deadline = format_date(claim.decision_deadline) if claim.decision_deadline else ""
    return Expectation(
        _("Nothing for now: we are handling your claim and decide by %(day)s.", day=deadline)
    )
