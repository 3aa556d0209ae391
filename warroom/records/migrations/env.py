"""Alembic environment: migrations run on the connection warroom hands over (warroom.records.create_schema),
never on a URL read from an ini file.

Room: records (warroom/records/migrations).
"""

from __future__ import annotations

from alembic import context

from warroom.records.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
