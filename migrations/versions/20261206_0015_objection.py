"""objection: an objection (bezwaar) against one decision, its own small case

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "new",
                "lodged",
                "in_review",
                "upheld",
                "rejected",
                "inadmissible",
                "withdrawn",
                name="objection_state",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("lodged_on", sa.Date(), nullable=False),
        sa.Column("term_ends_on", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("on_paper", sa.Boolean(), nullable=False),
        sa.Column("grounds", sa.String(length=4000), nullable=False),
        sa.Column("lodged_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.String(length=4000), nullable=True),
        sa.Column("outcome_decision_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_objection_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_objection_decided_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name=op.f("fk_objection_decision_id_decision")
        ),
        sa.ForeignKeyConstraint(
            ["lodged_by_id"],
            ["user_account.id"],
            name=op.f("fk_objection_lodged_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_objection_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["outcome_decision_id"],
            ["decision.id"],
            name=op.f("fk_objection_outcome_decision_id_decision"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection")),
    )
    op.create_index(op.f("ix_objection_claim_id"), "objection", ["claim_id"], unique=False)
    op.create_index(
        op.f("ix_objection_organisation_id"), "objection", ["organisation_id"], unique=False
    )
    op.create_index(
        "uq_objection_one_open_per_decision",
        "objection",
        ["decision_id"],
        unique=True,
        postgresql_where=sa.text("state IN ('new', 'lodged', 'in_review')"),
        sqlite_where=sa.text("state IN ('new', 'lodged', 'in_review')"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_objection_one_open_per_decision",
        table_name="objection",
        postgresql_where=sa.text("state IN ('new', 'lodged', 'in_review')"),
        sqlite_where=sa.text("state IN ('new', 'lodged', 'in_review')"),
    )
    op.drop_index(op.f("ix_objection_organisation_id"), table_name="objection")
    op.drop_index(op.f("ix_objection_claim_id"), table_name="objection")
    op.drop_table("objection")
