"""`python -m warroom.cli`. Room: CLI (composition root)."""

from warroom.cli.main import app

app()
