"""Alembic migrations of the records schema. Room: records (warroom/records)."""
