"""notice of default, one penalty decision per claim, inbox index

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENALTY_ONLY = sa.text("kind = 'penalty'")


def upgrade() -> None:
    op.create_table(
        "default_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_default_notice_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_default_notice_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_default_notice")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_default_notice_claim_id")),
    )
    with op.batch_alter_table("decision") as batch:
        batch.create_check_constraint(
            "penalty_has_amount", "(kind = 'penalty') = (penalty_amount IS NOT NULL)"
        )
    op.create_index(
        "uq_decision_one_penalty_per_claim",
        "decision",
        ["claim_id"],
        unique=True,
        postgresql_where=PENALTY_ONLY,
        sqlite_where=PENALTY_ONLY,
    )
    op.create_index(
        "ix_claim_inbox", "claim", ["organisation_id", "decision_deadline", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_claim_inbox", table_name="claim")
    op.drop_index("uq_decision_one_penalty_per_claim", table_name="decision")
    with op.batch_alter_table("decision") as batch:
        batch.drop_constraint(op.f("ck_decision_penalty_has_amount"), type_="check")
    op.drop_table("default_notice")
