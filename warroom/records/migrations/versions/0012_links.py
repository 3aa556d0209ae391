"""Cascades: an incident's parent (docs/upgrades.md).

Revision ID: 0012
Revises: 0008

Room: records (warroom/records/migrations). One nullable column on incidents; nothing existing
changes (an incident recorded before it has no parent).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("parent_incident", sa.String(length=255), nullable=True))
        batch.create_index("ix_incidents_parent_incident", ["parent_incident"])


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_parent_incident")
        batch.drop_column("parent_incident")
