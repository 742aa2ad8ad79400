"""Closing what is left of a grant (issue 5 §6): nothing more is paid, the rest goes back.

Finance closes, with a reason, what is granted and not yet paid; the part of the grant no
payout stands for goes back to the budget of the year that committed it. A payout given
up later (the bank returned it) gives its money back to that year too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.claims.models import Claim, Decision, DecisionKind
from housing.clock import AMSTERDAM
from housing.db import DbSession
from housing.errors import Conflict
from housing.money import invalid
from housing.organisations.models import Budget
from housing.organisations.services import locked_budget
from housing.payments.claims_follow import follow_claims
from housing.payments.models import (
    LIVE_STATES,
    PAYABLE_CLAIM_STATES,
    UNDECIDED_STATES,
    Payout,
    RemainderClosure,
)
from housing.payments.permissions import may_close_remainder
from housing.permissions import actor_for, require
from housing.scoping import Scope
from workflows.rules import granted_total


class RemainderClosing:
    """The remainder use case of `PayoutService`, which it is mixed into."""

    session: DbSession
    clock: Callable[[], dt.datetime]
    audit: AuditTrail

    def close_remainder(
        self, scope: Scope, user: User, claim_id: int, *, reason: str | None
    ) -> RemainderClosure:
        """Finance closes what is granted and not yet paid, with a reason (issue 5 §6).

        Nothing more is paid on the claim; the part of the grant no payout stands for goes
        back to the budget of the year that committed it; the claim is settled once the
        payouts already sent are booked (at once when none is on its way).
        """
        actor = actor_for(self.session, user)
        require(may_close_remainder(actor))
        claim = scope.get_for_update(self.session, Claim, claim_id, missing=_l("No such claim."))
        require(may_close_remainder(actor, claim))
        if claim.state not in PAYABLE_CLAIM_STATES:
            raise Conflict(_l("Only a granted claim that is not settled has a remainder to close."))
        if self.session.get(RemainderClosure, claim.id) is not None:
            raise Conflict(_l("What was left of this grant is closed already."))
        why = (reason or "").strip()
        if not why:
            raise invalid("reason", _l("Give the reason why the rest is not paid."))
        if len(why) > 2000:
            raise invalid("reason", _l("The reason is at most 2,000 characters."))
        undecided = self.session.scalar(
            select(func.count())
            .select_from(Payout)
            .where(Payout.claim_id == claim.id, Payout.state.in_(UNDECIDED_STATES))
        )
        if undecided:
            raise Conflict(
                lazy_ngettext(
                    "%(num)d payout of this claim is not decided or not sent yet: approve and"
                    " pay, reject or cancel it first.",
                    "%(num)d payouts of this claim are not decided or not sent yet: approve"
                    " and pay, reject or cancel them first.",
                    undecided,
                )
            )
        standing = Decimal(
            self.session.scalar(
                select(func.coalesce(func.sum(Payout.amount), 0)).where(
                    Payout.claim_id == claim.id, Payout.state.in_(LIVE_STATES)
                )
            )
            or 0
        )
        year = self._grant_year(claim.id)
        closure = RemainderClosure(
            claim_id=claim.id,
            organisation_id=claim.organisation_id,
            closed_by_id=user.id,
            closed_at=self.clock(),
            reason=why,
            released=Decimal("0.00"),
            budget_year=year if self._locked_budget(claim.organisation_id, year) else None,
        )
        # What the grant committed, less what payouts stand for; a recurring line committed
        # one period and may have paid many, so what is released is never below nothing,
        # and never more than the budget still holds as committed.
        self._release(closure, granted_total(claim.lines) - standing)
        self.session.add(closure)
        self.session.flush()
        self.audit.append(
            claim.organisation_id,
            event="remainder_closed",
            actor_id=user.id,
            claim_id=claim.id,
            reason=why,
            payload={"released": closure.released, "budget_year": closure.budget_year},
        )
        follow_claims(self.session, [claim.id], clock=self.clock)
        return closure

    def _grant_year(self, claim_id: int) -> int | None:
        """The year (in Amsterdam) whose budget the claim's grant committed."""
        moment = self.session.scalar(
            select(func.min(Decision.decided_at)).where(
                Decision.claim_id == claim_id,
                Decision.kind.in_([DecisionKind.GRANT, DecisionKind.PARTIAL_GRANT]),
            )
        )
        if moment is None:
            return None
        if moment.tzinfo is None:  # SQLite hands back naive datetimes; they are UTC
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(AMSTERDAM).year

    def _locked_budget(self, organisation_id: int, year: int | None) -> Budget | None:
        if year is None:
            return None
        return locked_budget(self.session, organisation_id, year)

    def _release(self, closure: RemainderClosure, amount: Decimal) -> Decimal:
        """Give back to the closure's budget year up to `amount` of what it committed."""
        budget = self._locked_budget(closure.organisation_id, closure.budget_year)
        if budget is None:
            return Decimal("0.00")
        released = min(max(amount, Decimal("0.00")), budget.committed)
        budget.committed -= released
        closure.released += released
        return released
