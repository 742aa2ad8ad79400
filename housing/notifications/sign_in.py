"""Watching failed sign-ins: each wrong password for an account is recorded, and a spike of
them on one organisation's accounts tells its administrators once (BIO2 asks that spikes of
failed logins be detected). Services flush, never commit.

A spike begins when the organisation's failures within the window reach the threshold; it
lasts while the threshold is reached again within a window of the last time it was. Its
administrators hear when it begins (one outbox message each, keyed by the spike, so even a
second writer adds nothing), and it is written in the organisation's audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from housing.accounts.models import SignInFailure, SignInSpike, User, UserRole
from housing.audit.services import AuditTrail
from housing.claims.notices import NotificationKind, Notifier
from housing.clock import Clock, local_date, utcnow
from housing.db import DbSession
from housing.roles import Role


class SignInWatch:
    def __init__(
        self,
        session: DbSession,
        clock: Clock = utcnow,
        *,
        threshold: int = 20,
        window: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self.session = session
        self.clock = clock
        self.threshold = threshold
        self.window = window

    @classmethod
    def from_config(
        cls, session: DbSession, config: Mapping[str, Any], clock: Clock = utcnow
    ) -> SignInWatch:
        """With the app's SIGN_IN_SPIKE_FAILURES and SIGN_IN_SPIKE_MINUTES."""
        return cls(
            session,
            clock,
            threshold=config["SIGN_IN_SPIKE_FAILURES"],
            window=dt.timedelta(minutes=config["SIGN_IN_SPIKE_MINUTES"]),
        )

    def wrong_password(self, account: User, address: str) -> bool:
        """Record a wrong password for `account` from `address`; True when it began a spike
        (and the organisation's administrators are told)."""
        now = self.clock()
        organisation_id = account.organisation_id
        self.session.add(
            SignInFailure(
                user_id=account.id,
                organisation_id=organisation_id,
                address=address[:45],
                at=now,
            )
        )
        self.session.flush()
        failures = self.session.scalar(
            select(func.count())
            .select_from(SignInFailure)
            .where(
                SignInFailure.organisation_id == organisation_id,
                SignInFailure.at > now - self.window,
            )
        )
        if (failures or 0) < self.threshold:
            return False
        if not self._spike_begins(organisation_id, now):
            return False
        self._tell(organisation_id, now, failures or 0)
        return True

    def _spike_begins(self, organisation_id: int, now: dt.datetime) -> bool:
        """Whether the organisation was not in a spike; it is now, either way."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # The first spike ever makes the row; a parallel failure that also reached the
        # threshold waits for that insert, does nothing, and finds the spike going on.
        created = self.session.execute(
            insert(SignInSpike)
            .values(organisation_id=organisation_id, started_at=now, seen_at=now)
            .on_conflict_do_nothing(index_elements=[SignInSpike.organisation_id])
            .returning(SignInSpike.organisation_id)
        ).first()
        if created is not None:
            return True
        spike = self.session.get(
            SignInSpike, organisation_id, with_for_update=True, populate_existing=True
        )
        assert spike is not None  # the row exists: the insert found it
        going_on = spike.seen_at > now - self.window
        spike.seen_at = now
        if not going_on:
            spike.started_at = now
        self.session.flush()
        return not going_on

    def _tell(self, organisation_id: int, started_at: dt.datetime, failures: int) -> None:
        administrators = self.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.organisation_id == organisation_id,
                User.active.is_(True),
                UserRole.role == Role.ADMIN,
            )
            .order_by(User.id)
        ).all()
        Notifier(self.session, self.clock).notify(
            NotificationKind.SIGN_IN_FAILURE_SPIKE,
            recipients=administrators,
            organisation_id=organisation_id,
            event_key=f"{organisation_id}:{started_at.isoformat()}",
            on_date=local_date(started_at),
        )
        AuditTrail(self.session, clock=self.clock).append(
            organisation_id,
            event="sign_in_failure_spike",
            actor_id=None,
            payload={
                "failures": failures,
                "minutes": int(self.window.total_seconds() // 60),
                "administrators_told": len(administrators),
            },
        )
