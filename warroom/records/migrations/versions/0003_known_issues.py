"""Known issues learnt from reviewed incidents, and which incidents they were offered to.

Revision ID: 0003
Revises: 0002

Room: records (warroom/records/migrations).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("symptoms", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("fix_steps", sa.JSON(), nullable=False),
        sa.Column("source_incident", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_incident"),
    )
    with op.batch_alter_table("known_issues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_issues_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_known_issues_service"), ["service"], unique=False)
    op.create_table(
        "known_issue_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issue_id", "incident_id", name="uq_known_issue_use"),
    )
    with op.batch_alter_table("known_issue_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_known_issue_uses_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_known_issue_uses_issue_id"), ["issue_id"], unique=False)


def downgrade() -> None:
    op.drop_table("known_issue_uses")
    op.drop_table("known_issues")
