"""The chaos harness: a whole warroom stack on this machine, killed at random moments, and a
checker that counts what was lost (issue 14; docs/chaos.md).

Room: shared library (warroom/), a composition root of its own, like warroom/cli/dev.py: it
starts the Temporal dev server, the workers (`python worker.py`), the API (uvicorn), a loopback
receiver and the records database as separate processes, drives incidents through the API, and
reads Temporal, the records and the receiver to check them. It imports nothing from api/ or
worker.py: it runs them.

- `stack`: the processes (start, SIGKILL, restart, wait until ready) and when each was down;
- `receiver`: the loopback HTTP receiver every person's contact point points at;
- `drive`: one round of random incidents, repeats, storms, engineer actions, source resolves
  and kills, then the closing of every incident of the round;
- `check`: the figures of a round, from Temporal's histories, the records and the receiver;
- `main`: `scripts/chaos` / `python -m warroom.chaos`: rounds, the table, the exit status.
"""
