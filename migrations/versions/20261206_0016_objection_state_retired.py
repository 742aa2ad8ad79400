"""objection state retired: claims in 'objection' become objection cases

The claim machine no longer has an 'objection' state (nor lodge_objection, reconsider and
uphold): an objection is its own case (table objection). A claim still in that state is
moved here, not left readable: left as it was it could never leave the state, since no
event does. For each such claim this makes the lodged objection against its latest sent
refusal (the only decision the old path allowed one against), received the day the
lodge_objection link was written, by whoever wrote it, with its reason as the grounds;
and the claim is refused again, as it stood before the objection. The objection term is
taken as six weeks from the refusal's sending, not stretched by the Atw: at most a few
days early, so the watch warns early, never late. The audit chain keeps the old
lodge_objection link as it was written; a chain is never rewritten.

A claim in 'objection' without a sent refusal cannot be moved safely: the upgrade stops
and names it, so nothing is half done.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 17:10:00
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = (
    "draft",
    "submitted",
    "in_assessment",
    "awaiting_info",
    "awaiting_advice",
    "decision_proposed",
    "granted",
    "in_payment",
    "settled",
    "refused",
    "not_considered",
    "withdrawn",
    "archived",
)
OLD_STATES = (*STATES, "objection")
GROUNDS = "Bezwaar ingediend voordat bezwaren eigen zaken werden; zie de tijdlijn."
OBJECTION_TERM = dt.timedelta(weeks=6)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _known(states: Sequence[str]) -> str:
    return "state IN (" + ", ".join(f"'{state}'" for state in states) + ")"


def _day(value: object) -> dt.date:
    """The day in Amsterdam of a stored moment (UTC; SQLite hands back a string)."""
    if isinstance(value, str):
        value = (
            dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
        )
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(AMSTERDAM).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"not a day: {value!r}")


def upgrade() -> None:
    bind = op.get_bind()
    claims = bind.execute(
        sa.text(
            "SELECT id, organisation_id, filed_by_id FROM claim"
            " WHERE state = 'objection' ORDER BY id"
        )
    ).all()
    for claim_id, organisation_id, filed_by_id in claims:
        refusal = bind.execute(
            sa.text(
                "SELECT id, sent_on FROM decision WHERE claim_id = :claim"
                " AND kind = 'refusal' AND sent_on IS NOT NULL ORDER BY id DESC LIMIT 1"
            ),
            {"claim": claim_id},
        ).first()
        if refusal is None:
            raise RuntimeError(f"claim {claim_id} is in objection without a sent refusal")
        lodged = bind.execute(
            sa.text(
                "SELECT occurred_at, actor_id, reason FROM audit_event WHERE claim_id = :claim"
                " AND event = 'lodge_objection' ORDER BY sequence DESC LIMIT 1"
            ),
            {"claim": claim_id},
        ).first()
        refusal_id, sent_on = refusal
        sent = _day(sent_on)
        lodged_on = _day(lodged[0]) if lodged is not None else sent
        lodged_by = lodged[1] if lodged is not None and lodged[1] is not None else filed_by_id
        grounds = (lodged[2] if lodged is not None else None) or GROUNDS
        term_ends_on = sent + OBJECTION_TERM
        bind.execute(
            sa.text(
                "INSERT INTO objection (organisation_id, claim_id, decision_id, state,"
                " lodged_on, term_ends_on, late, on_paper, grounds, lodged_by_id)"
                " VALUES (:organisation, :claim, :decision, 'lodged', :lodged_on,"
                " :term_ends_on, :late, false, :grounds, :lodged_by)"
            ),
            {
                "organisation": organisation_id,
                "claim": claim_id,
                "decision": refusal_id,
                "lodged_on": lodged_on,
                "term_ends_on": term_ends_on,
                "late": lodged_on > term_ends_on,
                "grounds": grounds[:4000],
                "lodged_by": lodged_by,
            },
        )
        bind.execute(
            sa.text("UPDATE claim SET state = 'refused', version = version + 1 WHERE id = :claim"),
            {"claim": claim_id},
        )
    with op.batch_alter_table("claim") as batch:
        batch.drop_constraint(op.f("ck_claim_known_state"), type_="check")
        batch.create_check_constraint("known_state", _known(STATES))


def downgrade() -> None:
    # The objection cases stay: each is a case of its own, readable as it is.
    with op.batch_alter_table("claim") as batch:
        batch.drop_constraint(op.f("ck_claim_known_state"), type_="check")
        batch.create_check_constraint("known_state", _known(OLD_STATES))
