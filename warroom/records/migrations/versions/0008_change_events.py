"""Change events: deploys and config pushes per service, shown beside its incidents.

Revision ID: 0008
Revises: 0007

Room: records (warroom/records/migrations). A new table; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, unique=True),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("integration", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_events_service", "change_events", ["service"])
    op.create_index("ix_change_events_at", "change_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_change_events_at", table_name="change_events")
    op.drop_index("ix_change_events_service", table_name="change_events")
    op.drop_table("change_events")
