"""claim search and handling: indexes for the search and the assessor filter, internal notes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_claim_search", "claim", ["organisation_id", "received_on", "id"], unique=False
    )
    op.create_index("ix_claim_assessor", "claim", ["organisation_id", "assessor_id"], unique=False)
    op.create_table(
        "claim_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_claim_note_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_claim_note_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_claim_note_author_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_note")),
    )
    op.create_index("ix_claim_note_claim", "claim_note", ["claim_id", "id"], unique=False)
    op.create_index(
        op.f("ix_claim_note_organisation_id"), "claim_note", ["organisation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_claim_note_organisation_id"), table_name="claim_note")
    op.drop_index("ix_claim_note_claim", table_name="claim_note")
    op.drop_table("claim_note")
    op.drop_index("ix_claim_assessor", table_name="claim")
    op.drop_index("ix_claim_search", table_name="claim")
