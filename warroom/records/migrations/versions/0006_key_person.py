"""API keys belong to a person: the name the timeline records for what the key does.

Revision ID: 0006
Revises: 0005

Room: records (warroom/records/migrations). Nullable: a key made before this revision has no
person and acts as its own name (api.deps.actor_of), so existing keys keep working.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("person")
