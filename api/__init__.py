"""Room: api (HTTP edge) — the FastAPI app: alerts in, engineers act, managers see (api/app.py)."""
