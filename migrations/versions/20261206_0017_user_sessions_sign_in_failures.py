"""user sessions, sign-in failures and their spikes; notice kinds the constraint lacked

- user_session: a signed-in browser session kept on the server (the cookie carries a
  secret whose SHA-256 is stored), so that logout and "sign out everywhere" end it.
- sign_in_failure: a wrong password for an existing account, with its organisation and the
  client's address; sign_in_spike: an organisation's current or last spike of them.
- The notification_kind check on notification and print_item named only the kinds of
  migration 0006: the objection notices (0015) and the new sign-in spike notice could not
  be stored. It now names every kind.

Sessions begun before this migration carry no session secret: their users log in again.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "claim_received",
    "information_requested",
    "decision_taken",
    "payout_sent",
    "payout_returned",
    "deadline_warning",
    "claim_overdue",
)
KINDS = (*OLD_KINDS, "objection_lodged", "late_objection_lodged", "sign_in_failure_spike")


def _known(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def _notice_kinds(kinds: Sequence[str]) -> None:
    for table in ("notification", "print_item"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_notification_kind"), type_="check")
            batch.create_check_constraint("notification_kind", _known(kinds))


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end_reason",
            sa.Enum(
                "logout",
                "everywhere",
                "idle",
                "lifetime",
                "password",
                "deactivated",
                name="session_end",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    op.create_index("ix_user_session_open", "user_session", ["user_id", "ended_at"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sign_in_failure_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_sign_in_failure_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failure")),
    )
    op.create_index(
        "ix_sign_in_failure_organisation_at", "sign_in_failure", ["organisation_id", "at"]
    )
    op.create_index(op.f("ix_sign_in_failure_user_id"), "sign_in_failure", ["user_id"])
    op.create_table(
        "sign_in_spike",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sign_in_spike_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_sign_in_spike")),
    )
    _notice_kinds(KINDS)


def downgrade() -> None:
    # Notices of the kinds the old constraint did not know cannot stay.
    new_kinds = ", ".join(f"'{kind}'" for kind in KINDS if kind not in OLD_KINDS)
    op.execute(f"DELETE FROM print_item WHERE kind IN ({new_kinds})")  # noqa: S608
    op.execute(f"DELETE FROM notification WHERE kind IN ({new_kinds})")  # noqa: S608
    _notice_kinds(OLD_KINDS)
    op.drop_table("sign_in_spike")
    op.drop_index(op.f("ix_sign_in_failure_user_id"), table_name="sign_in_failure")
    op.drop_index("ix_sign_in_failure_organisation_at", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    op.drop_index("ix_user_session_open", table_name="user_session")
    op.drop_table("user_session")
