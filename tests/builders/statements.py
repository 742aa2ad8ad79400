"""Books: a world whose payouts and batches are built directly, and camt.053 statements."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from housing.accounts.models import User
from housing.audit.models import AuditEvent
from housing.claims.models import Claim
from housing.payments.models import (
    PaymentBatch,
    PaymentBatchItem,
    Payout,
    PayoutKind,
    StatementEntry,
)
from housing.payments.statements import ImportReport, ReviewQueue, StatementImport
from housing.roles import Role
from housing.scoping import Scope
from tests.builders.claims import World
from tests.builders.payments import SUPPLIER_IBAN
from tests.conftest import RUN_ID
from tests.factories import UserFactory

FIXTURES = Path(__file__).parent.parent / "fixtures" / "camt053"
ACCOUNT = "NL91ABNA0417164300"  # the World's organisation, and the fixtures' account
CODES = ("cameras", "freestanding_letterbox", "lighting")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Books:
    """A world with a finance pair, and payouts built directly in the state batches leave."""

    def __init__(self, session: Session, world: World | None = None) -> None:
        self.session = session
        self.world = world or World(session, name="Gemeente Afschrift")
        self.org = self.world.org
        self.finance = cast(User, UserFactory(organisation=self.org, roles={Role.FINANCE}))
        self.colleague = cast(User, UserFactory(organisation=self.org, roles={Role.FINANCE}))
        self.numbers = itertools.count(1)
        self.imports = StatementImport(session, clock=self.world.clock)
        self.queue = ReviewQueue(session, clock=self.world.clock)

    def claim(self, *amounts: str) -> Claim:
        """A granted regime B claim with a line per amount, all granted in full."""
        w = self.world
        claim = w.draft(
            lines=[(code, amount, "0.00") for code, amount in zip(CODES, amounts, strict=False)]
        )
        w.fire(w.applicant, claim, "submit")
        w.fire(w.assessor, claim, "start_assessment")
        w.fire(w.assessor, claim, "request_advice")
        w.fire(
            w.assessor,
            claim,
            "record_advice",
            details={
                "reference": "BZK-2026-17",
                "advice_date": "2026-03-02",
                "advised_measures": list(CODES[: len(amounts)]),
            },
        )
        granted = {line.id: line.requested_amount for line in claim.lines}
        w.fire(w.assessor, claim, "propose_decision", details={"granted": granted})
        w.fire(w.decider, claim, "grant")
        assert claim.state == "granted"
        return claim

    def payout(self, claim: Claim, line: int, amount: str, state: str = "sent") -> Payout:
        n = next(self.numbers)
        payout = Payout(
            organisation_id=self.org.id,
            claim_id=claim.id,
            measure_line_id=claim.lines[line].id,
            kind=PayoutKind.SUPPLIER,
            state=state,
            payee_name="Beveiliging Noord B.V.",
            payee_iban=SUPPLIER_IBAN,
            amount=Decimal(amount),
            vat_amount=Decimal("0.00"),
            invoice_number=f"F-{RUN_ID}-{n}",
            invoice_date=dt.date(2026, 3, 1),
        )
        self.session.add(payout)
        self.session.flush()
        return payout

    def batch(
        self,
        items: Sequence[tuple[Payout, str]],
        pmt_inf_id: str | None = None,
        state: str = "released",
    ) -> PaymentBatch:
        n = next(self.numbers)
        frozen = state in ("released", "booked")
        batch = PaymentBatch(
            organisation_id=self.org.id,
            state=state,
            msg_id=f"MSG-{RUN_ID}-{n}",
            pmt_inf_id=pmt_inf_id or f"PMT-{RUN_ID}-{n}",
            pain_version="pain.001.001.09",
            execution_date=dt.date(2026, 1, 5),
            item_count=len(items),
            total=sum((p.amount for p, _ in items), Decimal("0.00")),
            created_by_id=self.finance.id,
            file_data=b"frozen pain.001" if frozen else None,
            file_sha256=hashlib.sha256(b"frozen pain.001").hexdigest() if frozen else None,
            released_at=dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC) if frozen else None,
        )
        self.session.add(batch)
        self.session.flush()
        for payout, e2e in items:
            self.session.add(
                PaymentBatchItem(
                    batch_id=batch.id,
                    payout_id=payout.id,
                    end_to_end_id=e2e,
                    amount=payout.amount,
                    payee_name=payout.payee_name,
                    payee_iban=payout.payee_iban,
                    remittance=f"Factuur {payout.invoice_number}",
                )
            )
        self.session.commit()
        return batch

    def run(self, data: bytes, **kwargs: Any) -> ImportReport:
        """One unit of work, as the job does it: import, then commit."""
        report = self.imports.import_file(self.org.id, self.finance.id, data, **kwargs)
        self.session.commit()
        deliver_follows(self.session)
        return report

    def scope(self, user: User) -> Scope:
        return Scope.for_user(user)

    def entry(self, reference: str) -> StatementEntry:
        return self.session.scalars(
            select(StatementEntry).where(
                StatementEntry.organisation_id == self.org.id,
                StatementEntry.entry_reference == reference,
            )
        ).one()

    def events(self, name: str) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.organisation_id == self.org.id, AuditEvent.event == name)
                .order_by(AuditEvent.sequence)
            )
        )

    def item(self, e2e: str) -> PaymentBatchItem:
        return self.session.scalars(
            select(PaymentBatchItem).where(PaymentBatchItem.end_to_end_id == e2e)
        ).one()


# --- generated statements --------------------------------------------------------------
def debit(reference: str, e2e: str | None, amount: str, *, credit: bool = False) -> str:
    refs = f"<Refs><EndToEndId>{e2e}</EndToEndId></Refs>" if e2e else ""
    details = f"<NtryDtls><TxDtls>{refs}</TxDtls></NtryDtls>" if e2e else ""
    return (
        f'<Ntry><NtryRef>{reference}</NtryRef><Amt Ccy="EUR">{amount}</Amt>'
        f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd><Sts>BOOK</Sts>"
        "<BookgDt><Dt>2026-03-02</Dt></BookgDt>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        f"</Domn></BkTxCd>{details}</Ntry>"
    )


def camt_statement(
    ident: str,
    entries: Sequence[str],
    *,
    iban: str = ACCOUNT,
    opening: str = "50000.00",
    sequence: int | None = None,
) -> bytes:
    """A camt.053.001.02 document with one statement of these entries."""
    seq = f"<ElctrncSeqNb>{sequence}</ElctrncSeqNb>" if sequence is not None else ""

    def balance(code: str, amount: str) -> str:
        return (
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
            "<Dt><Dt>2026-03-02</Dt></Dt></Bal>"
        )

    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>M-{ident}</MsgId><CreDtTm>2026-03-03T06:00:00+01:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{ident}</Id>{seq}<CreDtTm>2026-03-03T06:00:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{balance('OPBD', opening)}{balance('CLBD', opening)}"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def deliver_follows(session: Session) -> None:
    """What a worker does next: move the claims the import touched (outbox, in chunks)."""
    from housing.outbox.handlers import default_handlers
    from housing.outbox.models import OutboxMessage, OutboxStatus
    from housing.outbox.services import OutboxConsumer

    consumer = OutboxConsumer(session, default_handlers())
    for message_id in session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.topic == "claims_follow", OutboxMessage.status == OutboxStatus.PENDING
        )
    ).all():
        consumer.deliver(message_id)
