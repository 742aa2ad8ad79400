"""accounts organisations office holders homes

Revision ID: 0001
Revises:
Create Date: 2026-11-29 00:40:16.772080
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "gemeente",
                "provincie",
                "waterschap",
                name="organisation_kind",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("name", name=op.f("uq_organisation_name")),
    )
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeat")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "language",
            sa.Enum(
                "nl", "en", name="language", native_enum=False, create_constraint=True, length=40
            ),
            server_default="nl",
            nullable=False,
        ),
        sa.Column(
            "channel_preference",
            sa.Enum(
                "electronic",
                "post",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            server_default="post",
            nullable=False,
        ),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_user_account_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_index(
        op.f("ix_user_account_organisation_id"), "user_account", ["organisation_id"], unique=False
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_api_token_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)
    op.create_table(
        "office_holder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "office_type",
            sa.Enum(
                "burgemeester",
                "wethouder",
                "gedeputeerde",
                "commissaris_van_de_koning",
                "dijkgraaf",
                "lid_dagelijks_bestuur",
                "raadslid",
                "statenlid",
                name="office_type",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("appointment_certain_on", sa.Date(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "term_end IS NULL OR term_end >= term_start", name=op.f("ck_office_holder_term_order")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_office_holder_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_office_holder_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_office_holder")),
        sa.UniqueConstraint("user_id", name=op.f("uq_office_holder_user_id")),
    )
    op.create_index(
        op.f("ix_office_holder_organisation_id"), "office_holder", ["organisation_id"], unique=False
    )
    op.create_table(
        "user_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "applicant",
                "assessor",
                "decider",
                "finance",
                "admin",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_role_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_role")),
    )
    op.create_table(
        "home",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_holder_id", sa.Integer(), nullable=False),
        sa.Column("street", sa.Text(), nullable=False),
        sa.Column("house_number", sa.Text(), nullable=False),
        sa.Column("postcode", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column(
            "is_registered_address", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("exemption_reference", sa.String(length=100), nullable=True),
        sa.Column("moved_in_on", sa.Date(), nullable=True),
        sa.Column("moved_out_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "is_registered_address OR exemption_reference IS NOT NULL",
            name=op.f("ck_home_registered_or_exempt"),
        ),
        sa.CheckConstraint(
            "moved_out_on IS NULL OR moved_out_on >= moved_in_on", name=op.f("ck_home_move_order")
        ),
        sa.ForeignKeyConstraint(
            ["office_holder_id"],
            ["office_holder.id"],
            name=op.f("fk_home_office_holder_id_office_holder"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home")),
    )
    op.create_index(op.f("ix_home_office_holder_id"), "home", ["office_holder_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_home_office_holder_id"), table_name="home")
    op.drop_table("home")
    op.drop_table("user_role")
    op.drop_index(op.f("ix_office_holder_organisation_id"), table_name="office_holder")
    op.drop_table("office_holder")
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
    op.drop_index(op.f("ix_user_account_organisation_id"), table_name="user_account")
    op.drop_table("user_account")
    op.drop_table("worker_heartbeat")
    op.drop_table("organisation")
