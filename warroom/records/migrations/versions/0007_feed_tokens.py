"""Calendar feed tokens: each opens one on-call iCalendar feed (docs/oncall.md#calendars).

Revision ID: 0007
Revises: 0006

Room: records (warroom/records/migrations). A new table; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("feed", sa.String(length=300), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_feed_tokens_person", "feed_tokens", ["person"])


def downgrade() -> None:
    op.drop_index("ix_feed_tokens_person", table_name="feed_tokens")
    op.drop_table("feed_tokens")
