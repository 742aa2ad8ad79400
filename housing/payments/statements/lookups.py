"""The statement import's lookups: our batch items, batches and payouts a chunk names.

Each takes a whole chunk's ids at once (in slices of `IN_LIMIT`), so a chunk costs the
same few queries whatever its size. Rows that may change are locked until the commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from housing.db import DbSession
from housing.payments.models import PaymentBatch, PaymentBatchItem, Payout
from workflows.payments import BatchState, PayoutState

# Ids per IN (...) list: a batch entry may carry thousands of EndToEndIds on its own.
IN_LIMIT = 1000
# Batches whose payouts have left: their items may appear on a statement.
SENT_BATCHES = (BatchState.RELEASED, BatchState.BOOKED)


@dataclass
class Hit:
    """A batch item of ours, with its batch and payout, as one lookup found them."""

    item: PaymentBatchItem
    batch: PaymentBatch
    payout: Payout


def slices(values: Sequence[Any], size: int = IN_LIMIT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def items_by_end_to_end(session: DbSession, organisation_id: int, ids: set[str]) -> dict[str, Hit]:
    """Our batch items by EndToEndId, each with its batch and payout, locked."""
    hits: dict[str, Hit] = {}
    for part in slices(sorted(ids)):
        rows = session.execute(
            select(PaymentBatchItem, PaymentBatch, Payout)
            .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
            .join(Payout, Payout.id == PaymentBatchItem.payout_id)
            .where(
                PaymentBatchItem.end_to_end_id.in_(part),
                # Another organisation's id is an unknown id here.
                PaymentBatch.organisation_id == organisation_id,
            )
            # Locked until commit: finance cannot correct a payout while it is booked.
            .with_for_update(of=[PaymentBatchItem, Payout])
            .execution_options(populate_existing=True)
        )
        for item, batch, payout in rows:
            hits[item.end_to_end_id] = Hit(item, batch, payout)
    return hits


def batches_by_pmt_inf(
    session: DbSession, organisation_id: int, ids: set[str]
) -> dict[str, tuple[PaymentBatch, list[Hit]]]:
    """Our batches by PmtInfId, each with its items and payouts, locked."""
    if not ids:
        return {}
    found: dict[int, tuple[PaymentBatch, list[Hit]]] = {}
    for part in slices(sorted(ids)):
        for batch in session.scalars(
            select(PaymentBatch)
            .where(
                PaymentBatch.organisation_id == organisation_id,
                PaymentBatch.pmt_inf_id.in_(part),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        ):
            found[batch.id] = (batch, [])
    for part in slices(sorted(found)):
        rows = session.execute(
            select(PaymentBatchItem, Payout)
            .join(Payout, Payout.id == PaymentBatchItem.payout_id)
            .where(PaymentBatchItem.batch_id.in_(part))
            .order_by(PaymentBatchItem.id)
            .with_for_update(of=[PaymentBatchItem, Payout])
            .execution_options(populate_existing=True)
        )
        for item, payout in rows:
            batch, hits = found[item.batch_id]
            hits.append(Hit(item, batch, payout))
    return {batch.pmt_inf_id: (batch, hits) for batch, hits in found.values()}


def current_items(session: DbSession, payout_ids: set[int]) -> dict[int, int]:
    """Per payout, its latest item in a sent batch: the payment the bank is handling.

    A payout returned and paid again travels under a new EndToEndId; the old one may
    still turn up (a late debit, a second return) and must not touch the new payment.
    """
    current: dict[int, int] = {}
    for part in slices(sorted(payout_ids)):
        rows = session.execute(
            select(PaymentBatchItem.payout_id, func.max(PaymentBatchItem.id))
            .join(PaymentBatch, PaymentBatch.id == PaymentBatchItem.batch_id)
            .where(
                PaymentBatchItem.payout_id.in_(part),
                PaymentBatch.state.in_(SENT_BATCHES),
            )
            .group_by(PaymentBatchItem.payout_id)
        )
        current.update({payout_id: item_id for payout_id, item_id in rows})
    return current


def fully_booked(session: DbSession, batch_ids: Iterable[int]) -> list[PaymentBatch]:
    """The released batches among these of which no payout still waits for its debit.

    A payout returned before its debit showed no longer waits: the bank answered for it.
    """
    ready: list[PaymentBatch] = []
    for part in slices(sorted(batch_ids)):
        waiting = (
            select(PaymentBatchItem.id)
            .join(Payout, Payout.id == PaymentBatchItem.payout_id)
            .where(
                PaymentBatchItem.batch_id == PaymentBatch.id,
                PaymentBatchItem.booked_entry_id.is_(None),
                Payout.state == PayoutState.SENT,
            )
            .exists()
        )
        ready.extend(
            session.scalars(
                select(PaymentBatch)
                .where(
                    PaymentBatch.id.in_(part),
                    PaymentBatch.state == BatchState.RELEASED,
                    ~waiting,
                )
                .with_for_update()
            )
        )
    return ready
