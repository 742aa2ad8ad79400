"""equated days and awb terms

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 01:32:42.981870
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "equated_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["user_account.id"],
            name=op.f("fk_equated_day_added_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_equated_day")),
    )
    op.add_column(
        "organisation",
        sa.Column("decision_weeks", sa.Integer(), server_default="8", nullable=False),
    )
    op.add_column(
        "organisation",
        sa.Column("information_term_days", sa.Integer(), server_default="14", nullable=False),
    )
    op.add_column(
        "organisation",
        sa.Column("objection_weeks", sa.Integer(), server_default="6", nullable=False),
    )
    op.add_column(
        "organisation",
        sa.Column("not_considered_weeks", sa.Integer(), server_default="4", nullable=False),
    )
    with op.batch_alter_table("organisation") as batch:
        batch.create_check_constraint("decision_weeks_range", "decision_weeks BETWEEN 1 AND 8")
        batch.create_check_constraint("information_term_positive", "information_term_days >= 1")
        batch.create_check_constraint("objection_weeks_statutory", "objection_weeks = 6")
        batch.create_check_constraint(
            "not_considered_range", "not_considered_weeks BETWEEN 1 AND 4"
        )
    equated = sa.table(
        "equated_day", sa.column("day", sa.Date), sa.column("description", sa.String)
    )
    op.bulk_insert(
        equated, [{"day": day, "description": text} for day, text in _KNOWN_EQUATED_DAYS]
    )


# The days equated by royal decree as known when this migration was written (DOMAIN.md §4).
_KNOWN_EQUATED_DAYS = [
    (dt.date(2023, 4, 28), "Vrijdag na Koningsdag 2023 (Besluit gelijkgestelde dagen)"),
    (dt.date(2023, 5, 19), "Vrijdag na Hemelvaartsdag 2023"),
    (dt.date(2024, 5, 10), "Vrijdag na Hemelvaartsdag 2024"),
    (dt.date(2024, 12, 27), "Vrijdag na Tweede Kerstdag 2024"),
    (dt.date(2025, 5, 30), "Vrijdag na Hemelvaartsdag 2025"),
    (dt.date(2026, 1, 2), "Vrijdag na Nieuwjaarsdag 2026"),
    (dt.date(2026, 5, 15), "Vrijdag na Hemelvaartsdag 2026"),
    (dt.date(2027, 5, 7), "Vrijdag na Hemelvaartsdag 2027"),
    (dt.date(2028, 4, 28), "Vrijdag na Koningsdag 2028"),
    (dt.date(2028, 5, 26), "Vrijdag na Hemelvaartsdag 2028"),
]


def downgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        for name in (
            "decision_weeks_range",
            "information_term_positive",
            "objection_weeks_statutory",
            "not_considered_range",
        ):
            batch.drop_constraint(op.f(f"ck_organisation_{name}"), type_="check")
    op.drop_column("organisation", "not_considered_weeks")
    op.drop_column("organisation", "objection_weeks")
    op.drop_column("organisation", "information_term_days")
    op.drop_column("organisation", "decision_weeks")
    op.drop_table("equated_day")
