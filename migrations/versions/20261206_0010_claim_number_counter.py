"""claim number counter per organisation and year

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_number_counter",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "last_number >= 1", name=op.f("ck_claim_number_counter_last_number_positive")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_claim_number_counter_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "year", name=op.f("pk_claim_number_counter")),
    )
    # Numbers already given out (VW-yyyy-nnnnn) go on from the highest per year, not from
    # a count: a number is never given twice.
    op.execute(
        """
        INSERT INTO claim_number_counter (organisation_id, year, last_number)
        SELECT organisation_id,
               CAST(substr(number, 4, 4) AS INTEGER),
               MAX(CAST(substr(number, 9) AS INTEGER))
        FROM claim
        WHERE number LIKE 'VW-____-%'
        GROUP BY organisation_id, CAST(substr(number, 4, 4) AS INTEGER)
        """
    )


def downgrade() -> None:
    op.drop_table("claim_number_counter")
