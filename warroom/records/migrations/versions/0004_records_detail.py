"""The record's detail: the incident's dedup key, description, mitigation time and SLA
deadlines; escalations, priority changes, reviews and their action items as tables.

Revision ID: 0004
Revises: 0003

Room: records (warroom/records/migrations).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEADLINES = ("mitigated_at", "ack_due", "next_update_due", "resolve_due", "review_due")


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=False, server_default=""))
        for name in DEADLINES:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_incidents_dedup_key"), ["dedup_key"], unique=False)
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_level", sa.Integer(), nullable=False),
        sa.Column("to_level", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_escalation_run_seq"),
    )
    op.create_table(
        "priority_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_priority", sa.String(length=4), nullable=False),
        sa.Column("to_priority", sa.String(length=4), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "seq", name="uq_priority_change_run_seq"),
    )
    op.create_table(
        "reviews",
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("contributing_factors", sa.JSON(), nullable=False),
        sa.Column("lessons", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "position", name="uq_action_item_position"),
    )
    for table in ("escalations", "priority_changes", "action_items"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_incident_id"), ["incident_id"], unique=False)
            if table != "action_items":
                batch_op.create_index(batch_op.f(f"ix_{table}_run_id"), ["run_id"], unique=False)
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    for table in ("action_items", "reviews", "priority_changes", "escalations"):
        op.drop_table(table)
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_dedup_key"))
        for name in ("dedup_key", "description", *DEADLINES):
            batch_op.drop_column(name)
