"""claims audit access log budget

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:26:56.807438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_audit_chain_head_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "committed", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_budget_amount_not_negative")),
        sa.CheckConstraint(
            "committed >= 0 AND committed <= amount", name=op.f("ck_budget_committed_within_amount")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_budget_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget")),
        sa.UniqueConstraint("organisation_id", "year", name=op.f("uq_budget_organisation_id")),
    )
    op.create_table(
        "eligible_office",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_eligible_office_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", "office_type", name=op.f("pk_eligible_office")),
    )
    op.create_table(
        "measure_catalogue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column(
            "regime",
            sa.Enum("A", "B", name="regime", native_enum=False, create_constraint=True, length=40),
            nullable=False,
        ),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "is_basic_measure", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "recurring_allowed", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_measure_catalogue_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_catalogue")),
        sa.UniqueConstraint(
            "organisation_id", "regime", "code", name=op.f("uq_measure_catalogue_organisation_id")
        ),
    )
    op.create_index(
        op.f("ix_measure_catalogue_organisation_id"),
        "measure_catalogue",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=35), nullable=False),
        sa.Column("office_holder_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "regime",
            sa.Enum("A", "B", name="regime", native_enum=False, create_constraint=True, length=40),
            nullable=True,
        ),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("application_date", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("decision_deadline", sa.Date(), nullable=True),
        sa.Column("assessor_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'in_assessment', 'awaiting_info', 'awaiting_advice', 'decision_proposed', 'granted', 'in_payment', 'settled', 'refused', 'objection', 'not_considered', 'withdrawn', 'archived')",
            name=op.f("ck_claim_known_state"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_claim_version_positive")),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["user_account.id"], name=op.f("fk_claim_assessor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user_account.id"], name=op.f("fk_claim_decided_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["filed_by_id"], ["user_account.id"], name=op.f("fk_claim_filed_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["home_id"], ["home.id"], name=op.f("fk_claim_home_id_home")),
        sa.ForeignKeyConstraint(
            ["office_holder_id"],
            ["office_holder.id"],
            name=op.f("fk_claim_office_holder_id_office_holder"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_claim_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["user_account.id"],
            name=op.f("fk_claim_proposed_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
        sa.UniqueConstraint("organisation_id", "number", name=op.f("uq_claim_organisation_id")),
    )
    op.create_index(
        op.f("ix_claim_decision_deadline"), "claim", ["decision_deadline"], unique=False
    )
    op.create_index(op.f("ix_claim_home_id"), "claim", ["home_id"], unique=False)
    op.create_index(op.f("ix_claim_office_holder_id"), "claim", ["office_holder_id"], unique=False)
    op.create_index(op.f("ix_claim_organisation_id"), "claim", ["organisation_id"], unique=False)
    op.create_index(op.f("ix_claim_state"), "claim", ["state"], unique=False)
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_audit_event_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_audit_event_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_audit_event_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint(
            "organisation_id", "sequence", name=op.f("uq_audit_event_organisation_id")
        ),
    )
    op.create_index(op.f("ix_audit_event_claim_id"), "audit_event", ["claim_id"], unique=False)
    op.create_index(
        op.f("ix_audit_event_organisation_id"), "audit_event", ["organisation_id"], unique=False
    )
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "scan_report",
                "security_advice",
                "quote",
                "invoice",
                "photo",
                "decision_letter",
                "other",
                name="document_kind",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column(
            "confidentiality",
            sa.Enum(
                "internal",
                "confidential",
                "secret",
                name="confidentiality",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_document_not_empty")),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_document_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_document_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_document_uploaded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_document_storage_key")),
    )
    op.create_index(op.f("ix_document_claim_id"), "document", ["claim_id"], unique=False)
    op.create_index(
        op.f("ix_document_organisation_id"), "document", ["organisation_id"], unique=False
    )
    op.create_table(
        "measure_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("catalogue_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("requested_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("vat_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("granted_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("grant_reason", sa.Text(), nullable=True),
        sa.Column(
            "recurrence",
            sa.Enum(
                "one_off",
                "monthly",
                "yearly",
                name="recurrence",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("supplier_name", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "granted_amount IS NULL OR (granted_amount >= 0 AND granted_amount <= requested_amount)",
            name=op.f("ck_measure_line_granted_within_requested"),
        ),
        sa.CheckConstraint("requested_amount > 0", name=op.f("ck_measure_line_requested_positive")),
        sa.CheckConstraint(
            "vat_amount >= 0 AND vat_amount <= requested_amount",
            name=op.f("ck_measure_line_vat_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["catalogue_id"],
            ["measure_catalogue.id"],
            name=op.f("fk_measure_line_catalogue_id_measure_catalogue"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_measure_line_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measure_line")),
    )
    op.create_index(op.f("ix_measure_line_claim_id"), "measure_line", ["claim_id"], unique=False)
    op.create_table(
        "security_advice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("advice_date", sa.Date(), nullable=False),
        sa.Column("advised_measures", sa.Text(), nullable=False),
        sa.Column("contents", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_security_advice_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_advice")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_security_advice_claim_id")),
    )
    op.create_table(
        "woning_scan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("adviser_name", sa.String(length=200), nullable=False),
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column(
            "pkvw_status",
            sa.Enum(
                "certified",
                "not_certified",
                "unknown",
                name="pkvw_status",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_woning_scan_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_woning_scan")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_woning_scan_claim_id")),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_access_log_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["document.id"], name=op.f("fk_access_log_document_id_document")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_access_log_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_access_log_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index(op.f("ix_access_log_claim_id"), "access_log", ["claim_id"], unique=False)
    op.create_index(
        op.f("ix_access_log_organisation_id"), "access_log", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_access_log_user_id"), "access_log", ["user_id"], unique=False)
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "grant",
                "partial_grant",
                "refusal",
                "not_considered",
                "extension_notice",
                "penalty",
                "objection_decision",
                name="decision_kind",
                native_enum=False,
                create_constraint=True,
                length=40,
            ),
            nullable=False,
        ),
        sa.Column("prepared_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("new_deadline", sa.Date(), nullable=True),
        sa.Column("penalty_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("letter_document_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR prepared_by_id IS NULL OR decided_by_id <> prepared_by_id",
            name=op.f("ck_decision_four_eyes"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_decision_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_decision_decided_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["letter_document_id"],
            ["document.id"],
            name=op.f("fk_decision_letter_document_id_document"),
        ),
        sa.ForeignKeyConstraint(
            ["prepared_by_id"],
            ["user_account.id"],
            name=op.f("fk_decision_prepared_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    op.create_index(op.f("ix_decision_claim_id"), "decision", ["claim_id"], unique=False)
    op.add_column(
        "organisation",
        sa.Column(
            "regime_a_cap",
            sa.Numeric(precision=12, scale=2),
            server_default="2400.00",
            nullable=False,
        ),
    )
    _seed_existing_organisations()


# Frozen copies of the defaults at the time of this migration: later changes to the code
# must not change what this migration did.
_ELIGIBLE = (
    "burgemeester",
    "wethouder",
    "gedeputeerde",
    "commissaris_van_de_koning",
    "dijkgraaf",
    "lid_dagelijks_bestuur",
)
_CATALOGUE = [
    ("A", "letterbox_security", "Brievenbusbeveiliging", True, False),
    ("A", "reinforced_windows", "Inbraakwerend glas en ramen", True, False),
    ("A", "door_viewer_or_video_intercom", "Deurspion of video-intercom", True, False),
    (
        "A",
        "alarm_base_installation",
        "Basisinstallatie voor een alarm- of meldsysteem",
        True,
        False,
    ),
    ("A", "safe", "Brand- en inbraakwerende kluis", True, False),
    ("B", "freestanding_letterbox", "Vrijstaande brievenbus (vuurwerk)", False, False),
    ("B", "alarm_with_monitoring", "Alarmsysteem met doormelding", False, True),
    ("B", "cameras", "Camera's", False, False),
    ("B", "reinforced_doors_locks_windows", "Inbraakwerende deuren, sloten en ramen", False, False),
    ("B", "lighting", "Buitenverlichting", False, False),
    ("B", "awareness_training", "Training weerbaarheid en bewustzijn", False, False),
    ("B", "digital_resilience", "Digitale weerbaarheid", False, False),
    ("B", "online_findability", "Vindbaarheid online beperken", False, False),
]


def _seed_existing_organisations() -> None:
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM organisation"))]
    eligible = sa.table("eligible_office", sa.column("organisation_id"), sa.column("office_type"))
    catalogue = sa.table(
        "measure_catalogue",
        sa.column("organisation_id"),
        sa.column("regime"),
        sa.column("code"),
        sa.column("name"),
        sa.column("is_basic_measure"),
        sa.column("recurring_allowed"),
        sa.column("active"),
    )
    if not ids:
        return
    op.bulk_insert(
        eligible, [{"organisation_id": i, "office_type": o} for i in ids for o in _ELIGIBLE]
    )
    op.bulk_insert(
        catalogue,
        [
            {
                "organisation_id": i,
                "regime": r,
                "code": c,
                "name": n,
                "is_basic_measure": b,
                "recurring_allowed": rec,
                "active": True,
            }
            for i in ids
            for (r, c, n, b, rec) in _CATALOGUE
        ],
    )


def downgrade() -> None:
    op.drop_column("organisation", "regime_a_cap")
    op.drop_index(op.f("ix_decision_claim_id"), table_name="decision")
    op.drop_table("decision")
    op.drop_index(op.f("ix_access_log_user_id"), table_name="access_log")
    op.drop_index(op.f("ix_access_log_organisation_id"), table_name="access_log")
    op.drop_index(op.f("ix_access_log_claim_id"), table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("woning_scan")
    op.drop_table("security_advice")
    op.drop_index(op.f("ix_measure_line_claim_id"), table_name="measure_line")
    op.drop_table("measure_line")
    op.drop_index(op.f("ix_document_organisation_id"), table_name="document")
    op.drop_index(op.f("ix_document_claim_id"), table_name="document")
    op.drop_table("document")
    op.drop_index(op.f("ix_audit_event_organisation_id"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_claim_id"), table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index(op.f("ix_claim_state"), table_name="claim")
    op.drop_index(op.f("ix_claim_organisation_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_office_holder_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_home_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_decision_deadline"), table_name="claim")
    op.drop_table("claim")
    op.drop_index(op.f("ix_measure_catalogue_organisation_id"), table_name="measure_catalogue")
    op.drop_table("measure_catalogue")
    op.drop_table("eligible_office")
    op.drop_table("budget")
    op.drop_table("audit_chain_head")
