"""access log: the roles the reader held, and an index for the auditor's pages

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for the reads logged before: which role they read in was not kept.
    op.add_column("access_log", sa.Column("roles", sa.String(length=100), nullable=True))
    # The auditor's access log pages by id, newest first, within one organisation.
    op.create_index(
        "ix_access_log_organisation_id_id", "access_log", ["organisation_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_access_log_organisation_id_id", table_name="access_log")
    op.drop_column("access_log", "roles")
