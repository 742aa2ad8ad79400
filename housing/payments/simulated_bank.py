"""A simulated bank: the camt.053 statement a bank would send after paying a batch.

For the demo (`housing demo statement`) and the benchmark only; real statements come from
the bank. The output is valid camt.053.001.02 (the tests validate it against the XSD).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


@dataclass(frozen=True)
class PaidTransfer:
    end_to_end_id: str
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    return_reason: str | None = None  # e.g. "AC04": the transfer comes back as a credit


@dataclass(frozen=True)
class PaidBatch:
    msg_id: str
    pmt_inf_id: str
    transfers: Sequence[PaidTransfer]
    with_details: bool = True
    # Some banks book each transfer of a batch as an entry of its own.
    entry_per_transfer: bool = False


def statement(
    *,
    account_iban: str,
    statement_id: str,
    booked_on: dt.date,
    opening_balance: Decimal,
    batches: Sequence[PaidBatch],
    sequence: int = 1,
    late_returns: Sequence[PaidTransfer] = (),
) -> bytes:
    """One statement: a debit entry per batch (with details or not), and a credit entry per
    returned transfer, of these batches or (`late_returns`) paid on an earlier statement."""
    entries: list[str] = []
    balance = opening_balance
    number = 0
    for batch in batches:
        if batch.entry_per_transfer:
            for transfer in batch.transfers:
                number += 1
                balance -= transfer.amount
                entries.append(
                    _entry(
                        reference=f"{statement_id}-{number:06d}",
                        amount=transfer.amount,
                        credit=False,
                        booked_on=booked_on,
                        details=f"<NtryDtls>{_detail(batch.pmt_inf_id, transfer, 'Cdtr')}"
                        "</NtryDtls>",
                    )
                )
            continue
        number += 1
        total = sum((t.amount for t in batch.transfers), Decimal("0.00"))
        balance -= total
        details = "".join(
            _detail(batch.pmt_inf_id, transfer, "Cdtr") for transfer in batch.transfers
        )
        entries.append(
            _entry(
                reference=f"{statement_id}-{number:06d}",
                amount=total,
                credit=False,
                booked_on=booked_on,
                details=(
                    f"<NtryDtls><Btch><MsgId>{escape(batch.msg_id)}</MsgId>"
                    f"<PmtInfId>{escape(batch.pmt_inf_id)}</PmtInfId>"
                    f"<NbOfTxs>{len(batch.transfers)}</NbOfTxs>"
                    f'<TtlAmt Ccy="EUR">{total:.2f}</TtlAmt><CdtDbtInd>DBIT</CdtDbtInd></Btch>'
                    f"{details if batch.with_details else ''}</NtryDtls>"
                ),
            )
        )
    returns = [t for batch in batches for t in batch.transfers if t.return_reason]
    returns += late_returns
    for transfer in returns:
        number += 1
        balance += transfer.amount
        entries.append(
            _entry(
                reference=f"{statement_id}-{number:06d}",
                amount=transfer.amount,
                credit=True,
                booked_on=booked_on,
                details=f"<NtryDtls>{_detail(None, transfer, 'Dbtr')}</NtryDtls>",
            )
        )
    created = f"{booked_on.isoformat()}T06:00:00+01:00"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Document xmlns="{NAMESPACE}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{escape(statement_id)}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{escape(statement_id)}</Id><ElctrncSeqNb>{sequence}</ElctrncSeqNb>"
        f"<CreDtTm>{created}</CreDtTm>"
        f"<Acct><Id><IBAN>{account_iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{_balance('OPBD', opening_balance, booked_on)}{_balance('CLBD', balance, booked_on)}"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def _balance(code: str, amount: Decimal, day: dt.date) -> str:
    sign = "CRDT" if amount >= 0 else "DBIT"
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{abs(amount):.2f}</Amt><CdtDbtInd>{sign}</CdtDbtInd>'
        f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
    )


def _entry(
    *, reference: str, amount: Decimal, credit: bool, booked_on: dt.date, details: str
) -> str:
    family = "RCDT" if credit else "ICDT"
    sub_family = "RRTN" if credit else "ESCT"
    return (
        f"<Ntry><NtryRef>{reference}</NtryRef>"
        f'<Amt Ccy="EUR">{amount:.2f}</Amt><CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd>'
        f"<Sts>BOOK</Sts><BookgDt><Dt>{booked_on.isoformat()}</Dt></BookgDt>"
        f"<ValDt><Dt>{booked_on.isoformat()}</Dt></ValDt>"
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd>"
        f"<SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"{details}</Ntry>"
    )


def _detail(pmt_inf_id: str | None, transfer: PaidTransfer, party: str) -> str:
    refs = (f"<PmtInfId>{escape(pmt_inf_id)}</PmtInfId>" if pmt_inf_id else "") + (
        f"<EndToEndId>{escape(transfer.end_to_end_id)}</EndToEndId>"
    )
    returned = (
        f"<RtrInf><Rsn><Cd>{transfer.return_reason}</Cd></Rsn></RtrInf>"
        if transfer.return_reason and party == "Dbtr"
        else ""
    )
    return (
        f"<TxDtls><Refs>{refs}</Refs>"
        f'<AmtDtls><TxAmt><Amt Ccy="EUR">{transfer.amount:.2f}</Amt></TxAmt></AmtDtls>'
        f"<RltdPties><{party}><Nm>{escape(transfer.creditor_name[:70])}</Nm></{party}>"
        f"<{party}Acct><Id><IBAN>{transfer.creditor_iban}</IBAN></Id></{party}Acct>"
        f"</RltdPties>{returned}</TxDtls>"
    )
