"""Deliveries (one row per person and contact point of a communication) and war rooms.

Revision ID: 0005
Revises: 0004

Room: records (warroom/records/migrations).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("communication_key", sa.String(length=255), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=False),
        sa.Column("contact_kind", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_communication_key"), ["communication_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_incident_id"), ["incident_id"], unique=False)
    op.create_table(
        "war_rooms",
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("bridge", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id"),
    )


def downgrade() -> None:
    op.drop_table("war_rooms")
    op.drop_table("deliveries")
