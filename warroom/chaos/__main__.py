"""`python -m warroom.chaos`: the chaos harness (warroom/chaos/main.py)."""

from warroom.chaos.main import main

raise SystemExit(main())
