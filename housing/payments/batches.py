"""Payment batches (issue 5 §2–3): build, approve and release under dual control, cancel.

Nothing is paid twice: a payout sits in at most one live batch, its EndToEndId is unique,
a released batch's file is frozen (bytes and SHA-256), and a repeated or concurrent
release returns that same batch without a second file or a second set of ids. Every
state change of a batch and of its payouts goes through `housing.workflow`, audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from housing.accounts.models import User
from housing.audit.services import AuditTrail
from housing.claims.models import Claim
from housing.clock import utcnow
from housing.crypto import active_cipher
from housing.db import DbSession
from housing.errors import Conflict, InvalidInput, NotFound
from housing.organisations.models import Organisation
from housing.payments.claims_follow import queue_follow_claims
from housing.payments.models import PaymentBatch, PaymentBatchItem, Payout
from housing.payments.permissions import may_build_batch
from housing.permissions import actor_for, require
from housing.scoping import Scope
from housing.workflow import fire, fire_each
from workflows.payments import BATCH, PAYOUT, BatchState, PaymentContext, PayoutState
from workflows.rules import Actor

if TYPE_CHECKING:
    from housing.payments.pain import PainVersion


# Payouts added to a batch per flush (and per progress report while a batch is built).
BUILD_CHUNK = 500


class BatchService:
    def __init__(self, session: DbSession, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.audit = AuditTrail(session, clock)

    def build(
        self,
        scope: Scope,
        user: User,
        *,
        execution_date: dt.date,
        progress: Callable[[int, int], None] | None = None,
    ) -> PaymentBatch:
        """A new open batch of every approved payout of the organisation."""
        actor = actor_for(self.session, user)
        require(may_build_batch(actor))
        organisation = self.session.get(Organisation, user.organisation_id)
        assert organisation is not None
        rows = self.session.execute(
            scope.select(Payout)
            .add_columns(Claim.number)
            .join(Claim, Payout.claim_id == Claim.id)
            .where(Payout.state == PayoutState.APPROVED)
            .order_by(Payout.id)
            # Two builds at once take disjoint payouts: a payout sits in one batch only.
            .with_for_update(of=Payout, skip_locked=True)
        ).all()
        if not rows:
            raise Conflict(_l("There are no approved payouts to pay."))
        # Ours, unique and at most 35 characters; fixed once the row has its id.
        batch = PaymentBatch(
            organisation_id=organisation.id,
            state=BatchState.OPEN,
            # Placeholders until the row has its id (the columns are unique and not null).
            msg_id=f"tmp-{secrets.token_hex(15)}",
            pmt_inf_id=f"tmp-{secrets.token_hex(15)}",
            pain_version=organisation.pain_version,
            execution_date=execution_date,
            created_by_id=user.id,
        )
        self.session.add(batch)
        self.session.flush()
        batch.msg_id = f"VW{organisation.id:04d}B{batch.id:08d}"
        batch.pmt_inf_id = f"VW{organisation.id:04d}B{batch.id:08d}-1"
        earlier = dict(
            self.session.execute(
                select(PaymentBatchItem.payout_id, func.count())
                .where(PaymentBatchItem.payout_id.in_([p.id for p, _ in rows]))
                .group_by(PaymentBatchItem.payout_id)
            ).all()
        )
        total = Decimal("0.00")
        count = 0
        # In chunks, each flushed: the work (the payouts' transitions, their audit links and
        # the batch's items written) advances with the count the job page shows. Still one
        # transaction: the batch is built whole or not at all.
        for first in range(0, len(rows), BUILD_CHUNK):
            chunk = rows[first : first + BUILD_CHUNK]
            fire_each(
                self.audit,
                PAYOUT,
                [payout for payout, _number in chunk],
                "add_to_batch",
                user=user,
                actor=actor,
                payload=lambda payout: {"batch_id": batch.id},
            )
            items = []
            for payout, number in chunk:
                sent_before = earlier.get(payout.id, 0)
                # The claim number travels with the payment; a payout paid again after a
                # return or a cancelled batch gets a new id: a bank never sees one id twice.
                e2e = f"{number}-P{payout.id}" + (f"-R{sent_before}" if sent_before else "")
                items.append(
                    PaymentBatchItem(
                        batch_id=batch.id,
                        payout_id=payout.id,
                        end_to_end_id=e2e,
                        amount=payout.amount,
                        payee_name=payout.payee_name,
                        payee_iban=payout.payee_iban,
                        payee_bic=payout.payee_bic,
                        remittance=f"Veilig Wonen {number} factuur {payout.invoice_number}"[:140],
                    )
                )
                total += payout.amount
            self.session.add_all(items)
            count += len(items)
            batch.item_count = count
            batch.total = total
            self.session.flush()
            if progress is not None:
                progress(count, len(rows))
        self.audit.append(
            organisation.id,
            event="batch_built",
            actor_id=user.id,
            payload={"batch_id": batch.id, "count": batch.item_count, "total": total},
        )
        return batch

    def approve(self, scope: Scope, user: User, batch_id: int) -> PaymentBatch:
        batch = self._locked(scope, batch_id)

        def stamp() -> None:
            batch.approved_at = self.clock()

        self._fire(batch, "approve", user, effects=stamp)
        return batch

    def cancel(self, scope: Scope, user: User, batch_id: int, *, reason: str) -> PaymentBatch:
        """Only before release: its payouts are approved again, for a later batch."""
        batch = self._locked(scope, batch_id)

        def note_reason() -> None:
            batch.cancel_reason = reason.strip()

        self._fire(batch, "cancel", user, reason=reason, effects=note_reason)
        payouts = [
            scope.get_for_update(self.session, Payout, item.payout_id) for item in batch.items
        ]
        # The system takes them out of the cancelled batch; the link names who cancelled it.
        fire_each(
            self.audit,
            PAYOUT,
            payouts,
            "remove_from_batch",
            user=user,
            actor=Actor.system(),
            payload=lambda payout: {"batch_id": batch.id},
        )
        return batch

    def release(self, scope: Scope, user: User, batch_id: int) -> PaymentBatch:
        """Generate, validate and freeze the pain.001; the payouts are sent.

        Released already (a second click, a retry, a concurrent request that waited for
        the row lock): the same batch is returned, with its one file.
        """
        batch = self._locked(scope, batch_id)
        if batch.state in (BatchState.RELEASED, BatchState.BOOKED):
            return batch
        organisation = self.session.get(Organisation, batch.organisation_id)
        assert organisation is not None
        now = self.clock()
        # The pain.001 writer (sepaxml, lxml and the XSDs) is loaded by the first release,
        # not by every process that builds the app.
        from housing.payments.pain import BatchFile, Debtor, PainError, Transfer, build_pain001

        try:
            pain = build_pain001(
                BatchFile(
                    msg_id=batch.msg_id,
                    pmt_inf_id=batch.pmt_inf_id,
                    created_at=now,
                    execution_date=batch.execution_date,
                    debtor=Debtor(organisation.name, organisation.iban, organisation.bic),
                    transfers=tuple(
                        Transfer(
                            end_to_end_id=item.end_to_end_id,
                            creditor_name=item.payee_name,
                            creditor_iban=item.payee_iban,
                            creditor_bic=item.payee_bic,
                            amount=item.amount,
                            remittance=item.remittance,
                        )
                        for item in batch.items
                    ),
                    version=cast("PainVersion", batch.pain_version),
                )
            )
        except PainError as exc:
            raise InvalidInput(
                _l("The payment file could not be made: %(why)s", why=str(exc))
            ) from None
        # Frozen before the state changes, so the audit event carries the file's hash.
        batch.released_at = now
        batch.file_sha256 = hashlib.sha256(pain).hexdigest()
        batch.file_data = active_cipher().encrypt_bytes(pain)
        self._fire(batch, "release", user)
        payouts = self.session.scalars(
            select(Payout)
            .where(Payout.id.in_([item.payout_id for item in batch.items]))
            .with_for_update()
        ).all()
        # Sent by the release: the system moves them; the link names who released.
        fire_each(
            self.audit,
            PAYOUT,
            payouts,
            "send",
            user=user,
            actor=Actor.system(),
            payload=lambda payout: {"batch_id": batch.id},
        )
        self.session.flush()
        queue_follow_claims(self.session, {p.claim_id for p in payouts}, f"batch:{batch.id}")
        return batch

    def file(self, scope: Scope, batch_id: int, *, user: User | None = None) -> bytes:
        """The frozen pain.001, byte for byte as released (checked against its SHA-256).

        With a user, the download is recorded in the audit trail: the file names every
        payee and their account (the caller commits).
        """
        batch = scope.get(self.session, PaymentBatch, batch_id)
        if batch is None:
            raise NotFound(_l("No such batch."))
        if batch.file_data is None:
            raise Conflict(_l("The payment file exists once the batch is released."))
        data = active_cipher().decrypt_bytes(batch.file_data)
        if hashlib.sha256(data).hexdigest() != batch.file_sha256:
            raise RuntimeError(f"payment file of batch {batch.id} does not match its SHA-256")
        if user is not None:
            self.audit.append(
                batch.organisation_id,
                event="batch_file_downloaded",
                actor_id=user.id,
                payload={"batch_id": batch.id, "sha256": batch.file_sha256},
            )
        return data

    def fire(
        self, scope: Scope, user: User, batch_id: int, event: str, *, reason: str | None = None
    ) -> PaymentBatch:
        """Fire a batch event by `user`, as `WorkflowService.fire` does for claims."""
        if event == "approve":
            return self.approve(scope, user, batch_id)
        if event == "release":
            return self.release(scope, user, batch_id)
        if event == "cancel":
            return self.cancel(scope, user, batch_id, reason=reason or "")
        # Anything else is the workflow's to refuse: an unknown event, or the system's book.
        batch = self._locked(scope, batch_id)
        self._fire(batch, event, user, reason=reason)
        return batch

    def _locked(self, scope: Scope, batch_id: int) -> PaymentBatch:
        return scope.get_for_update(
            self.session, PaymentBatch, batch_id, missing=_l("No such batch.")
        )

    def _fire(
        self,
        batch: PaymentBatch,
        event: str,
        user: User,
        *,
        reason: str | None = None,
        effects: Callable[[], None] | None = None,
    ) -> None:
        fire(
            self.audit,
            BATCH,
            batch,
            event,
            user=user,
            context=PaymentContext(reason=reason),
            reason=reason,
            effects=effects,
            # Frozen before release fires: the release's link carries the file's hash.
            payload={"sha256": batch.file_sha256},
        )
