"""The `warroom` command (Typer). Room: CLI, a composition root: the only part of warroom/
allowed to import api/ and worker.py. The app is warroom.cli.main:app."""
