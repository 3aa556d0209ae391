"""Heartbeat monitors: the ping each expects and the state its workflow last recorded.

Revision ID: 0010
Revises: 0009

Room: records (warroom/records/migrations). A new table; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("integration", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("last_ping_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_source", sa.String(length=255), nullable=False),
        sa.Column("incident_id", sa.String(length=255), nullable=False),
        sa.Column("down_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_heartbeats_name", "heartbeats", ["name"])


def downgrade() -> None:
    op.drop_index("ix_heartbeats_name", table_name="heartbeats")
    op.drop_table("heartbeats")
