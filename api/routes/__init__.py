"""Room: api (HTTP edge) — one router per area, included by api/app.py.

runbooks, metrics, reports and oncall get their roles where they are included; health,
alerts, incidents, keys and integrations check the caller in each route (api/deps.py).
"""
