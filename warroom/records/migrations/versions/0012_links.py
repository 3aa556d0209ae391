"""Cascades: an incident's parent (docs/upgrades.md); on-call hand-overs and their notes
(docs/oncall.md, "Hand-over").

Revision ID: 0012
Revises: 0011

Room: records (warroom/records/migrations). One nullable column on incidents and two new
tables; nothing existing changes (an incident recorded before it has no parent).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("parent_incident", sa.String(length=255), nullable=True))
        batch.create_index("ix_incidents_parent_incident", ["parent_incident"])
    op.create_table(
        "handover_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handover_key", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handover_notes_schedule", "handover_notes", ["schedule"])
    op.create_index("ix_handover_notes_handover_key", "handover_notes", ["handover_key"])
    op.create_table(
        "handovers",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("schedule", sa.String(length=255), nullable=False),
        sa.Column("team", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outgoing", sa.JSON(), nullable=False),
        sa.Column("incoming", sa.JSON(), nullable=False),
        sa.Column("incidents", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_handovers_schedule", "handovers", ["schedule"])
    op.create_index("ix_handovers_at", "handovers", ["at"])


def downgrade() -> None:
    op.drop_index("ix_handovers_at", table_name="handovers")
    op.drop_index("ix_handovers_schedule", table_name="handovers")
    op.drop_table("handovers")
    op.drop_index("ix_handover_notes_handover_key", table_name="handover_notes")
    op.drop_index("ix_handover_notes_schedule", table_name="handover_notes")
    op.drop_table("handover_notes")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_parent_incident")
        batch.drop_column("parent_incident")
