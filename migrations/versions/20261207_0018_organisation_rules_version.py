"""organisation rules version: the stamp the per-process cache of its rules checks

Each process keeps an organisation's settings, Awb terms and the Atw calendar in memory
(housing/deadlines/rules.py) and checks this stamp, read with the claim it locks, before
using them. Every change of what the cache holds writes a fresh random stamp in the same
transaction. Rows already here start from one stamp alike: a cache compares an
organisation's stamp with its own, never two organisations'.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        batch.add_column(
            sa.Column("rules_version", sa.String(length=32), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        batch.drop_column("rules_version")
