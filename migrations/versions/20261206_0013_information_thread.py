"""information thread: who answered, the answer's files, the timeline's links

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_KINDS = (
    "scan_report", "security_advice", "quote", "invoice", "photo", "decision_letter",
    "notice_letter", "other",
)  # fmt: skip
NEW_KINDS = (*DOCUMENT_KINDS, "supplement")


def _kinds(kinds: tuple[str, ...]) -> str:
    return ", ".join(f"'{kind}'" for kind in kinds)


def upgrade() -> None:
    with op.batch_alter_table("information_request") as batch:
        batch.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("request_event_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("answer_event_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_information_request_answered_by_id_user_account"),
            "user_account",
            ["answered_by_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_information_request_request_event_id_audit_event"),
            "audit_event",
            ["request_event_id"],
            ["id"],
        )
        batch.create_foreign_key(
            op.f("fk_information_request_answer_event_id_audit_event"),
            "audit_event",
            ["answer_event_id"],
            ["id"],
        )
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("information_request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_document_information_request_id_information_request"),
            "information_request",
            ["information_request_id"],
            ["id"],
        )
        batch.create_index(
            op.f("ix_document_information_request_id"), ["information_request_id"], unique=False
        )
        # The files sent with an answer are documents of their own kind.
        batch.drop_constraint(op.f("ck_document_document_kind"), type_="check")
        batch.create_check_constraint("document_kind", f"kind IN ({_kinds(NEW_KINDS)})")


def downgrade() -> None:
    with op.batch_alter_table("document") as batch:
        batch.drop_constraint(op.f("ck_document_document_kind"), type_="check")
        batch.create_check_constraint("document_kind", f"kind IN ({_kinds(DOCUMENT_KINDS)})")
        batch.drop_index(op.f("ix_document_information_request_id"))
        batch.drop_constraint(
            op.f("fk_document_information_request_id_information_request"), type_="foreignkey"
        )
        batch.drop_column("information_request_id")
    with op.batch_alter_table("information_request") as batch:
        for name in ("answer_event_id", "request_event_id"):
            batch.drop_constraint(
                op.f(f"fk_information_request_{name}_audit_event"), type_="foreignkey"
            )
        batch.drop_constraint(
            op.f("fk_information_request_answered_by_id_user_account"), type_="foreignkey"
        )
        batch.drop_column("answer_event_id")
        batch.drop_column("request_event_id")
        batch.drop_column("answered_by_id")
