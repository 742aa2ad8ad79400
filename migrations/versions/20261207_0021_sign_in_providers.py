"""sign-in providers (OpenID Connect): the providers an organisation set up, the people
they know (their `sub`) linked to accounts, and the authentication context (`acr`) of a
single sign-on kept on its session and on each claim submitted in it

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIENCES = ("staff", "applicants", "both")


def upgrade() -> None:
    op.create_table(
        "sign_in_provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column(
            "audience",
            sa.Enum(
                *AUDIENCES,
                name="provider_audience",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("groups_claim", sa.String(length=100), nullable=False),
        sa.Column("role_mapping", sa.String(length=4000), nullable=False),
        sa.Column("sync_roles", sa.Boolean(), nullable=False),
        sa.Column("trust_provider_mfa", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sign_in_provider_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_provider")),
        sa.UniqueConstraint(
            "organisation_id", "name", name=op.f("uq_sign_in_provider_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_sign_in_provider_organisation_id"),
        "sign_in_provider",
        ["organisation_id"],
    )
    op.create_table(
        "external_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["sign_in_provider.id"],
            name=op.f("fk_external_identity_provider_id_sign_in_provider"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_external_identity_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identity")),
        sa.UniqueConstraint(
            "provider_id", "subject", name=op.f("uq_external_identity_provider_id")
        ),
    )
    op.create_index(op.f("ix_external_identity_user_id"), "external_identity", ["user_id"])
    with op.batch_alter_table("user_session") as batch:
        batch.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("acr", sa.String(length=200), nullable=True))
        batch.create_foreign_key(
            op.f("fk_user_session_provider_id_sign_in_provider"),
            "sign_in_provider",
            ["provider_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("claim") as batch:
        batch.add_column(sa.Column("submitted_acr", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("claim") as batch:
        batch.drop_column("submitted_acr")
    with op.batch_alter_table("user_session") as batch:
        batch.drop_constraint(
            op.f("fk_user_session_provider_id_sign_in_provider"), type_="foreignkey"
        )
        batch.drop_column("acr")
        batch.drop_column("provider_id")
    op.drop_index(op.f("ix_external_identity_user_id"), table_name="external_identity")
    op.drop_table("external_identity")
    op.drop_index(op.f("ix_sign_in_provider_organisation_id"), table_name="sign_in_provider")
    op.drop_table("sign_in_provider")
