"""letterhead: logo, sender address, contact and signatory of an organisation's letters

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "letterhead",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("address_line", sa.String(length=200), server_default="", nullable=False),
        sa.Column("postcode", sa.String(length=7), server_default="", nullable=False),
        sa.Column("city", sa.String(length=100), server_default="", nullable=False),
        sa.Column("phone", sa.String(length=30), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), server_default="", nullable=False),
        sa.Column("website", sa.String(length=200), server_default="", nullable=False),
        sa.Column("signatory_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("signatory_function", sa.String(length=200), server_default="", nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_content_type", sa.String(length=20), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "logo IS NULL OR length(logo) <= 262144",
            name=op.f("ck_letterhead_logo_bounded"),
        ),
        sa.CheckConstraint(
            "(logo IS NULL) = (logo_content_type IS NULL)"
            " AND (logo_content_type IS NULL OR logo_content_type IN ('image/png', 'image/jpeg'))",
            name=op.f("ck_letterhead_logo_typed"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_letterhead_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_letterhead")),
    )


def downgrade() -> None:
    op.drop_table("letterhead")
